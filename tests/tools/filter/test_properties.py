"""Property tests: arbitrary input only ever raises FilterError, and text never reaches SQL."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from roost.tools.filter import (
    Binder,
    FilterError,
    Operand,
    compile_filter,
    compile_sort,
    parse_filter,
    parse_sort,
)
from roost.tools.filter.ast import OPERATORS


class AnyResolver:
    def resolve(self, name: str, binder: Binder) -> Operand:
        if name.startswith("m"):
            return Operand(kind="text", source=f"SELECT v FROM multi_{len(name)}")
        if name.startswith("j"):
            return Operand(sql='t."j"', kind="json")
        if name.startswith("n"):
            return Operand(sql='t."n"', kind="number")
        if name.startswith("x"):
            raise FilterError("unknown field")
        return Operand(sql='t."c"', kind="text")


ALPHABET = st.sampled_from(list("ab_@#.:0123456789 ()'\"\\=!<>~?&|{}%,-/\n\té€"))
TOKENS = st.sampled_from(
    ["a", "n", "m.x", "j.k", "xx", "@now", "null", "true", "1", "-2.5", "'t'", '"q"', "{:p}", "(", ")", "&&", "||",
     "geoDistance(", "strftime(", ",", "// c\n", *OPERATORS]
)  # fmt: skip


def _try(source: str) -> None:
    for dialect in ("sqlite", "postgresql"):
        with contextlib.suppress(FilterError):
            compile_filter(parse_filter(source), AnyResolver(), dialect, params={"p": "v"})
    with contextlib.suppress(FilterError):
        compile_sort(parse_sort(source), AnyResolver())


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=80))
def test_arbitrary_characters_raise_only_filter_error(source: str) -> None:
    _try(source)


@settings(max_examples=400, deadline=None)
@given(st.lists(TOKENS, max_size=25).map(" ".join))
def test_arbitrary_token_soup_raises_only_filter_error(source: str) -> None:
    _try(source)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_unicode_raises_only_filter_error(source: str) -> None:
    _try(source)


# NUL is refused anywhere in a filter (as PocketBase does), so it is no literal to bind
VALUES = st.text(min_size=1, max_size=30).filter(lambda s: s.strip("'\"\\") == s and "\x00" not in s)


@settings(max_examples=300, deadline=None)
@given(
    VALUES,
    st.sampled_from(OPERATORS),
    st.sampled_from(["a", "n", "m.x", "j.k"]),
    st.sampled_from(["sqlite", "postgresql"]),
)
def test_string_literals_are_bound_never_inlined(
    value: str, op: str, field: str, dialect: str
) -> None:
    quoted = "'" + value.replace("\\", "").replace("'", "") + "'"
    if quoted == "''":
        return
    compiled = compile_filter(parse_filter(f"{field} {op} {quoted}"), AnyResolver(), dialect)
    literal = quoted[1:-1]
    sql_without_placeholders = compiled.sql
    for name in compiled.params:
        sql_without_placeholders = sql_without_placeholders.replace(f":{name}", "")
    if compiled.params:
        # the literal travels as a bound value (LIKE patterns add escapes and wildcards around it;
        # against a number column a numeric literal is bound as the number it spells)
        assert any(
            literal in str(v).replace("\\", "") or (isinstance(v, float) and v == float(literal))
            for v in compiled.params.values()
        )
    if len(literal) > 3:
        # never inlined as an SQL string; a bare substring check would trip on literals that
        # happen to spell compiler text such as ' WHE' in CASE WHEN, or NULL
        assert f"'{literal}'" not in sql_without_placeholders
