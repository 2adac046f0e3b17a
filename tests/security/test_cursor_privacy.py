"""Keyset cursors never carry a value the caller could not read (issue 9, defect 2).

A guest lists users and posts sorted by the users' hidden e-mails; the ``nextCursor`` (and the
whole response) must not contain an address, in plain text or under any base64 alphabet.
"""

from __future__ import annotations

import base64
import binascii

import pytest

from tests.conftest import Api

EMAILS = [f"hidden{n}@secret.test" for n in range(4)]
INVALID = "The cursor is invalid or does not belong to this collection and sort."


def _decodings(text: str) -> list[bytes]:
    """``text`` and every base64 reading of it and of its dot-separated parts."""
    found = [text.encode()]
    for part in [text, *text.split(".")]:
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            for pad in range(4):
                try:
                    found.append(decode(part + "=" * pad))
                except (binascii.Error, ValueError):
                    continue
    return found


def _leaks(text: str) -> bool:
    blobs = [blob.lower() for blob in _decodings(text)]
    return any(marker in blob for blob in blobs for marker in (b"secret.test", b"hidden"))


@pytest.fixture
async def hidden(api: Api) -> Api:
    """Public ``users`` (emailVisibility false) and ``posts`` with an ``author`` relation to them."""
    users = await api.su("PATCH", "/api/collections/users", json={"listRule": "", "viewRule": ""})
    assert users.status_code == 200, users.text
    res = await api.su("POST", "/api/collections", json={
        "name": "posts", "listRule": "", "viewRule": "", "fields": [
            {"name": "title", "type": "text"},
            {"name": "author", "type": "relation", "collectionId": users.json()["id"], "maxSelect": 1},
        ],
    })  # fmt: skip
    assert res.status_code == 200, res.text
    for n, email in enumerate(EMAILS):
        user = await api.su("POST", "/api/collections/users/records", json={
            "email": email, "password": "password123", "passwordConfirm": "password123", "emailVisibility": False,
        })  # fmt: skip
        assert user.status_code == 200, user.text
        post = await api.su("POST", "/api/collections/posts/records", json={"title": f"t{n}", "author": user.json()["id"]})
        assert post.status_code == 200, post.text
    return api


@pytest.mark.parametrize(("collection", "sort"), [("users", "email"), ("users", "-email"), ("posts", "author.email"),
                                                  ("posts", "-author.email,title")])
async def test_a_guest_cursor_never_carries_a_hidden_email(hidden: Api, collection: str, sort: str) -> None:
    cursor, pages = "", 0
    while cursor is not None and pages < len(EMAILS) + 1:  # bounded: one record a page
        res = await hidden.call("GET", f"/api/collections/{collection}/records",
                                params={"cursor": cursor, "sort": sort, "perPage": 1})
        if res.status_code == 400:  # refusing the sort is also private
            assert not _leaks(res.text)
            return
        assert res.status_code == 200, res.text
        assert not _leaks(res.text), res.text
        cursor, pages = res.json()["nextCursor"], pages + 1
        assert cursor is None or not _leaks(cursor), cursor
    assert pages >= 2  # the walk really went through cursors


async def test_a_tampered_cursor_is_a_400_envelope(hidden: Api) -> None:
    res = await hidden.call("GET", "/api/collections/posts/records", params={"cursor": "", "sort": "title", "perPage": 1})
    cursor = res.json()["nextCursor"]
    flipped = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    for bad in (flipped, cursor[:-2], cursor + "x", "e30", "a.b", ""):
        if bad == "":
            continue
        res = await hidden.call("GET", "/api/collections/posts/records", params={"cursor": bad, "sort": "title"})
        assert res.status_code == 400, (bad, res.text)
        assert res.json()["message"] == INVALID
        assert res.json()["data"]["cursor"]["code"] == "validation_invalid_cursor"
