"""A number field against a text field compares as on SQLite (suite S2, known gap).

SQLite (so PocketBase) applies NUMERIC affinity to the text column: numeric-looking text is
compared as a number, any other text sorts after every number, so ``views < title`` holds for
``views = 0, title = ''``. The typed dialects convert the text to a number first, and a
non-numeric text becomes NULL there: PostgreSQL and MySQL answer false. The compiler settles
such class clashes only when one side is a literal (``_class_clash``); doing it for two columns
needs a run-time CASE on every mixed comparison, so this stays a strict expected failure.
"""

from __future__ import annotations

import pytest

from tests.conftest import Api

POSTS = "/api/collections/posts/records"


async def test_number_field_against_text_field(api: Api, backend: str, request: pytest.FixtureRequest) -> None:
    if backend != "sqlite":
        reason = f"{backend} turns a non-numeric text into NULL instead of sorting it after numbers"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    res = await api.su("POST", "/api/collections", json={
        "name": "posts", "type": "base", "listRule": "",
        "fields": [{"type": "text", "name": "title"}, {"type": "number", "name": "views"}]})  # fmt: skip
    assert res.status_code == 200, res.text
    for title, views in (("", 0), ("x", 5), ("3", 5), ("7", 5)):
        assert (await api.su("POST", POSTS, json={"title": title, "views": views})).status_code == 200
    answers = {}
    for source in ("views < title", "views > title", "views = title", "views != title"):
        res = await api.call("GET", POSTS, params={"filter": source})
        assert res.status_code == 200, res.text
        answers[source] = sorted(item["title"] for item in res.json()["items"])
    assert answers == {
        "views < title": ["", "7", "x"],
        "views > title": ["3"],
        "views = title": [],
        "views != title": ["", "3", "7", "x"],
    }
