"""``~`` folds only ASCII case, as PocketBase's SQLite LIKE does (suite S2, known gap).

PostgreSQL's ILIKE and MySQL's LOWER() also fold non-ASCII letters, so ``title ~ 'é'`` matches
``'É'`` there but not on SQLite/PocketBase. A rule such as ``name !~ 'É'`` can then hide or let
through more on those backends. Fixing it means ASCII-only case folding in both dialects
(TRANSLATE on PostgreSQL, 26 nested REPLACEs on MySQL) and losing ILIKE's trigram indexes, so
it is marked as a strict expected failure until that trade-off is decided.
"""

from __future__ import annotations

import pytest

from tests.conftest import Api

POSTS = "/api/collections/posts/records"


async def test_like_folds_ascii_case_only(api: Api, backend: str, request: pytest.FixtureRequest) -> None:
    if backend != "sqlite":
        reason = f"{backend} folds non-ASCII case in ~ (ILIKE / LOWER), SQLite does not"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    res = await api.su("POST", "/api/collections", json={
        "name": "posts", "type": "base", "listRule": "", "fields": [{"type": "text", "name": "title"}]})  # fmt: skip
    assert res.status_code == 200, res.text
    for title in ("É", "é", "A", "a"):
        assert (await api.su("POST", POSTS, json={"title": title})).status_code == 200
    titles = {}
    for pattern in ("é", "a"):
        res = await api.call("GET", POSTS, params={"filter": f"title ~ '{pattern}'"})
        assert res.status_code == 200, res.text
        titles[pattern] = sorted(item["title"] for item in res.json()["items"])
    assert titles == {"é": ["é"], "a": ["A", "a"]}
