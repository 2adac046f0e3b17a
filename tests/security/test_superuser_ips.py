"""``superuserIPs`` (PocketBase's allowlist): superusers act only from the listed addresses.

The caller's address is the real IP: here the in-process client's peer is 127.0.0.1 and the
``trustedProxy`` settings name ``X-Real-IP``, so each request can speak for another address.
Expected answers were read from PocketBase 0.40.6.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"])

DENIED = {"data": {}, "message": "You are not allowed to perform this request.", "status": 403}
INSIDE = {"X-Real-IP": "10.20.30.40"}
OUTSIDE = {"X-Real-IP": "198.51.100.9"}
SU_LOGIN = {"identity": "su@example.com", "password": "password123"}


async def _allow_only_10_slash_8(api: Api) -> None:
    res = await api.su("PATCH", "/api/settings", json={
        "trustedProxy": {"headers": ["X-Real-IP"], "useLeftmostIP": False},
        "superuserIPs": ["10.0.0.0/8", "192.0.2.1"],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    assert res.json()["superuserIPs"] == ["10.0.0.0/8", "192.0.2.1"]


async def test_a_superuser_token_from_an_unlisted_ip_is_refused_on_every_route(api: Api) -> None:
    await _allow_only_10_slash_8(api)
    for method, url in [("GET", "/api/settings"), ("GET", "/api/health"), ("GET", "/api/collections"),
                        ("GET", "/api/collections/users/records"), ("POST", "/api/realtime"),
                        ("POST", "/api/files/token"), ("GET", "/api/nope")]:  # fmt: skip
        res = await api.su(method, url, headers=OUTSIDE)
        assert (res.status_code, res.json()) == (403, DENIED), (method, url, res.text)
    res = await api.su("POST", "/api/collections/_superusers/auth-refresh", headers=OUTSIDE)
    assert (res.status_code, res.json()) == (403, DENIED)
    inside = await api.su("GET", "/api/settings", headers=INSIDE)
    assert inside.status_code == 200
    exact = await api.su("GET", "/api/settings", headers={"X-Real-IP": "192.0.2.1"})
    assert exact.status_code == 200
    guest = await api.call("GET", "/api/health", headers=OUTSIDE)
    assert guest.status_code == 200 and guest.json()["message"] == "API is healthy."


async def test_a_superuser_login_from_an_unlisted_ip_is_refused(api: Api) -> None:
    await _allow_only_10_slash_8(api)
    url = "/api/collections/_superusers/auth-with-password"
    refused = await api.call("POST", url, json=SU_LOGIN, headers=OUTSIDE)
    assert (refused.status_code, refused.json()) == (403, DENIED)
    wrong = await api.call("POST", url, json={**SU_LOGIN, "password": "nope-nope-nope"}, headers=OUTSIDE)
    assert wrong.status_code == 400  # the password is checked first, as in PocketBase
    assert (await api.call("POST", url, json=SU_LOGIN, headers=INSIDE)).status_code == 200


async def test_other_auth_records_are_not_affected(api: Api) -> None:
    await _allow_only_10_slash_8(api)
    user = {"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}
    created = await api.su("POST", "/api/collections/users/records", json=user, headers=INSIDE)
    assert created.status_code == 200, created.text
    login = await api.call("POST", "/api/collections/users/auth-with-password", headers=OUTSIDE,
                           json={"identity": "u@example.com", "password": "password123"})  # fmt: skip
    assert login.status_code == 200, login.text
    me = await api.call("GET", f"/api/collections/users/records/{created.json()['id']}", headers=OUTSIDE,
                        token=login.json()["token"])  # fmt: skip
    assert me.status_code == 200


async def test_clearing_the_list_lets_every_address_in_again(api: Api) -> None:
    await _allow_only_10_slash_8(api)
    assert (await api.su("GET", "/api/settings", headers=OUTSIDE)).status_code == 403
    cleared = await api.su("PATCH", "/api/settings", json={"superuserIPs": None}, headers=INSIDE)
    assert cleared.status_code == 200 and cleared.json()["superuserIPs"] == []
    assert (await api.su("GET", "/api/settings", headers=OUTSIDE)).status_code == 200


async def test_the_list_is_validated_like_pocketbase(api: Api) -> None:
    res = await api.su("PATCH", "/api/settings", json={"superuserIPs": ["", "1.2.3.4/33", "::1", "10.0.0.0/8", "x"]})
    assert res.status_code == 400
    assert res.json() == {
        "data": {"superuserIPs": {
            "0": {"code": "validation_required", "message": "Cannot be blank."},
            "1": {"code": "validation_invlaid_ip_or_subnet", "message": "Invalid IP or CIDR subnet."},
            "4": {"code": "validation_invlaid_ip_or_subnet", "message": "Invalid IP or CIDR subnet."},
        }},
        "message": "An error occurred while saving the new settings.",
        "status": 400,
    }  # fmt: skip
    not_a_list = await api.su("PATCH", "/api/settings", json={"superuserIPs": "10.0.0.1"})
    assert (not_a_list.status_code, not_a_list.json()["message"]) == (400, "An error occurred while loading the submitted data.")
    assert (await api.su("GET", "/api/settings")).json()["superuserIPs"] == []


def test_the_cli_resets_the_list_after_a_lockout(backend: str, tmp_path: Path) -> None:
    if backend != "sqlite":
        pytest.skip("the CLI path is the same on every database")
    roost = [str(Path(sys.executable).parent / "roost")]
    data = str(tmp_path / "d")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*roost, *args, "--dir", data], capture_output=True, text=True, timeout=60)

    locked = run("superuser", "ips", "10.0.0.0/8", "2001:db8::/32")
    assert locked.returncode == 0 and "10.0.0.0/8, 2001:db8::/32" in locked.stdout, locked.stderr
    bad = run("superuser", "ips", "not-an-ip")
    assert bad.returncode == 1 and "Invalid IP or CIDR subnet" in bad.stderr and "Traceback" not in bad.stderr
    cleared = run("superuser", "ips")
    assert cleared.returncode == 0 and "cleared" in cleared.stdout
