"""Numbers past 64-bit integers (integral floats up to 1e21 and beyond) are stored and answered, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import Api

NUMS = {"name": "nums", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "",
        "fields": [{"name": "n", "type": "number"}, {"name": "j", "type": "json"}]}  # fmt: skip


@pytest.mark.parametrize("value", [1e20, -1e20, 1e19, 2.0**63, 9.9e20, 1e21, 1.5e300])
async def test_huge_integral_numbers_round_trip(api: Api, value: float) -> None:
    await api.create_collection(NUMS)
    created = await api.call("POST", "/api/collections/nums/records", json={"n": value, "j": {"x": value}})
    assert created.status_code == 200, created.text
    assert created.json()["n"] == value and created.json()["j"] == {"x": value}
    record_id = created.json()["id"]
    viewed = await api.call("GET", f"/api/collections/nums/records/{record_id}")
    assert viewed.status_code == 200 and viewed.json()["n"] == value
    updated = await api.call("PATCH", f"/api/collections/nums/records/{record_id}", json={"n+": value})
    assert updated.status_code == 200, updated.text
    assert updated.json()["n"] == value * 2
    listed = await api.call("GET", "/api/collections/nums/records", params={"filter": "n != 0"})
    assert listed.status_code == 200, listed.text
    assert [item["n"] for item in listed.json()["items"]] == [value * 2]
