"""Compiler, sort, macros and dialect behaviour with a small in-memory resolver."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from roost.tools.filter import (
    Binder,
    FilterError,
    Operand,
    SortKey,
    compile_filter,
    compile_sort,
    compile_sort_keys,
    format_datetime,
    get_dialect,
    parse_filter,
    parse_sort,
)
from roost.tools.filter.dialects import PostgresDialect, _translate_strftime
from roost.tools.filter.likes import like_pattern
from roost.tools.filter.macros import macro_value

COLUMNS = {"title": "text", "n": "number", "flag": "bool", "meta": "json", "created": "text"}


class Resolver:
    def resolve(self, name: str, binder: Binder) -> Operand:
        if name in COLUMNS:
            return Operand(sql=f't."{name}"', kind=COLUMNS[name])
        if name == "tags:each":
            return Operand(kind="text", source="SELECT je.value AS v FROM json_each(t.tags) AS je")
        if name == "@request.x":
            return Operand.of_value("x")
        raise FilterError("unknown field")


def run(expression: str, **params: object) -> list[str]:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE t (id TEXT, title TEXT, n NUMERIC, flag BOOLEAN, meta JSON, created TEXT, tags JSON)"
    )
    conn.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            ("a", "Apple_1", 1, 1, '{"k": 1}', "2020-01-01 00:00:00.000Z", '["x","y"]'),
            ("b", "", 2, 0, None, "", "[]"),
            ("c", "100%", 3, 0, '{"k": "v"}', "2999-01-01 00:00:00.000Z", '["y"]'),
        ],
    )
    compiled = compile_filter(parse_filter(expression), Resolver(), "sqlite", params=params)
    return sorted(
        r[0] for r in conn.execute(f"SELECT id FROM t WHERE {compiled.sql}", compiled.params)
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("title = ''", ["b"]),
        ("title != null", ["a", "c"]),
        ("title ~ 'apple_'", ["a"]),
        ("title ~ 'e_1'", ["a"]),
        ("title ~ 'App%'", ["a"]),
        ("title ~ '0\\%'", ["c"]),
        ("title !~ 'p'", ["b", "c"]),
        ("title = {:t}", ["a"]),
        ("n > {:n} && flag = {:f}", ["a"]),
        ("title = {:none}", ["b"]),
        ("meta = null", ["b"]),
        ("tags:each ?= 'y'", ["a", "c"]),
        ("tags:each = 'y'", ["c"]),
        ("tags:each ?!= 'y'", ["a", "b"]),
        # an empty set reads as one NULL value, which is distinct from 'y'
        ("tags:each != 'y'", ["b"]),
        # the same multi-valued operand names the same row in one filter
        ("tags:each ?= 'x' && tags:each ?= 'y'", []),
        ("tags:each ?= 'x' || tags:each ?= 'y'", ["a", "c"]),
        # number literals are floats: a text column compares with '1.0'
        ("title = 1", []),
        ("created > @now", ["c"]),
        ("@request.x = 'x' && n = 1", ["a"]),
        ("true = 1 && false = 0 && null = '' && n = 2", ["b"]),
    ],
)
def test_sqlite_semantics(expression: str, expected: list[str]) -> None:
    assert run(expression, t="Apple_1", n=0, f=True, none=None) == expected


def test_user_text_is_always_bound() -> None:
    compiled = compile_filter(
        parse_filter("title = 'x\\' OR 1=1 --' || title ~ 'y'"), Resolver(), "postgresql"
    )
    assert "OR 1=1" not in compiled.sql
    assert compiled.params == {"p0": "x' OR 1=1 --", "p1": "%y%"}
    assert "CAST(:p0 AS TEXT)" in compiled.sql


def test_shared_binder_keeps_names_unique() -> None:
    binder = Binder("sqlite", prefix="f")
    first = compile_filter(parse_filter("title = 'a'"), Resolver(), binder=binder)
    second = compile_filter(parse_filter("title = 'b'"), Resolver(), binder=binder)
    assert first.sql != second.sql and set(binder.params) == {"f0", "f1"}
    with pytest.raises(FilterError):
        Binder("sqlite", prefix="1; DROP")


def test_compile_errors() -> None:
    for expression in ("nope = 1", "title = {:missing}", "foo(1) = 1", "geoDistance(1, 2) = 1", "strftime(title) = 1",
                       "geoDistance('a', 1, 2, 3) = 1", "strftime('%Y', title, 1) = 1",
                       "strftime('%Y', strftime('%Y')) = 1"):  # fmt: skip
        with pytest.raises(FilterError):
            compile_filter(parse_filter(expression), Resolver())
    with pytest.raises(FilterError):
        get_dialect("oracle")


def test_typed_dialect_converts_mixed_types() -> None:
    sql = compile_filter(
        parse_filter("n > title && flag = 1 && meta > 2"), Resolver(), "postgresql"
    ).sql
    assert 'CAST(t."n"' not in sql
    assert (
        "DOUBLE PRECISION" in sql and 'CAST(t."flag" AS INTEGER)' in sql and "jsonb_typeof" in sql
    )
    assert compile_filter(parse_filter("title = 5"), Resolver(), "postgresql").params == {"p0": "5.0"}
    assert compile_filter(parse_filter("n = '5'"), Resolver(), "postgresql").params == {"p0": 5.0}
    assert PostgresDialect().setup_statements() == ()


def test_sort() -> None:
    fields = parse_sort(" -n, +title ,flag,@random")
    assert [(f.name, f.descending) for f in fields] == [
        ("n", True),
        ("title", False),
        ("flag", False),
        ("@random", False),
    ]
    assert (
        compile_sort(fields, Resolver()).sql == 't."n" DESC, t."title" ASC, t."flag" ASC, RANDOM()'
    )
    assert compile_sort(parse_sort("tags:each"), Resolver(), "postgresql").sql.endswith(
        "LIMIT 1) ASC NULLS FIRST"
    )
    assert parse_sort("  ") == ()
    for bad in (",".join(["a"] * 9), "a," + "b" * 256, "a,,b", "a b", "-", "@request.x"):
        with pytest.raises(FilterError):
            compile_sort(parse_sort(bad), Resolver())


def test_sort_keys_are_the_order_by_expressions_with_their_direction() -> None:
    keys = compile_sort_keys(parse_sort("-n,meta"), Resolver(), Binder("postgresql"))
    assert keys[0] == SortKey('t."n"', True)
    assert [k.descending for k in keys] == [True, False, False, False]  # JSON sorts by type rank, number, text
    order = compile_sort(parse_sort("-n,meta"), Resolver(), "postgresql").sql
    assert order == ", ".join(get_dialect("postgresql").order_term(k.sql, k.descending) for k in keys)
    with pytest.raises(FilterError):
        compile_sort_keys(parse_sort("n,@random"), Resolver(), Binder())


def test_macros() -> None:
    now = datetime(2024, 2, 29, 13, 14, 15, 123456, tzinfo=UTC)
    expected = {
        "@now": "2024-02-29 13:14:15.123Z", "@yesterday": "2024-02-28 13:14:15.123Z",
        "@tomorrow": "2024-03-01 13:14:15.123Z", "@second": 15, "@minute": 14, "@hour": 13, "@day": 29,
        "@month": 2, "@weekday": 4, "@year": 2024, "@todayStart": "2024-02-29 00:00:00.000Z",
        "@todayEnd": "2024-02-29 23:59:59.999Z", "@monthStart": "2024-02-01 00:00:00.000Z",
        "@monthEnd": "2024-02-29 23:59:59.999Z", "@yearStart": "2024-01-01 00:00:00.000Z",
        "@yearEnd": "2024-12-31 23:59:59.999Z",
    }  # fmt: skip
    assert {name: macro_value(name, now) for name in expected} == expected
    assert macro_value("@nope", now) is None
    assert format_datetime(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01 00:00:00.000Z"


def test_like_patterns_and_strftime_translation() -> None:
    assert like_pattern("a_b") == "%a\\_b%"
    assert like_pattern("a\\_b") == "%a\\_b%"
    assert like_pattern("a%") == "a%"
    assert like_pattern("50\\%") == "%50\\%%"
    assert _translate_strftime("%Y-%m-%d %H:%M:%S %%") == 'YYYY"-"MM"-"DD" "HH24":"MI":"SS" %"'
    with pytest.raises(FilterError):
        _translate_strftime("%W")
