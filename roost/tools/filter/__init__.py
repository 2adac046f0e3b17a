"""PocketBase's filter and rule language: parse, compile to parameterised SQL, and sort.

Typical use (``resolver`` implements :class:`FieldResolver`, e.g. ``roost.core.rules.resolver``)::

    binder = Binder("sqlite")
    where = compile_filter(parse_filter(text, cache_key=collection.version), resolver,
                           binder=binder).sql
    order = compile_sort(parse_sort(sort_text), resolver, binder)
    rows = conn.execute(sqlalchemy.text(f"SELECT ... WHERE {where} ORDER BY {order}"), binder.params)
"""

from __future__ import annotations

from collections.abc import Hashable

from roost.tools.filter.ast import (
    ANY_OPERATORS,
    OPERATORS,
    Call,
    Comparison,
    Expr,
    Identifier,
    Join,
    Literal,
    Placeholder,
)
from roost.tools.filter.cache import ParseCache
from roost.tools.filter.compiler import CompiledFilter, compare, compile_filter
from roost.tools.filter.dialect_lookup import DIALECTS, get_dialect
from roost.tools.filter.dialects import Dialect, PostgresDialect
from roost.tools.filter.errors import FilterError
from roost.tools.filter.macros import MACRO_NAMES, format_datetime
from roost.tools.filter.operands import (
    BOOL,
    JSON,
    NULL,
    NUMBER,
    TEXT,
    Binder,
    FieldResolver,
    Hoist,
    Operand,
)
from roost.tools.filter.parser import MAX_EXPRESSIONS, MAX_LENGTH, parse
from roost.tools.filter.sort import SortField, SortKey, compile_sort, compile_sort_keys, parse_sort

__all__ = [
    "ANY_OPERATORS",
    "BOOL",
    "DIALECTS",
    "JSON",
    "MACRO_NAMES",
    "MAX_EXPRESSIONS",
    "MAX_LENGTH",
    "NULL",
    "NUMBER",
    "OPERATORS",
    "PARSE_CACHE",
    "RULE_MAX_EXPRESSIONS",
    "RULE_MAX_LENGTH",
    "TEXT",
    "Binder",
    "Call",
    "Comparison",
    "CompiledFilter",
    "Dialect",
    "Expr",
    "FieldResolver",
    "FilterError",
    "Hoist",
    "Identifier",
    "Join",
    "Literal",
    "Operand",
    "ParseCache",
    "Placeholder",
    "PostgresDialect",
    "SortField",
    "SortKey",
    "compare",
    "compile_filter",
    "compile_sort",
    "compile_sort_keys",
    "format_datetime",
    "get_dialect",
    "parse_filter",
    "parse_rule",
    "parse_sort",
]

#: limits for rules stored on collections (written by superusers, so more generous)
RULE_MAX_LENGTH = 1 << 16
RULE_MAX_EXPRESSIONS = 5000

PARSE_CACHE = ParseCache(1000)


def parse_filter(
    expression: str,
    *,
    cache_key: Hashable = None,
    max_length: int = MAX_LENGTH,
    max_expressions: int = MAX_EXPRESSIONS,
    user: bool = True,
) -> Expr:
    """Parse a filter, using the shared LRU cache keyed by ``(cache_key, expression)``.

    Args:
        expression: the filter text (must not be blank; callers skip empty filters).
        cache_key: e.g. the collection's version, so a changed collection gets fresh entries.
        max_length: longest accepted text (PocketBase: 3500).
        max_expressions: most comparisons accepted (PocketBase: 200).
        user: False for a stored rule: the rule limits replace the two above.

    Raises:
        FilterError: on any syntax error or exceeded limit.
    """
    if not user:
        max_length, max_expressions = RULE_MAX_LENGTH, RULE_MAX_EXPRESSIONS
    key = (cache_key, expression, max_length, max_expressions)
    cached = PARSE_CACHE.get(key)
    if cached is not None:
        return cached
    tree = parse(expression, max_length=max_length, max_expressions=max_expressions)
    PARSE_CACHE.put(key, tree)
    return tree


def parse_rule(rule: str, *, cache_key: Hashable = None) -> Expr:
    """Parse a collection rule with the larger rule limits (see :func:`parse_filter`)."""
    return parse_filter(
        rule, cache_key=cache_key, max_length=RULE_MAX_LENGTH, max_expressions=RULE_MAX_EXPRESSIONS
    )
