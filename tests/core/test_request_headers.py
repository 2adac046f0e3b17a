"""``RequestInfo.headers`` over a request's raw header pairs, decoded when first read."""

from __future__ import annotations

from pathlib import Path

from roost.core.events import RequestHeaders, RequestInfo
from roost.testing import make_test_app

RAW = [(b"X-Token", b"abc"), (b"user-agent", b"curl/8.0"), (b"x-repeated", b"one"), (b"X-Repeated", b"two"),
       (b"x-latin", "caf\u00e9".encode("latin-1"))]  # fmt: skip


def test_headers_read_as_the_rule_language_names_them() -> None:
    headers = RequestHeaders(RAW)
    assert headers["x_token"] == "abc"
    assert headers.get("user_agent") == "curl/8.0"
    assert headers.get("x_repeated") == "two"  # a repeated header keeps its last value
    assert headers["x_latin"] == "caf\u00e9"
    assert headers.get("authorization", "") == ""
    assert "x_token" in headers and "X-Token" not in headers
    assert dict(headers) == {"x_token": "abc", "user_agent": "curl/8.0", "x_repeated": "two", "x_latin": "caf\u00e9"}
    assert len(headers) == 4
    assert headers == {"x_token": "abc", "user_agent": "curl/8.0", "x_repeated": "two", "x_latin": "caf\u00e9"}


def test_nothing_is_decoded_until_a_header_is_read() -> None:
    raw = list(RAW)
    info = RequestInfo(headers=RequestHeaders(raw))
    raw.append((b"x-late", b"seen"))  # the pairs are read at the first lookup, not before
    assert info.headers.get("x_late") == "seen"


async def test_rules_read_the_headers_of_a_request(tmp_path: Path) -> None:
    """A rule naming ``@request.headers.*`` sees the request's own headers, in a list filter
    (SQL) and on a delete, and a missing header is unset."""
    async with make_test_app(tmp_path) as api:
        await api.create_collection({"name": "notes", "type": "base", "fields": [{"name": "title", "type": "text"}],
                                     "listRule": "@request.headers.x_team = 'blue'", "viewRule": "",
                                     "deleteRule": "@request.headers.x_confirm = 'yes' && @request.headers.x_nope:isset = false"})  # fmt: skip
        note = await api.create_record("notes", {"title": "one"})
        listed = await api.call("GET", "/api/collections/notes/records", headers={"X-Team": "blue"})
        assert listed.status_code == 200 and listed.json()["totalItems"] == 1
        other = await api.call("GET", "/api/collections/notes/records", headers={"X-Team": "red"})
        assert other.status_code == 200 and other.json()["totalItems"] == 0
        url = f"/api/collections/notes/records/{note['id']}"
        assert (await api.call("DELETE", url, headers={"X-Confirm": "no"})).status_code == 404
        assert (await api.call("DELETE", url, headers={"X-Confirm": "yes"})).status_code == 204
        assert (await api.call("GET", url)).status_code == 404
