"""Password hashing policy (bcrypt or argon2id), rehash on login, tokenKey rotation, and
brute-force throttling of password logins."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.conftest import Api

#: "password123" as hashed by PocketBase 0.40 itself (bcrypt, cost 10, Go's $2a$ prefix)
POCKETBASE_HASH = "$2a$10$0XZ1mbaQpqgvQyiBJIstvuTufmRSBREut/GekcS77Or76nIxq0SKG"
#: argon2id parameters small enough for tests
FAST_ARGON2 = {
    "algorithm": "argon2id",
    "argon2TimeCost": 1,
    "argon2MemoryCost": 8192,
    "argon2Parallelism": 1,
}
FAILED = {"data": {}, "message": "Failed to authenticate.", "status": 400}


async def create_user(api: Api, email: str, password: str = "password123") -> str:
    body = {"email": email, "password": password, "passwordConfirm": password}
    res = await api.call("POST", "/api/collections/users/records", json=body)
    assert res.status_code == 200, res.text
    return str(res.json()["id"])


async def stored(api: Api, user_id: str) -> dict[str, Any]:
    row = await api.app.db.fetch_one(
        'SELECT "password", "tokenKey" FROM "users" WHERE "id" = :id', {"id": user_id}
    )
    return {"password": row["password"], "tokenKey": row["tokenKey"]}


async def set_roost_auth(api: Api, **sections: Any) -> None:
    res = await api.su("PATCH", "/api/settings", json={"roostAuth": sections})
    assert res.status_code == 200, res.text


async def login(api: Api, identity: str, password: str, **kwargs: Any) -> Any:
    body = {"identity": identity, "password": password}
    return await api.call("POST", "/api/collections/users/auth-with-password", json=body, **kwargs)


async def test_settings_expose_the_roost_key_with_defaults(api: Api) -> None:
    data = (await api.su("GET", "/api/settings")).json()
    assert data["roostAuth"]["passwordHash"]["algorithm"] == "bcrypt"
    assert data["roostAuth"]["loginThrottle"]["enabled"] is True
    assert data["rateLimits"]["enabled"] is False  # PocketBase's keys keep their defaults


INVALID = [
    ({"passwordHash": {"algorithm": "md5"}}, {"passwordHash": {"algorithm": {"code": "validation_in_invalid", "message": "Must be a valid value."}}}),
    ({"passwordHash": {"argon2MemoryCost": 16}}, {"passwordHash": {"argon2MemoryCost": {
        "code": "validation_min_greater_equal_than_required", "message": "Must be no less than 8192.", "params": {"threshold": 8192}}}}),
    ({"loginThrottle": {"maxFailures": 0}}, {"loginThrottle": {"maxFailures": {
        "code": "validation_min_greater_equal_than_required", "message": "Must be no less than 1.", "params": {"threshold": 1}}}}),
]  # fmt: skip


@pytest.mark.parametrize(("patch", "expected"), INVALID)
async def test_invalid_roost_auth_settings(
    api: Api, patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    res = await api.su("PATCH", "/api/settings", json={"roostAuth": patch})
    assert res.status_code == 400
    assert res.json()["data"] == {"roostAuth": expected}


async def test_bcrypt_by_default_like_pocketbase(api: Api) -> None:
    user = await create_user(api, "ann@example.com")
    assert (await stored(api, user))["password"].startswith("$2a$10$")


async def test_argon2id_policy_hashes_new_passwords(api: Api) -> None:
    await set_roost_auth(api, passwordHash=FAST_ARGON2)
    user = await create_user(api, "ann@example.com")
    assert (await stored(api, user))["password"].startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert (await login(api, "ann@example.com", "password123")).status_code == 200


async def test_pocketbase_hash_verifies_and_is_rehashed_on_login(api: Api) -> None:
    user = await create_user(api, "ann@example.com", "another-password")
    async with api.app.db.transaction() as conn:
        await conn.execute(
            'UPDATE "users" SET "password" = :p WHERE "id" = :id',
            {"p": POCKETBASE_HASH, "id": user},
        )
    token = await api.login("users", "ann@example.com", "password123")  # bcrypt policy: kept as is
    assert (await stored(api, user))["password"] == POCKETBASE_HASH
    await set_roost_auth(api, passwordHash=FAST_ARGON2)
    assert (await login(api, "ann@example.com", "wrong-password")).status_code == 400
    assert (await stored(api, user))[
        "password"
    ] == POCKETBASE_HASH  # a failed login changes nothing
    before = await stored(api, user)
    assert (await login(api, "ann@example.com", "password123")).status_code == 200
    after = await stored(api, user)
    assert after["password"].startswith("$argon2id$")
    assert after["tokenKey"] == before["tokenKey"]  # same password, so existing tokens stay valid
    assert (
        await api.call("POST", "/api/collections/users/auth-refresh", token=token)
    ).status_code == 200
    # and back: an argon2id hash is rehashed to bcrypt when the policy returns to bcrypt
    await set_roost_auth(api, passwordHash={"algorithm": "bcrypt"})
    assert (await login(api, "ann@example.com", "password123")).status_code == 200
    assert (await stored(api, user))["password"].startswith("$2a$10$")


async def test_bcrypt_cost_change_rehashes(api: Api) -> None:
    user = await create_user(api, "ann@example.com")
    fields = (await api.su("GET", "/api/collections/users")).json()["fields"]
    for field in fields:
        if field["name"] == "password":
            field["cost"] = 5
    assert (
        await api.su("PATCH", "/api/collections/users", json={"fields": fields})
    ).status_code == 200
    assert (await login(api, "ann@example.com", "password123")).status_code == 200
    assert (await stored(api, user))["password"].startswith("$2a$05$")


@pytest.mark.parametrize("change", ["password", "email"])
async def test_password_or_email_change_rotates_the_token_key(api: Api, change: str) -> None:
    user = await create_user(api, "ann@example.com")
    token = await api.login("users", "ann@example.com", "password123")
    key = (await stored(api, user))["tokenKey"]
    body: dict[str, Any] = {
        "password": "new-password1",
        "passwordConfirm": "new-password1",
        "oldPassword": "password123",
    }
    if change == "email":
        body = {"email": "ann2@example.com"}
    res = await api.su("PATCH", f"/api/collections/users/records/{user}", json=body)
    assert res.status_code == 200, res.text
    assert (await stored(api, user))["tokenKey"] != key
    assert (
        await api.call("POST", "/api/collections/users/auth-refresh", token=token)
    ).status_code == 401


# --- brute-force throttling --------------------------------------------------------------------

STRICT = {
    "enabled": True,
    "freeFailures": 2,
    "maxFailures": 4,
    "maxFailuresPerIP": 100,
    "window": 60,
    "slowdownMs": 0,
}


@pytest.fixture
async def throttled(api: Api) -> Api:
    await create_user(api, "ann@example.com")
    await set_roost_auth(api, loginThrottle=STRICT)
    return api


async def test_lockout_after_failures_looks_like_a_wrong_password(throttled: Api) -> None:
    variants = ["ann@example.com", "ANN@example.com", " Ann@Example.com ", "ann@EXAMPLE.com"]
    for identity in variants:  # case variants count against the same identity
        res = await login(throttled, identity, "wrong-password")
        assert (res.status_code, res.json()) == (400, FAILED)
    res = await login(throttled, "ann@example.com", "password123")
    assert (res.status_code, res.json()) == (400, FAILED)


async def test_unknown_identities_behave_the_same(throttled: Api) -> None:
    answers = {}
    for identity in ("ann@example.com", "nobody@example.com"):
        answers[identity] = [
            (await login(throttled, identity, "wrong-password")).json()
            for _ in range(STRICT["maxFailures"] + 1)
        ]
    assert answers["ann@example.com"] == answers["nobody@example.com"] == [FAILED] * 5


async def test_unknown_identities_cost_a_password_check(
    throttled: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from roost.core.auth import throttle

    checked: list[str] = []
    real = throttle.verify_password
    monkeypatch.setattr(
        throttle,
        "verify_password",
        lambda plain, hashed: checked.append(hashed) or real(plain, hashed),
    )
    await login(throttled, "nobody@example.com", "wrong-password")
    await set_roost_auth(throttled, passwordHash=FAST_ARGON2)
    await login(throttled, "nobody@example.com", "wrong-password")
    assert [h[:4] for h in checked] == ["$2a$", "$arg"]  # a real hash of the policy's kind


async def test_success_clears_the_count(throttled: Api) -> None:
    for _ in range(3):
        for _ in range(STRICT["maxFailures"] - 1):
            assert (await login(throttled, "ann@example.com", "wrong-password")).status_code == 400
        assert (await login(throttled, "ann@example.com", "password123")).status_code == 200


async def test_lockout_ends_with_the_window(throttled: Api) -> None:
    # the window is long enough that the failed logins (each one hashes a password) all fall
    # inside it on a loaded machine; waiting out a whole window after the last one lifts the lock
    await set_roost_auth(throttled, loginThrottle={**STRICT, "window": 4})
    for _ in range(STRICT["maxFailures"]):
        await login(throttled, "ann@example.com", "wrong-password")
    assert (await login(throttled, "ann@example.com", "password123")).status_code == 400
    await asyncio.sleep(4.2)
    assert (await login(throttled, "ann@example.com", "password123")).status_code == 200


async def test_per_ip_limit_uses_the_trusted_client_ip(throttled: Api) -> None:
    await set_roost_auth(throttled, loginThrottle={**STRICT, "maxFailuresPerIP": 3})
    await throttled.su("PATCH", "/api/settings", json={"trustedProxy": {"headers": ["X-Real-IP"]}})
    attacker = {"X-Real-IP": "10.0.0.66"}
    for n in range(3):  # three different identities from one IP
        await login(throttled, f"guess{n}@example.com", "wrong-password", headers=attacker)
    assert (
        await login(throttled, "ann@example.com", "password123", headers=attacker)
    ).status_code == 400
    assert (
        await login(throttled, "ann@example.com", "password123", headers={"X-Real-IP": "10.0.0.7"})
    ).status_code == 200


async def test_replies_slow_down_after_the_free_failures(throttled: Api) -> None:
    await set_roost_auth(throttled, loginThrottle={**STRICT, "freeFailures": 1, "slowdownMs": 300})
    await login(throttled, "ann@example.com", "wrong-password")
    started = time.monotonic()
    await login(throttled, "ann@example.com", "wrong-password")
    assert time.monotonic() - started >= 0.3


async def test_throttle_can_be_switched_off(throttled: Api) -> None:
    await set_roost_auth(throttled, loginThrottle={**STRICT, "enabled": False})
    for _ in range(STRICT["maxFailures"] + 2):
        await login(throttled, "ann@example.com", "wrong-password")
    assert (await login(throttled, "ann@example.com", "password123")).status_code == 200
