"""Lexer and parser tables, error cases and limits."""

from __future__ import annotations

import pytest

from roost.tools import filter as flt
from roost.tools.filter import (
    Call,
    Comparison,
    FilterError,
    Identifier,
    Join,
    Literal,
    Placeholder,
    parse_filter,
)
from roost.tools.filter.lexer import tokenize
from roost.tools.filter.parser import parse


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a = 1", Comparison(Identifier("a"), "=", Literal(1))),
        ("a != 1.5", Comparison(Identifier("a"), "!=", Literal(1.5))),
        ("a > -14", Comparison(Identifier("a"), ">", Literal(-14))),
        ("'x' ~ b", Comparison(Literal("x"), "~", Identifier("b"))),
        ('a !~ "say \\"hi\\""', Comparison(Identifier("a"), "!~", Literal('say "hi"'))),
        ("a = 'it\\'s'", Comparison(Identifier("a"), "=", Literal("it's"))),
        ("a ~ '50\\%'", Comparison(Identifier("a"), "~", Literal("50\\%"))),
        ("a ?= {:p}", Comparison(Identifier("a"), "?=", Placeholder("p"))),
        ("@request.auth.id ?!= ''", Comparison(Identifier("@request.auth.id"), "?!=", Literal(""))),
        ("tags:each ?~ 'x'", Comparison(Identifier("tags:each"), "?~", Literal("x"))),
        ("#a.b_c:lower <= 2", Comparison(Identifier("#a.b_c:lower"), "<=", Literal(2))),
        (
            "geoDistance(a.lon, a.lat, 1, 2) < 5",
            Comparison(
                Call(
                    "geoDistance",
                    (Identifier("a.lon"), Identifier("a.lat"), Literal(1), Literal(2)),
                ),
                "<",
                Literal(5),
            ),
        ),
        (
            "strftime('%Y') = '2024'",
            Comparison(Call("strftime", (Literal("%Y"),)), "=", Literal("2024")),
        ),
        (
            "a = 1 || b = 2 && c = 3",
            Join(
                "or",
                (
                    Comparison(Identifier("a"), "=", Literal(1)),
                    Join(
                        "and",
                        (
                            Comparison(Identifier("b"), "=", Literal(2)),
                            Comparison(Identifier("c"), "=", Literal(3)),
                        ),
                    ),
                ),
            ),
        ),
        (
            "(a = 1 || b = 2) && c = 3",
            Join(
                "and",
                (
                    Join(
                        "or",
                        (
                            Comparison(Identifier("a"), "=", Literal(1)),
                            Comparison(Identifier("b"), "=", Literal(2)),
                        ),
                    ),
                    Comparison(Identifier("c"), "=", Literal(3)),
                ),
            ),
        ),
        ("// lead\n a = 1 // trailing", Comparison(Identifier("a"), "=", Literal(1))),
        ("((a = null))", Comparison(Identifier("a"), "=", Identifier("null"))),
        ("a\t=\r\n1", Comparison(Identifier("a"), "=", Literal(1))),
    ],
)
def test_parse_table(source: str, expected: object) -> None:
    assert parse(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "", "   ", "// only a comment", "a", "a =", "= 1", "a = 1 &&", "a = 1 b = 2", "a == 1", "a =! 1",
        "a = 'x", "a = (1)", "(a = 1", "a = 1)", "()", "a = 1 & b = 2", "a = 1 ||| b = 2", "a. = 1",
        "a: = 1", "1. = a", "1.2.3 = a", "a = 1a", "a = {:}", "a = {:x", "a = $", "a = f(1, 2", "a = f(,)",
        "a = f(g(h(1)))", "a = f(" + ", ".join(["1"] * 11) + ")", "a ? 1", "a ?? 1",
    ],
)  # fmt: skip
def test_syntax_errors(source: str) -> None:
    with pytest.raises(FilterError):
        parse(source)


def test_tokens_keep_positions() -> None:
    kinds = [(t.kind, t.value, t.pos) for t in tokenize("a>=1")]
    assert kinds == [("ident", "a", 0), ("op", ">=", 1), ("number", "1", 3), ("eof", "", 4)]


def test_length_and_expression_limits() -> None:
    ok = " && ".join(["a = 1"] * 200)
    parse_filter(ok, max_length=10_000)
    with pytest.raises(FilterError, match="200 expressions"):
        parse_filter(ok + " && a = 1", max_length=10_000)
    with pytest.raises(FilterError, match="3500"):
        parse_filter("a = '" + "x" * 3500 + "'")
    assert parse_filter("a = '" + "x" * 3500 + "'", user=False)
    with pytest.raises(FilterError, match="nested"):
        parse("(" * 60 + "a = 1" + ")" * 60)


def test_parse_cache_is_keyed_by_cache_key() -> None:
    flt.PARSE_CACHE.clear()
    first = parse_filter("a = 1", cache_key=1)
    assert parse_filter("a = 1", cache_key=1) is first
    parse_filter("a = 1", cache_key=2)
    assert len(flt.PARSE_CACHE) == 2
    cache = flt.ParseCache(2)
    for index in range(3):
        cache.put(index, first)
    assert cache.get(0) is None and cache.get(2) is first


def test_public_names_are_pinned() -> None:
    assert set(flt.__all__) == {
        "ANY_OPERATORS", "BOOL", "DIALECTS", "JSON", "MACRO_NAMES", "MAX_EXPRESSIONS", "MAX_LENGTH", "NULL",
        "NUMBER", "OPERATORS", "PARSE_CACHE", "RULE_MAX_EXPRESSIONS", "RULE_MAX_LENGTH", "TEXT", "Binder",
        "Call", "Comparison", "CompiledFilter", "Dialect", "Expr", "FieldResolver", "FilterError", "Hoist",
        "Identifier", "Join", "Literal", "Operand", "ParseCache", "Placeholder", "PostgresDialect",
        "SortField", "SortKey", "compare", "compile_filter", "compile_sort", "compile_sort_keys", "format_datetime",
        "get_dialect",
        "parse_filter", "parse_rule", "parse_sort",
    }  # fmt: skip
    assert all(hasattr(flt, name) for name in flt.__all__)
