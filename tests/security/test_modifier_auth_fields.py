"""Field modifiers never reach fields whose type takes no modifier (issue 9, defect 1).

``verified+``, ``+password``, ``email-`` ... are ignored on every transport, as PocketBase finds
no setter for them: they must not verify an account or change its e-mail or password.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Api

Send = Callable[[Api, str, str, dict[str, Any], str | None], Awaitable[httpx.Response]]


def _form(body: dict[str, Any]) -> dict[str, str]:
    return {k: orjson.dumps(v).decode() if isinstance(v, bool) else str(v) for k, v in body.items()}


async def _json(api: Api, method: str, url: str, body: dict[str, Any], token: str | None) -> httpx.Response:
    return await api.call(method, url, token=token, json=body)


async def _multipart(api: Api, method: str, url: str, body: dict[str, Any], token: str | None) -> httpx.Response:
    files = {k: (None, v) for k, v in _form(body).items()}
    return await api.call(method, url, token=token, files=files)


async def _json_payload(api: Api, method: str, url: str, body: dict[str, Any], token: str | None) -> httpx.Response:
    files = {"@jsonPayload": (None, orjson.dumps(body).decode())}
    return await api.call(method, url, token=token, files=files)


async def _batch(api: Api, method: str, url: str, body: dict[str, Any], token: str | None) -> httpx.Response:
    assert (await api.su("PATCH", "/api/settings", json={"batch": {"enabled": True}})).status_code == 200
    res = await api.call("POST", "/api/batch", token=token, json={"requests": [{"method": method, "url": url, "body": body}]})
    if res.status_code != 200:
        return res
    item = res.json()[0]
    return httpx.Response(item["status"], json=item["body"])


TRANSPORTS: dict[str, Send] = {"json": _json, "multipart": _multipart, "jsonPayload": _json_payload, "batch": _batch}
VERIFIED_KEYS = ["verified+", "+verified", "verified-"]
PASSWORD_KEYS = ["password+", "+password", "password-"]
EMAIL_KEYS = ["email+", "+email", "email-"]


async def _stored(api: Api, record_id: str) -> dict[str, Any]:
    res = await api.su("GET", f"/api/collections/users/records/{record_id}")
    assert res.status_code == 200, res.text
    data: dict[str, Any] = res.json()
    return data


async def _signed_up(api: Api, email: str) -> tuple[str, str]:
    res = await api.call(
        "POST", "/api/collections/users/records",
        json={"email": email, "password": "original123", "passwordConfirm": "original123"},
    )  # fmt: skip
    assert res.status_code == 200, res.text
    return res.json()["id"], await api.login("users", email, "original123")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("key", VERIFIED_KEYS)
async def test_signup_cannot_verify_itself_through_a_modifier(api: Api, transport: str, key: str) -> None:
    email = f"new-{transport}@example.com"
    body = {"email": email, "password": "original123", "passwordConfirm": "original123", key: True}
    res = await TRANSPORTS[transport](api, "POST", "/api/collections/users/records", body, None)
    assert res.status_code == 200, res.text
    assert res.json()["verified"] is False
    assert (await _stored(api, res.json()["id"]))["verified"] is False


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_owner_cannot_change_email_or_password_through_modifiers(api: Api, transport: str) -> None:
    record_id, token = await _signed_up(api, f"owner-{transport}@example.com")
    for key in PASSWORD_KEYS + EMAIL_KEYS + VERIFIED_KEYS:
        value: Any = True if key in VERIFIED_KEYS else "hijacked123" if key in PASSWORD_KEYS else "attacker@evil.test"
        res = await TRANSPORTS[transport](api, "PATCH", f"/api/collections/users/records/{record_id}", {key: value}, token)
        assert res.status_code == 200, (key, res.text)
    stored = await _stored(api, record_id)
    assert stored["email"] == f"owner-{transport}@example.com"
    assert stored["verified"] is False
    await api.login("users", f"owner-{transport}@example.com", "original123")
    wrong = await api.call(
        "POST", "/api/collections/users/auth-with-password",
        json={"identity": f"owner-{transport}@example.com", "password": "hijacked123"},
    )  # fmt: skip
    assert wrong.status_code == 400


async def test_modifiers_still_work_where_the_field_type_takes_them(api: Api) -> None:
    res = await api.su(
        "POST", "/api/collections",
        json={"name": "counts", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "fields": [
            {"name": "n", "type": "number"},
            {"name": "tags", "type": "select", "maxSelect": 3, "values": ["a", "b", "c"]},
            {"name": "flag", "type": "bool"},
        ]},
    )  # fmt: skip
    assert res.status_code == 200, res.text
    created = await api.call("POST", "/api/collections/counts/records", json={"n": 1, "tags": ["b"]})
    rid = created.json()["id"]
    res = await api.call(
        "PATCH", f"/api/collections/counts/records/{rid}", json={"n+": 2, "+tags": ["a"], "tags+": ["c"], "flag+": True}
    )
    assert res.status_code == 200, res.text
    assert res.json()["n"] == 3 and res.json()["tags"] == ["a", "b", "c"] and res.json()["flag"] is False
    res = await api.call("PATCH", f"/api/collections/counts/records/{rid}", json={"n-": 5, "tags-": ["b"], "+n": 100})
    assert res.json()["n"] == -2 and res.json()["tags"] == ["a", "c"]


async def test_a_plain_verified_key_from_a_non_manager_is_still_refused(api: Api) -> None:
    body = {"email": "plain@example.com", "password": "original123", "passwordConfirm": "original123", "verified": True}
    res = await api.call("POST", "/api/collections/users/records", json=body)
    assert res.status_code == 400
    assert res.json()["data"]["verified"]["code"] == "validation_values_mismatch"
