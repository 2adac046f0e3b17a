from __future__ import annotations

from typing import Any

import pytest

from roost.core.schema.fields import (
    FIELD_TYPES,
    FileField,
    GeoPointField,
    PasswordField,
    PlainPassword,
    RelationField,
    field_from_dict,
)
from roost.tools.security.passwords import hash_password, verify

from ._helpers import definition_errors, err, make

REQUIRED = {"code": "validation_required", "message": "Cannot be blank."}
VALUES = ["a", "b", "c", "1", "true", "1.5"]


@pytest.mark.parametrize(
    ("raw", "single", "multi"),
    [
        ("a", "a", ["a"]),
        ("", "", []),
        (None, "", []),
        (["a", "b"], "b", ["a", "b"]),
        (["b", "a", "b"], "a", ["b", "a"]),
        ('["a","b"]', "b", ["a", "b"]),
        ("[bad", "[bad", ["[bad"]),
        ("[1,2]", "[1,2]", ["[1,2]"]),
        (1, "1", ["1"]),
        (1.5, "1.5", ["1.5"]),
        (True, "true", ["true"]),
        ([1, True], "true", ["1", "true"]),
        ([None, "a", ""], "a", ["a"]),
        ([1, {"x": 1}], "", []),
        ([["a"]], "", []),
        ({"a": 1}, "", []),
    ],
)
@pytest.mark.parametrize("type_name", ["select", "relation", "file"])
def test_multi_value_coerce(type_name: str, raw: Any, single: str, multi: list[str]) -> None:
    extra = {"values": VALUES} if type_name == "select" else {}
    assert make({"type": type_name, **extra}).coerce(raw) == single
    assert make({"type": type_name, "maxSelect": 5, **extra}).coerce(raw) == multi


@pytest.mark.parametrize(
    ("modifier", "current", "raw", "expected"),
    [
        ("+", ["a"], ["b", "a"], ["a", "b"]),
        ("^", ["a"], "b", ["b", "a"]),
        ("-", ["a", "b", "c"], ["a", "c"], ["b"]),
        ("-", ["a"], "z", ["a"]),
    ],
)
def test_multi_value_modifiers(modifier: str, current: list[str], raw: Any, expected: list[str]) -> None:
    field = make({"type": "select", "values": VALUES, "maxSelect": 5})
    assert field.apply_modifier(current, modifier, raw) == expected


def test_single_value_modifier_keeps_last() -> None:
    assert make({"type": "relation"}).apply_modifier("a", "+", "b") == "b"
    assert make({"type": "relation"}).apply_modifier("a", "-", "a") == ""


def test_select_validate() -> None:
    single = make({"type": "select", "values": ["a", "b", "c"]})
    assert err(single, "z") == {"code": "validation_invalid_value", "message": "Invalid value z.", "params": {"value": "z"}}
    assert err(single, " a ")["message"] == "Invalid value  a."  # type: ignore[index]
    multi = make({"type": "select", "values": ["a", "b", "c"], "maxSelect": 2})
    assert err(multi, ["a", "b", "c"]) == {
        "code": "validation_too_many_values", "message": "Select no more than 2.", "params": {"maxSelect": 2}
    }
    assert err(make({"type": "select", "values": ["a"], "required": True}), []) == REQUIRED


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, {"values": REQUIRED}),
        ({"values": ["a", "b"], "maxSelect": 3}, {"maxSelect": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 2.", "params": {"threshold": 2}}}),
        ({"values": ["a"], "maxSelect": -1}, {"maxSelect": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}),
        ({"values": ["a", "a"]}, {}),
    ],
)
def test_select_definition(options: dict[str, Any], expected: dict[str, Any]) -> None:
    assert definition_errors(make({"type": "select", **options})) == expected


def test_relation_validate_and_definition() -> None:
    field = make({"type": "relation", "collectionId": "x", "minSelect": 2, "maxSelect": 3})
    assert isinstance(field, RelationField) and field.is_multiple()
    assert err(field, ["a"]) == {"code": "validation_not_enough_values", "message": "Select at least 2.", "params": {"minSelect": 2}}
    assert err(field, ["a", "b", "c", "d"]) == {"code": "validation_too_many_values", "message": "Select no more than 3.", "params": {"maxSelect": 3}}
    assert err(field, ["a", "b"]) is None
    assert definition_errors(make({"type": "relation"})) == {"collectionId": REQUIRED}
    assert definition_errors(make({"type": "relation", "collectionId": "x", "minSelect": 3})) == {"maxSelect": REQUIRED}
    assert definition_errors(make({"type": "relation", "collectionId": "x", "minSelect": 3, "maxSelect": 2}))["maxSelect"]["params"] == {"threshold": 3}
    assert definition_errors(make({"type": "relation", "collectionId": "x", "minSelect": -1}))["minSelect"]["params"] == {"threshold": 0}


def test_multi_value_storage_round_trip() -> None:
    multi = make({"type": "relation", "collectionId": "x", "maxSelect": 3})
    assert multi.to_db(["a", "b"]) == '["a","b"]'
    assert multi.from_db('["a","b"]') == ["a", "b"]
    assert multi.from_db(["a"]) == ["a"]
    assert multi.from_db(None) == []
    assert multi.json_column and multi.column_type("postgresql") == "JSONB DEFAULT '[]' NOT NULL"
    single = make({"type": "relation", "collectionId": "x"})
    assert single.to_db(["a", "b"]) == "b"
    assert single.from_db('["a","b"]') == "b"
    assert not single.json_column and single.column_type("sqlite") == "TEXT DEFAULT '' NOT NULL"


def test_file_validate() -> None:
    field = make({"type": "file", "maxSelect": 2})
    assert isinstance(field, FileField)
    assert err(field, ["a", "b", "c"]) == {
        "code": "validation_invalid_file", "message": "Invalid new files: [a b c].", "params": {"invalidFiles": ["a", "b", "c"]}
    }
    assert err(field, ["a", "b", "c"], original={"f": ["a", "b", "c"]}) == {
        "code": "validation_too_many_files", "message": "The maximum allowed files is 2.", "params": {"maxSelect": 2}
    }
    assert err(field, ["a"], original={"f": ["a", "b"]}) is None
    assert err(make({"type": "file", "required": True}), "") == REQUIRED
    thumbs = definition_errors(make({"type": "file", "thumbs": ["bad", "100x100", "0x0", "0x50", "20x0f"]}))
    assert thumbs == {"thumbs": {
        "0": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
        "2": {"code": "validation_not_in_invalid", "message": "Must not be in list."},
    }}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123", 123), ("-1.50", -1.5), ("true", True), ("null", None), ("[1,2]", [1, 2]),
        ("abc", "abc"), ("", ""), ("  5", "  5"), (" [1]", " [1]"), ("1e3", 1000.0), ("007", "007"),
        ('"quoted"', "quoted"), ("{bad", "{bad"), ('{"a":1}', {"a": 1}),
        (123, 123), (1.5, 1.5), (3.0, 3), (True, True), (None, None), ([1, "a"], [1, "a"]),
        ({"x": None}, {"x": None}),
    ],
)
def test_json_coerce(raw: Any, expected: Any) -> None:
    value = make({"type": "json"}).coerce(raw)
    assert value == expected
    assert type(value) is type(expected)


def test_json_validate_and_storage() -> None:
    field = make({"type": "json", "maxSize": 20})
    assert err(field, {"a": "a" * 23}) == {
        "code": "validation_json_size_limit", "message": "The maximum allowed JSON size is 20 bytes.", "params": {"maxSize": 20}
    }
    required = make({"type": "json", "required": True})
    for empty in (None, "", [], {}):
        assert err(required, empty) == REQUIRED
    for value in (0, False, " "):
        assert err(required, value) is None
    assert field.to_db(None) is None
    assert field.to_db({"a": [1]}) == '{"a":[1]}'
    assert field.from_db('{"a":[1]}') == {"a": [1]}
    assert field.from_db({"a": 1}) == {"a": 1}
    assert field.zero() is None


def test_password() -> None:
    field = make({"type": "password", "min": 4, "max": 6, "pattern": "^[0-9]+$"})
    assert isinstance(field, PasswordField)
    plain = field.coerce(1234)
    assert isinstance(plain, PlainPassword) and plain == "1234"
    assert err(field, PlainPassword("12")) == {"code": "validation_min_text_constraint", "message": "Must be at least 4 character(s)."}
    assert err(field, PlainPassword("1234567")) == {"code": "validation_max_text_constraint", "message": "Must be less than 6 character(s)."}
    assert err(field, PlainPassword("abcd")) == {"code": "validation_invalid_format", "message": "Invalid value format."}
    assert err(field, "$2a$10$storedhash") is None
    assert err(make({"type": "password", "required": True}), PlainPassword("")) == REQUIRED
    hashed = field.to_db(PlainPassword("1234"))
    assert hashed.startswith("$2a$10$") and field.verify("1234", hashed)


def test_password_hashes_are_pocketbase_compatible() -> None:
    hashed = hash_password("secret", cost=4)
    assert hashed.startswith("$2a$04$")
    assert verify("secret", hashed) and not verify("nope", hashed)
    assert verify("secret", "$2b$" + hashed[4:])
    assert not verify("secret", "") and not verify("secret", "plain")


@pytest.mark.parametrize(
    ("options", "key", "code", "threshold"),
    [
        ({"min": -1}, "min", "validation_min_greater_equal_than_required", 1),
        ({"min": 80}, "min", "validation_max_less_equal_than_required", 71),
        ({"max": 100}, "max", "validation_max_less_equal_than_required", 71),
        ({"cost": 3}, "cost", "validation_min_greater_equal_than_required", 4),
        ({"cost": 40}, "cost", "validation_max_less_equal_than_required", 31),
    ],
)
def test_password_definition(options: dict[str, Any], key: str, code: str, threshold: int) -> None:
    got = definition_errors(make({"type": "password", **options}))
    assert got[key]["code"] == code and got[key]["params"] == {"threshold": threshold}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"lon": 1, "lat": 2}, {"lon": 1, "lat": 2}),
        ({"lon": 1}, {"lon": 1, "lat": 0}),
        ({"lat": 2.5, "extra": 1}, {"lon": 0, "lat": 2.5}),
        ('{"lon":3,"lat":4}', {"lon": 3, "lat": 4}),
        ([1, 2], {"lon": 0, "lat": 0}),
        ("bad", {"lon": 0, "lat": 0}),
        (None, {"lon": 0, "lat": 0}),
        ({"lon": "1", "lat": 2}, {"lon": 0, "lat": 0}),
        ({"lon": 1.5, "lat": True}, {"lon": 1.5, "lat": 0}),
        ({"lon": 1.5, "lat": "2"}, {"lon": 1.5, "lat": 0}),
        ({"lon": None, "lat": 2}, {"lon": 0, "lat": 2}),
        ({"LON": 5, "Lat": 6}, {"lon": 0, "lat": 0}),
        ('{"lat":true,"lon":3}', {"lon": 0, "lat": 0}),
    ],
)
def test_geopoint_coerce(raw: Any, expected: dict[str, float]) -> None:
    assert make({"type": "geoPoint"}).coerce(raw) == expected


def test_geopoint_validate_and_storage() -> None:
    field = make({"type": "geoPoint"})
    assert isinstance(field, GeoPointField)
    assert err(field, {"lon": 200, "lat": 0}) == {"code": "validation_invalid_longitude", "message": "Longitude must be between -180 and 180 degrees."}
    assert err(field, {"lon": 200, "lat": 100}) == {"code": "validation_invalid_latitude", "message": "Latitude must be between -90 and 90 degrees."}
    assert err(make({"type": "geoPoint", "required": True}), {"lon": 0, "lat": 0}) == REQUIRED
    assert field.to_db({"lon": 1.5, "lat": 2}) == '{"lon":1.5,"lat":2}'
    assert field.from_db('{"lon":1.5,"lat":2}') == {"lon": 1.5, "lat": 2}
    assert field.zero() == {"lon": 0, "lat": 0}


OUTPUT_KEYS = {
    "text": ["autogeneratePattern", "help", "hidden", "id", "max", "min", "name", "pattern", "presentable", "primaryKey", "required", "system", "type"],
    "number": ["help", "hidden", "id", "max", "min", "name", "onlyInt", "presentable", "required", "system", "type"],
    "bool": ["help", "hidden", "id", "name", "presentable", "required", "system", "type"],
    "email": ["exceptDomains", "help", "hidden", "id", "name", "onlyDomains", "presentable", "required", "system", "type"],
    "url": ["exceptDomains", "help", "hidden", "id", "name", "onlyDomains", "presentable", "required", "system", "type"],
    "editor": ["convertURLs", "help", "hidden", "id", "maxSize", "name", "presentable", "required", "system", "type"],
    "date": ["help", "hidden", "id", "max", "min", "name", "presentable", "required", "system", "type"],
    "autodate": ["hidden", "id", "name", "onCreate", "onUpdate", "presentable", "system", "type"],
    "select": ["help", "hidden", "id", "maxSelect", "name", "presentable", "required", "system", "type", "values"],
    "json": ["help", "hidden", "id", "maxSize", "name", "presentable", "required", "system", "type"],
    "relation": ["cascadeDelete", "collectionId", "help", "hidden", "id", "maxSelect", "minSelect", "name", "presentable", "required", "system", "type"],
    "file": ["help", "hidden", "id", "maxSelect", "maxSize", "mimeTypes", "name", "presentable", "protected", "required", "system", "thumbs", "type"],
    "password": ["cost", "help", "hidden", "id", "max", "min", "name", "pattern", "presentable", "required", "system", "type"],
    "geoPoint": ["help", "hidden", "id", "name", "presentable", "required", "system", "type"],
}


@pytest.mark.parametrize("type_name", sorted(OUTPUT_KEYS))
def test_output_keys_and_ids(type_name: str) -> None:
    assert type_name in FIELD_TYPES
    field = field_from_dict({"name": "f_" + type_name, "type": type_name})
    data = field.to_dict()
    assert sorted(data) == OUTPUT_KEYS[type_name]
    assert field_from_dict(data).to_dict() == data


def test_default_ids_match_pocketbase() -> None:
    assert field_from_dict({"name": "id", "type": "text"}).id == "text3208210256"
    assert field_from_dict({"name": "f_geoPoint", "type": "geoPoint"}).id == "geoPoint3638349492"
    assert field_from_dict({"name": "f_autodate", "type": "autodate"}).id == "autodate813861474"


@pytest.mark.parametrize(
    ("data", "bad"),
    [
        ({"type": "text", "min": "x"}, ["min"]),
        ({"type": "text", "min": 1.5}, ["min"]),
        ({"type": "bool", "required": 1}, ["required"]),
        ({"type": "number", "max": "3"}, ["max"]),
        ({"type": "select", "values": "a"}, ["values"]),
        ({"type": "text", "min": None, "pattern": None}, []),
        ({"type": "number", "min": 1, "max": 2.5}, []),
    ],
)
def test_load_errors_never_raise(data: dict[str, Any], bad: list[str]) -> None:
    field = field_from_dict({"name": "f", **data})
    assert field.load_errors == bad


def test_column_types() -> None:
    text_pk = field_from_dict({"name": "id", "type": "text", "primaryKey": True})
    assert text_pk.column_type("sqlite") == "TEXT PRIMARY KEY DEFAULT ('r'||lower(hex(randomblob(7)))) NOT NULL"
    assert make({"type": "number"}).column_type("postgresql") == "DOUBLE PRECISION DEFAULT 0 NOT NULL"
    assert make({"type": "bool"}).column_type("sqlite") == "BOOLEAN DEFAULT FALSE NOT NULL"
    assert make({"type": "json"}).column_type("sqlite") == "JSON DEFAULT NULL"
    assert make({"type": "geoPoint"}).column_type("sqlite") == 'JSON DEFAULT \'{"lon":0,"lat":0}\' NOT NULL'
    assert make({"type": "select", "values": ["a", "b"], "maxSelect": 2}).column_type("mysql") == "LONGTEXT NOT NULL DEFAULT ('[]')"
