"""Rules compare text by code point on every backend, as PocketBase (SQLite) does (suite S2).

Found by ``test_rule_engine_property.py``: on MySQL/MariaDB, SQLAlchemy's own ``SET NAMES
utf8mb4`` on connect replaced the session's binary collation with ``utf8mb4_general_ci``, so
two request values (``@request.auth.id > '_'``, ``'a' > 'B'``) compared case-insensitively and
with padding: a rule could let through, or hide, what it does not on SQLite.
"""

from __future__ import annotations

import pytest

from tests.conftest import Api

POSTS = "/api/collections/posts/records"

#: (rule, holds on SQLite/PocketBase)
CASES = [
    ("@request.auth.id > '_'", True),  # 'u' (0x75) sorts after '_' (0x5F)
    ("'a' > 'B'", True),  # lower case sorts after upper case
    ("'a' = 'A'", False),
    ("'a ' = 'a'", False),  # no padding
    ("@request.auth.email != 'U1@EXAMPLE.COM'", True),
]


@pytest.fixture
async def user_token(api: Api) -> str:
    res = await api.su("POST", "/api/collections", json={
        "name": "posts", "type": "base", "fields": [{"type": "text", "name": "title"}]})  # fmt: skip
    assert res.status_code == 200, res.text
    assert (await api.su("POST", POSTS, json={"title": "x"})).status_code == 200
    body = {"id": "usr000000000001", "email": "u1@example.com", "password": "password123",
            "passwordConfirm": "password123"}  # fmt: skip
    assert (await api.su("POST", "/api/collections/users/records", json=body)).status_code == 200
    return await api.login("users", "u1@example.com", "password123")


@pytest.mark.parametrize(("rule", "holds"), CASES)
async def test_static_text_comparison(api: Api, user_token: str, rule: str, holds: bool) -> None:
    res = await api.su("PATCH", "/api/collections/posts", json={"listRule": rule})
    assert res.status_code == 200, res.text
    res = await api.call("GET", POSTS, token=user_token)
    assert res.status_code == 200, res.text
    assert res.json()["totalItems"] == (1 if holds else 0)
