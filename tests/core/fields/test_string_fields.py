from __future__ import annotations

from typing import Any

import pytest

from roost.core.schema.fields import AutodateField, DateField, now_string

from ._helpers import definition_errors, err, make

REQUIRED = {"code": "validation_required", "message": "Cannot be blank."}
INVALID_EMAIL = {"code": "validation_is_email", "message": "Must be a valid email address."}
INVALID_URL = {"code": "validation_invalid_url", "message": "Must be a valid url."}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("a@b", False), ("a@b.c", True), ("a.@b.com", False), (".a@b.com", False),
        ("a..b@c.com", False), ("a b@c.com", False), ("A@B.COM", True), ("a@-b.com", False),
        ("a@b_c.com", True), ('"q"@b.com', True), ("ü@b.com", True), ("a+b@c.co", True),
        ("a@b.c.", True), ("a@xn--bcher-kva.ch", True),
    ],
)
def test_email_format(value: str, ok: bool) -> None:
    assert err(make({"type": "email"}), value) == (None if ok else INVALID_EMAIL)


def test_email_domains() -> None:
    only = make({"type": "email", "onlyDomains": ["x.com"]})
    denied = {"code": "validation_email_domain_not_allowed", "message": "Email domain is not allowed."}
    assert err(only, "a@y.com") == denied
    assert err(only, "a@x.com") is None
    assert err(make({"type": "email", "exceptDomains": ["y.com"]}), "a@y.com") == denied
    assert err(make({"type": "email", "required": True}), "") == REQUIRED


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("http://x", True), ("http://x.com", True), ("https://x.com/a?b=1#c", True),
        ("ftp://x.com", True), ("x.com", True), ("//x.com", False), ("http://localhost:8090", True),
        ("mailto:a@b.com", True), ("http://1.2.3.4", True), ("http://x.com:99999", True),
        ("javascript:alert(1)", False), ("http://ü.com", True), ("https://a_b.com", True),
        ("http:/x.com", False), ("http://x .com", False), ("HTTP://X.COM", False),
        ("https://x.com/ü", True), ("abc", False),
    ],
)
def test_url_format(value: str, ok: bool) -> None:
    assert err(make({"type": "url"}), value) == (None if ok else INVALID_URL)


def test_url_domains() -> None:
    denied = {"code": "validation_url_domain_not_allowed", "message": "Url domain is not allowed."}
    assert err(make({"type": "url", "onlyDomains": ["x.com"]}), "http://y.com") == denied
    assert err(make({"type": "url", "onlyDomains": ["x.com"]}), "https://u:p@x.com/a") is None
    assert err(make({"type": "url", "exceptDomains": ["y.com"]}), "http://y.com/x") == denied


@pytest.mark.parametrize("type_name", ["email", "url"])
def test_domain_definition_errors(type_name: str) -> None:
    both = definition_errors(make({"type": type_name, "onlyDomains": ["a.com"], "exceptDomains": ["b.com"]}))
    blank = {"code": "validation_empty", "message": "Must be blank."}
    assert both == {"exceptDomains": blank, "onlyDomains": blank}
    bad = definition_errors(make({"type": type_name, "onlyDomains": ["ok.com", "bad domain"]}))
    assert bad == {"onlyDomains": {"1": {"code": "validation_is_domain", "message": "Must be a valid domain."}}}


def test_editor() -> None:
    field = make({"type": "editor", "maxSize": 10})
    assert err(field, "<p>hello world</p>") == {
        "code": "validation_content_size_limit",
        "message": "The maximum allowed content size is 10 bytes.",
        "params": {"maxSize": 10},
    }
    assert err(make({"type": "editor", "required": True}), "") == REQUIRED
    assert err(make({"type": "editor", "required": True}), " ") is None
    assert definition_errors(make({"type": "editor", "maxSize": -1}))["maxSize"]["params"] == {"threshold": 0}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2020-01-02 03:04:05.678Z", "2020-01-02 03:04:05.678Z"),
        ("2020-01-02 03:04:05Z", "2020-01-02 03:04:05.000Z"),
        ("2020-01-02 03:04:05", "2020-01-02 03:04:05.000Z"),
        ("2020-01-02T03:04:05Z", "2020-01-02 03:04:05.000Z"),
        ("2020-01-02T03:04:05.1+01:00", "2020-01-02 02:04:05.100Z"),
        ("2020-05-05T10:11:12.123456+02:00", "2020-05-05 08:11:12.123Z"),
        ("2020-01-02", "2020-01-02 00:00:00.000Z"),
        ("2020-01-02T03:04", ""),
        ("2020-01-02 03:04", ""),
        ("garbage", ""),
        ("", ""),
        (None, ""),
        (1700000000, ""),
        ("2020-01-02T03:04:05.999999Z", "2020-01-02 03:04:05.999Z"),
        ("Mon, 02 Jan 2006 15:04:05 MST", "2006-01-02 15:04:05.000Z"),
        ("2006-01-02T15:04:05-0700", "2006-01-02 22:04:05.000Z"),
        ("2020/01/02", ""),
        ("02 Jan 06 15:04 MST", "2006-01-02 15:04:00.000Z"),
        ("2020-01-02 03:04:05 +0000 UTC", "2020-01-02 03:04:05.000Z"),
        ("2020-1-2", ""),
        ("2020-02-30", ""),
    ],
)
def test_date_coerce(raw: Any, expected: str) -> None:
    assert make({"type": "date"}).coerce(raw) == expected


def test_date_bounds() -> None:
    field = make({"type": "date", "min": "2020-01-01 10:00:00.5Z", "max": "2021-01-01"})
    assert isinstance(field, DateField)
    assert field.min == "2020-01-01 10:00:00.500Z"
    assert err(field, "2020-01-01 10:00:00.100Z") == {
        "code": "validation_min_greater_equal_than_required",
        "message": "Must be no less than 2020-01-01 10:00:00.5 +0000 UTC.",
        "params": {"threshold": "2020-01-01T10:00:00.5Z"},
    }
    assert err(field, "2022-01-01 00:00:00.000Z") == {
        "code": "validation_max_less_equal_than_required",
        "message": "Must be no greater than 2021-01-01 00:00:00 +0000 UTC.",
        "params": {"threshold": "2021-01-01T00:00:00Z"},
    }
    assert err(field, "") is None
    assert err(make({"type": "date", "required": True}), "") == REQUIRED
    assert make({"type": "date", "min": "garbage"}).to_dict()["min"] == ""


def test_autodate() -> None:
    field = make({"type": "autodate", "onCreate": True})
    assert isinstance(field, AutodateField)
    assert sorted(field.to_dict()) == ["hidden", "id", "name", "onCreate", "onUpdate", "presentable", "system", "type"]
    assert field.stamp("", is_new=True, now="2020-01-01 00:00:00.000Z") == "2020-01-01 00:00:00.000Z"
    assert field.stamp("2019-01-01 00:00:00.000Z", is_new=False) == "2019-01-01 00:00:00.000Z"
    message = "Either onCreate or onUpdate must be enabled."
    assert definition_errors(make({"type": "autodate"})) == {
        "onCreate": {"code": "validation_required", "message": message},
        "onUpdate": {"code": "validation_required", "message": message},
    }


def test_now_string_format() -> None:
    import re

    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z", now_string())
