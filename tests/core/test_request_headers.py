"""``RequestInfo.headers`` over a request's raw header pairs, decoded when first read."""

from __future__ import annotations

from roost.core.events import RequestHeaders, RequestInfo

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
