from __future__ import annotations

from typing import Any

import pytest

from roost.core.schema.fields import BoolField, NumberField, TextField

from ._helpers import definition_errors, err, make

REQUIRED = {"code": "validation_required", "message": "Cannot be blank."}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (5, "5"),
        (1.5, "1.5"),
        (1e21, "1000000000000000000000"),
        (2.0**60, "1152921504606847000"),
        (1e-7, "0.0000001"),
        (True, "true"),
        (None, ""),
        ([1, 2], ""),
        ({"a": 1}, ""),
        ("  sp  ", "  sp  "),
    ],
)
def test_text_coerce(raw: Any, expected: str) -> None:
    assert make({"type": "text"}).coerce(raw) == expected


@pytest.mark.parametrize(
    ("options", "value", "expected"),
    [
        ({"required": True}, "", REQUIRED),
        ({"required": True}, " ", None),
        ({"min": 3}, "ab", {"code": "validation_min_text_constraint", "message": "Must be at least 3 character(s).", "params": {"min": 3}}),
        ({"max": 5}, "abcdefg", {"code": "validation_max_text_constraint", "message": "Must be no more than 5 character(s).", "params": {"max": 5}}),
        ({}, "x" * 5001, {"code": "validation_max_text_constraint", "message": "Must be no more than 5000 character(s).", "params": {"max": 5000}}),
        ({"max": 3}, "ééé", None),
        ({"pattern": "^[a-z]+$"}, "ab1", {"code": "validation_invalid_format", "message": "Invalid value format."}),
        ({"pattern": "[0-9]"}, "ab1", None),
        ({"min": 3}, "", None),
    ],
)
def test_text_validate(options: dict[str, Any], value: str, expected: Any) -> None:
    assert err(make({"type": "text", **options}), value) == expected


def test_text_primary_key_rules() -> None:
    pk = make({"type": "text", "name": "id", "primaryKey": True, "required": True, "pattern": "^[a-z0-9]+$"})
    assert err(pk, "") == REQUIRED
    assert err(pk, "new", original={"id": "old"}) == {
        "code": "validation_pk_change",
        "message": "The record primary key cannot be changed.",
    }
    assert err(pk, "OLD.ID", original={"id": "OLD.ID"}) is None
    custom = make({"type": "text", "name": "id", "primaryKey": True, "required": True, "pattern": "^.+$"})
    assert err(custom, "a/b") == {
        "code": "validation_forbidden_pk_character",
        "message": "'/' is not a valid primary key character.",
        "params": {"ch": "/"},
    }
    assert err(custom, "con")["code"] == "validation_reserved_pk"  # type: ignore[index]
    assert isinstance(custom, TextField) and custom.needs_pk_uniqueness_check()


@pytest.mark.parametrize("pattern", ["[a-z0-9]{15}", "[a-zA-Z0-9]{50}", "^abc-[0-9]{3,5}$", r"\d{4}_x?"])
def test_text_autogenerate(pattern: str) -> None:
    import re

    field = make({"type": "text", "autogeneratePattern": pattern})
    assert isinstance(field, TextField)
    for _ in range(20):
        assert re.fullmatch(pattern, field.generate())
    assert field.generate("pre-").startswith("pre-")
    assert definition_errors(field) == {}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"min": -1}, {"min": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}),
        ({"min": 5, "max": 3}, {"max": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 5.", "params": {"threshold": 5}}}),
        ({"max": 2**60}, {"max": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 9007199254740991.", "params": {"threshold": 9007199254740991}}}),
        ({"pattern": "[a-"}, {"pattern": {"code": "validation_invalid_regex", "message": "Error parsing regexp: missing closing ]: `[a-`."}}),
        ({"pattern": "("}, {"pattern": {"code": "validation_invalid_regex", "message": "Error parsing regexp: missing closing ): `(`."}}),
        ({"autogeneratePattern": "[a-"}, {"autogeneratePattern": {"code": "validation_invalid_regex", "message": "Error parsing regexp: missing closing ]: `[a-`."}}),
        ({"autogeneratePattern": "(a|b)"}, {"autogeneratePattern": {"code": "validation_invalid_autogenerate_pattern"}}),
        ({"name": "bad name"}, {"name": {"code": "validation_match_invalid", "message": "Must be in a valid format."}}),
        ({"name": ""}, {"name": REQUIRED}),
        ({"name": "a_via_b"}, {"name": {"code": "validation_found_via", "message": 'The value cannot contain "_via_".'}}),
        ({"name": "expand"}, {"name": {"code": "validation_not_in_invalid", "message": "Must not be in list."}}),
    ],
)
def test_text_definition_errors(options: dict[str, Any], expected: dict[str, Any]) -> None:
    got = definition_errors(make({"type": "text", **options}))
    for key, value in expected.items():
        assert {k: got[key][k] for k in value} == value
    assert set(got) == set(expected)


def test_text_autogenerate_conflicting_with_min() -> None:
    got = definition_errors(make({"type": "text", "autogeneratePattern": "[a-z]{3}", "min": 5}))
    assert got["autogeneratePattern"]["code"] == "validation_invalid_autogenerate_pattern_value"
    assert got["autogeneratePattern"]["message"].startswith(
        'The provided autogenerate pattern could produce invalid field values, ex.: "'
    )


def test_text_non_id_primary_key_definition() -> None:
    got = definition_errors(make({"type": "text", "name": "x", "primaryKey": True}))
    assert got["name"] == {"code": "validation_in_invalid", "message": 'The primary key must be named "id".'}
    assert got["pattern"] == REQUIRED
    assert got["required"] == REQUIRED


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.5", 12.5), ("abc", 0), ("", 0), (" 5", 0), ("1e3", 1000), ("0x10", 0), ("1_000", 1000),
        ("+7", 7), ("3.", 3), (".5", 0.5), ("1e400", 0), ("0x1p-2", 0.25), (True, 1), (False, 0),
        (None, 0), ([5], 0), ({"a": 1}, 0), (1.0, 1), (2**60, 1152921504606847000),
    ],
)
def test_number_coerce(raw: Any, expected: float) -> None:
    value = make({"type": "number"}).coerce(raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("options", "value", "expected"),
    [
        ({"onlyInt": True, "min": 1}, 1.5, {"code": "validation_only_int_constraint", "message": "Decimal numbers are not allowed."}),
        ({"min": 0.5}, 0.1, {"code": "validation_min_number_constraint", "message": "Must be greater or equal than 0.5.", "params": {"min": 0.5}}),
        ({"min": 0.5}, 0, None),
        ({"max": 10}, 11, {"code": "validation_max_number_constraint", "message": "Must be less or equal than 10.", "params": {"max": 10}}),
        ({"min": 1234567}, 5, {"code": "validation_min_number_constraint", "message": "Must be greater or equal than 1.234567e+06.", "params": {"min": 1234567}}),
        ({"max": 0.00001}, 1, {"code": "validation_max_number_constraint", "message": "Must be less or equal than 1e-05.", "params": {"max": 1e-05}}),
        ({"required": True}, 0, REQUIRED),
        ({}, float("inf"), {"code": "validation_not_a_number", "message": "The submitted number is not properly formatted."}),
    ],
)
def test_number_validate(options: dict[str, Any], value: float, expected: Any) -> None:
    assert err(make({"type": "number", **options}), value) == expected


def test_number_modifiers_and_storage() -> None:
    field = make({"type": "number"})
    assert field.apply_modifier(5, "+", "2.5") == 7.5
    assert field.apply_modifier(5, "-", 2) == 3
    assert field.from_db(3.0) == 3 and isinstance(field.from_db(3.0), int)
    assert field.from_db("4.5") == 4.5
    assert field.to_db(3) == 3.0


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"min": 5, "max": 3}, {"max": {"code": "validation_min_number_constraint", "message": "Must be greater or equal than 5.", "params": {"min": 5}}}),
        ({"min": 1.5, "onlyInt": True}, {"min": {"code": "validation_only_int_constraint", "message": "Decimal numbers are not allowed."}}),
        ({"min": 5, "max": 0}, {}),
    ],
)
def test_number_definition(options: dict[str, Any], expected: dict[str, Any]) -> None:
    assert definition_errors(make({"type": "number", **options})) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, True), (0, False), ("0", False), ("1", True), ("true", True), ("false", False),
        ("TRUE", True), ("t", True), ("F", False), ("yes", False), ("on", False), ("", False),
        (None, False), (2, True), ("2", False), ([1], False), (0.5, True),
    ],
)
def test_bool_coerce(raw: Any, expected: bool) -> None:
    assert make({"type": "bool"}).coerce(raw) is expected


def test_bool_required_means_true_and_db_round_trip() -> None:
    field = make({"type": "bool", "required": True})
    assert isinstance(field, BoolField)
    assert err(field, False) == REQUIRED
    assert err(field, True) is None
    assert field.from_db(1) is True and field.from_db(0) is False


def test_number_field_output_keys() -> None:
    field = make({"type": "number", "min": 1})
    assert isinstance(field, NumberField)
    assert sorted(field.to_dict()) == ["help", "hidden", "id", "max", "min", "name", "onlyInt", "presentable", "required", "system", "type"]
    assert field.to_dict()["min"] == 1 and isinstance(field.to_dict()["min"], int)
