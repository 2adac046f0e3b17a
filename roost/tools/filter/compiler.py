"""Compile a filter tree into a parameterised SQL condition.

Design notes:

* Every user value is bound through a :class:`~roost.tools.filter.operands.Binder`; SQL text only
  ever contains fixed keywords, quoted schema names and ``:pN`` placeholders.
* Multi-valued operands (multiple relations, back-relations, ``:each``, ``@collection``) are
  compiled into correlated ``EXISTS``/``NOT EXISTS`` subqueries rather than joins, so the outer
  list query never needs DISTINCT and its COUNT stays cheap. An empty set is padded to a single
  NULL value (``(SELECT 1) LEFT JOIN (source) ON 1=1``), which reproduces PocketBase's LEFT JOIN
  behaviour: a plain operator must hold for *every* value (and a NULL value fails every plain
  operator but ``=``), a ``?`` operator for *at least one*.
* ``=``/``!=`` treat NULL and ``''`` alike, JSON operands compare with ``IS``, and ``~`` wraps
  text in ``%...%``, exactly like PocketBase. On typed dialects operands are first converted to a
  common type (:func:`_target_kind`) mirroring SQLite's affinity rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from roost.tools.filter import functions
from roost.tools.filter.ast import (
    ANY_OPERATORS,
    Call,
    Comparison,
    Expr,
    Identifier,
    Join,
    Literal,
    Placeholder,
)
from roost.tools.filter.ast import Operand as OperandNode
from roost.tools.filter.dialects import Dialect
from roost.tools.filter.errors import FilterError, shorten
from roost.tools.filter.likes import like_pattern
from roost.tools.filter.macros import MACRO_NAMES, macro_value
from roost.tools.filter.operands import (
    BOOL,
    JSON,
    NULL,
    NUMBER,
    TEXT,
    Binder,
    FieldResolver,
    Operand,
)

_NUMERIC_RE = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*\Z")
_LITERAL_IDENTIFIERS: dict[str, Any] = {"null": None, "true": 1, "false": 0}


class CompiledFilter(NamedTuple):
    """A SQL condition and the parameters it binds (SQLAlchemy ``text()`` named style)."""

    sql: str
    params: dict[str, Any]


def compile_filter(
    expr: Expr,
    resolver: FieldResolver,
    dialect: Dialect | str = "sqlite",
    *,
    params: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    binder: Binder | None = None,
) -> CompiledFilter:
    """Compile a parsed filter into ``(sql, params)``.

    Args:
        expr: the tree from :func:`~roost.tools.filter.parse_filter`.
        resolver: resolves identifiers (fields, ``@request.*`` ...) into operands.
        dialect: ``sqlite``, ``postgresql`` or a :class:`Dialect`; ignored when ``binder`` is given.
        params: values of ``{:name}`` placeholders.
        now: the instant datetime macros refer to (default: now, UTC).
        binder: share a binder to compile several fragments into one statement.

    Raises:
        FilterError: for unknown fields or functions, missing placeholders and other misuse.
    """
    binder = binder or Binder(dialect)
    compiler = _Compiler(resolver, binder, params or {}, now)
    sql = compiler.expr(expr)
    if compiler.hoists:
        pad = binder.alias("pad")
        joins = " ".join(f"LEFT JOIN {item} ON 1=1" for item in compiler.hoists.values())
        sql = f"EXISTS (SELECT 1 FROM (SELECT 1 AS one) AS {pad} {joins} WHERE {sql})"
    return CompiledFilter(sql, binder.params)


class _Compiler:
    def __init__(
        self,
        resolver: FieldResolver,
        binder: Binder,
        params: Mapping[str, Any],
        now: datetime | None,
    ) -> None:
        self.resolver = resolver
        self.binder = binder
        self.params = params
        self.now = now
        self.hoists: dict[str, str] = {}

    def expr(self, node: Expr) -> str:
        if isinstance(node, Join):
            glue = " AND " if node.op == "and" else " OR "
            return "(" + glue.join(self.expr(item) for item in node.items) + ")"
        return self.comparison(node)

    def comparison(self, node: Comparison) -> str:
        left, right = self.operand(node.left), self.operand(node.right)
        for hoist in (*left.hoists, *right.hoists):
            self.hoists.setdefault(hoist.key, hoist.from_item)
        return compare(left, node.op, right, self.binder)

    def operand(self, node: OperandNode) -> Operand:
        if isinstance(node, Literal):
            return Operand.of_value(node.value)
        if isinstance(node, Placeholder):
            if node.name not in self.params:
                raise FilterError(f"Missing value for placeholder {{:{shorten(node.name)}}}.")
            value = self.params[node.name]
            return Operand.of_value(int(value) if isinstance(value, bool) else value)
        if isinstance(node, Call):
            return functions.call(
                node.name, [self.operand(a) for a in node.args], node.args, self.binder
            )
        return self.identifier(node)

    def identifier(self, node: Identifier) -> Operand:
        if node.name in MACRO_NAMES:
            return Operand.of_value(macro_value(node.name, self.now))
        try:
            return self.resolver.resolve(node.name, self.binder)
        except FilterError:
            # like PocketBase, null/true/false are literals unless a field has that name
            if node.name.lower() in _LITERAL_IDENTIFIERS:
                return Operand.of_value(_LITERAL_IDENTIFIERS[node.name.lower()])
            raise


def compare(left: Operand, op: str, right: Operand, binder: Binder) -> str:
    """SQL of ``left op right`` for any operator, applying the multi-value semantics."""
    any_match = op in ANY_OPERATORS
    base = op[1:] if any_match else op
    if not left.multi and not right.multi:
        cond = _scalar(left, base, right, binder)
        return cond if any_match else _every(cond, left, base, right, binder)
    froms: list[str] = []
    nulls: list[str] = []
    elements = [_element(side, binder, froms, nulls) for side in (left, right)]
    from_sql = " CROSS JOIN ".join(froms)
    cond = _scalar(elements[0], base, elements[1], binder)
    exists = f"EXISTS (SELECT 1 FROM {from_sql} WHERE {cond})"
    if any_match:
        return exists
    violation = f"NOT ({cond})" + ("" if base == "=" else " OR " + " OR ".join(nulls))
    return f"({exists} AND NOT EXISTS (SELECT 1 FROM {from_sql} WHERE {violation}))"


def _every(cond: str, left: Operand, op: str, right: Operand, binder: Binder) -> str:
    """Add the match-all check of hoisted (``@collection``) operands to ``cond``."""
    sides = [s.hoists[0].every if len(s.hoists) == 1 else None for s in (left, right)]
    if sides == [None, None]:
        return cond
    froms: list[str] = []
    nulls: list[str] = []
    elements = [
        _element(replace(side, source=every), binder, froms, nulls) if every else side
        for side, every in zip((left, right), sides, strict=True)
    ]
    inner = _scalar(elements[0], op, elements[1], binder)
    violation = f"NOT ({inner})" + ("" if op == "=" else " OR " + " OR ".join(nulls))
    return f"({cond} AND NOT EXISTS (SELECT 1 FROM {' CROSS JOIN '.join(froms)} WHERE {violation}))"


def _element(side: Operand, binder: Binder, froms: list[str], nulls: list[str]) -> Operand:
    if side.source is None:
        return side
    alias, pad, inner = binder.alias("m"), binder.alias("pad"), binder.alias("s")
    froms.append(
        f"(SELECT {inner}.v AS v FROM (SELECT 1 AS one) AS {pad} "
        f"LEFT JOIN ({side.source}) AS {inner} ON 1=1) AS {alias}"
    )
    nulls.append(f"{alias}.v IS NULL")
    return Operand(sql=f"{alias}.v", kind=side.kind)


def _scalar(left: Operand, op: str, right: Operand, binder: Binder) -> str:
    if op in ("=", "!="):
        sql = _equal(op == "=", left, right, binder)
    elif op in ("~", "!~"):
        sql = _like(op == "!~", left, right, binder)
    else:
        lsql, rsql = _pair(left, right, binder)
        sql = f"{lsql} {op} {rsql}"
    guards = [g for g in (left.guard, right.guard) if g]
    return "(" + " AND ".join([sql, *guards]) + ")" if guards else sql


def _is_empty(operand: Operand) -> bool:
    return operand.static and operand.value in (None, "")


def _equal(equal: bool, left: Operand, right: Operand, binder: Binder) -> str:
    dialect = binder.dialect
    if JSON in (left.kind, right.kind):
        lsql, rsql = _pair(left, right, binder)
        return f"{lsql} {dialect.is_op(not equal)} {rsql}"
    left_empty, right_empty = _is_empty(left), _is_empty(right)
    if left_empty and right_empty:
        return dialect.true_sql if equal else dialect.false_sql
    if (left.static and not left_empty) or (right.static and not right_empty):
        lsql, rsql = _pair(left, right, binder)
        return f"{lsql} {'=' if equal else dialect.is_op(True)} {rsql}"
    if left_empty or right_empty:
        column = right if left_empty else left
        csql, empty = _pair(column, Operand.of_value(""), binder)
        if equal:
            return f"({csql} = {empty} OR {column.sql} IS NULL)"
        return f"({csql} {dialect.is_op(True)} {empty} AND {column.sql} IS NOT NULL)"
    lsql, rsql = _pair(left, right, binder)
    if dialect.typed and _target_kind(left, right) != TEXT:
        return f"{lsql} {dialect.is_op(not equal)} {rsql}"
    op = "=" if equal else dialect.is_op(True)
    return f"COALESCE({lsql}, '') {op} COALESCE({rsql}, '')"


def _like(negate: bool, left: Operand, right: Operand, binder: Binder) -> str:
    keyword = ("NOT " if negate else "") + binder.dialect.like
    lsql = _render(left, TEXT, binder)
    if right.static and right.value is not None:
        pattern = binder.bind(like_pattern(_to_text_value(right.value) or ""))
        return f"{lsql} {keyword} {pattern} ESCAPE '\\'"
    rsql = _render(right, TEXT, binder)
    return f"{lsql} {keyword} ('%' || {rsql} || '%') ESCAPE '\\'"


def _target_kind(left: Operand, right: Operand) -> str | None:
    """The common type two operands are compared in on a typed dialect (SQLite affinity rules)."""
    kinds = {left.kind, right.kind}
    if NULL in kinds:
        return TEXT if JSON in kinds else None
    if left.static != right.static:
        expr, static = (right, left) if left.static else (left, right)
        if expr.kind == JSON:
            return NUMBER if static.kind in (NUMBER, BOOL) else TEXT
        return NUMBER if expr.kind == BOOL else expr.kind
    if left.kind == right.kind:
        return TEXT if left.kind == JSON else left.kind
    if JSON in kinds:
        return TEXT if TEXT in kinds else NUMBER
    return NUMBER


def _pair(left: Operand, right: Operand, binder: Binder) -> tuple[str, str]:
    target = _target_kind(left, right) if binder.dialect.typed else None
    return _render(left, target, binder), _render(right, target, binder)


def _render(operand: Operand, target: str | None, binder: Binder) -> str:
    dialect = binder.dialect
    if operand.static:
        value = operand.value
        if dialect.typed and target == NUMBER:
            value = _to_number_value(value)
        elif dialect.typed and target == TEXT:
            value = _to_text_value(value)
        return binder.bind(value)
    if not dialect.typed or target is None or target == operand.kind:
        return operand.sql
    if target == TEXT:
        return dialect.to_text(operand.sql, operand.kind)
    if target == NUMBER:
        return dialect.to_number(operand.sql, operand.kind)
    return operand.sql


def _to_number_value(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMERIC_RE.match(value):
        try:
            return float(value)
        except (OverflowError, ValueError):  # pragma: no cover - the regex admits only floats
            return None
    return None


def _to_text_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    return None if value is None else str(value)
