"""Compile a filter tree into a parameterised SQL condition.

Design notes:

* Every user value is bound through a :class:`~roost.tools.filter.operands.Binder`; SQL text only
  ever contains fixed keywords, quoted schema names and ``:pN`` placeholders.
* Relation paths, ``:each`` and ``@collection`` become LEFT JOINs shared by every comparison of
  the filter (see :class:`~roost.tools.filter.operands.Hoist`), evaluated in one correlated
  ``EXISTS`` so the outer list query never needs DISTINCT. As in PocketBase, ``cats.a ?= 1 &&
  cats.b ?= 2`` must then be satisfied by the same related row, and a record without related
  rows is seen through one row of NULLs. Plain operators on multi-valued operands also require
  every value to match (:func:`compare`).
* ``=``/``!=`` treat NULL and ``''`` alike, JSON operands compare with ``IS``, and ``~`` wraps
  text in ``%...%``, exactly like PocketBase. On typed dialects operands are first converted to a
  common type (:func:`_target_kind`) mirroring SQLite's affinity rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
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
    Hoist,
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
    return CompiledFilter(with_hoists(sql, compiler.hoists.values(), binder), binder.params)


def with_hoists(sql: str, hoists: Iterable[Hoist], binder: Binder) -> str:
    """Evaluate ``sql`` over the shared joins ``hoists`` (unchanged when there are none).

    The joins are LEFT JOINs padded by a one-row table, so a record without related rows
    still gets one row of NULLs, exactly like PocketBase's LEFT JOINs plus DISTINCT.
    """
    joins = " ".join(f"LEFT JOIN {h.from_item} ON {h.on}" for h in hoists)
    if not joins:
        return sql
    pad = binder.alias("pad")
    return f"EXISTS (SELECT 1 FROM (SELECT 1 AS one) AS {pad} {joins} WHERE {sql})"


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
        self.hoists: dict[str, Hoist] = {}

    def expr(self, node: Expr) -> str:
        if isinstance(node, Join):
            glue = " AND " if node.op == "and" else " OR "
            return "(" + glue.join(self.expr(item) for item in node.items) + ")"
        return self.comparison(node)

    def comparison(self, node: Comparison) -> str:
        left = hoisted(self.operand(node.left), self.binder)
        right = hoisted(self.operand(node.right), self.binder)
        for hoist in (*left.hoists, *right.hoists):
            self.hoists.setdefault(hoist.key, hoist)
        return compare(left, node.op, right, self.binder)

    def operand(self, node: OperandNode) -> Operand:
        if isinstance(node, Literal):
            value = node.value
            # PocketBase binds every number literal as a float64 (SQLite then renders 5 as '5.0'
            # when it compares it with a text column)
            return Operand.of_value(_go_float(value) if isinstance(value, int | float) else value)
        if isinstance(node, Placeholder):
            if node.name not in self.params:
                raise FilterError(f"Missing value for placeholder {{:{shorten(node.name)}}}.")
            value = self.params[node.name]
            return Operand.of_value(int(value) if isinstance(value, bool) else value)
        if isinstance(node, Call):
            args = [hoisted(self.operand(a), self.binder) for a in node.args]
            return functions.call(node.name, args, node.args, self.binder)
        return self.identifier(node)

    def identifier(self, node: Identifier) -> Operand:
        if node.name == "@rowid":  # a sort key only: PocketBase's filters and rules do not know it
            raise FilterError("Unknown field '@rowid'.")
        if node.name in MACRO_NAMES:
            return Operand.of_value(macro_value(node.name, self.now))
        try:
            return self.resolver.resolve(node.name, self.binder)
        except FilterError:
            # like PocketBase, null/true/false are literals unless a field has that name
            if node.name.lower() in _LITERAL_IDENTIFIERS:
                return Operand.of_value(_LITERAL_IDENTIFIERS[node.name.lower()])
            raise


def hoisted(operand: Operand, binder: Binder) -> Operand:
    """``operand`` with shared joins: a bare ``source`` becomes a join of its own.

    Identical source text means the same values, so it gets the same join (and row).
    """
    if operand.source is None or operand.hoists:
        return operand
    key = "source:" + operand.source
    from_item, value = binder.dialect.source_table(operand.source, binder.hoist_alias(key))
    return replace(operand, sql=value, hoists=(Hoist(key, from_item),))


def compare(left: Operand, op: str, right: Operand, binder: Binder) -> str:
    """SQL of ``left op right`` for any operator, applying the multi-value semantics.

    Operands are compared on the current row of their shared joins (see :func:`with_hoists`).
    A plain operator on a multi-valued operand must moreover hold for every one of its values:
    ``NOT EXISTS (SELECT 1 FROM (values) WHERE NOT (cond))``. As in PocketBase a value for which
    ``cond`` is NULL does not count against it, and ``?`` operators skip the check.
    """
    any_match = op in ANY_OPERATORS
    base = op[1:] if any_match else op
    sql = _scalar(left, base, right, binder)
    if not any_match and left.multi and right.multi:
        sql = f"({sql} AND {_many_vs_many(left, base, right, binder)})"
    elif not any_match and (left.multi or right.multi):
        sql = f"({sql} AND {_many_vs_one(left, base, right, binder)})"
    guards = [g for g in (left.guard, right.guard) if g]
    return "(" + " AND ".join([sql, *guards]) + ")" if guards else sql


def _values_of(side: Operand, binder: Binder) -> tuple[str, Operand]:
    assert side.source is not None
    from_item, value = binder.dialect.source_table(side.source, binder.alias("mm"))
    return from_item, replace(side, sql=value, source=None, hoists=(), guard=None)


def _unshared(other: Operand, binder: Binder) -> Operand:
    # PocketBase compares the values with the other side's bare expression: no guard, and a
    # JSON column is no longer compared with IS (which only SQLite can afford to mimic)
    kind = TEXT if other.kind == JSON and not binder.dialect.typed else other.kind
    return replace(other, guard=None, kind=kind)


def _many_vs_one(left: Operand, op: str, right: Operand, binder: Binder) -> str:
    if left.multi:
        from_item, element = _values_of(left, binder)
        cond = _scalar(element, op, _unshared(right, binder), binder)
    else:
        from_item, element = _values_of(right, binder)
        cond = _scalar(_unshared(left, binder), op, element, binder)
    return f"NOT EXISTS (SELECT 1 FROM {from_item} WHERE NOT ({cond}))"


def _many_vs_many(left: Operand, op: str, right: Operand, binder: Binder) -> str:
    left_from, left_element = _values_of(left, binder)
    right_from, right_element = _values_of(right, binder)
    cond = _scalar(left_element, op, right_element, binder)
    return (
        f"NOT EXISTS (SELECT 1 FROM {left_from} LEFT JOIN {right_from} ON 1=1 "
        f"WHERE NOT ({cond}))"
    )


def _scalar(left: Operand, op: str, right: Operand, binder: Binder) -> str:
    if op in ("=", "!="):
        return _equal(op == "=", left, right, binder)
    if op in ("~", "!~"):
        return _like(op == "!~", left, right, binder)
    clash = _class_clash(left, op, right, binder) or _json_clash(left, op, right, binder)
    if clash:
        return clash
    lsql, rsql = _pair(left, right, binder)
    return f"{lsql} {op} {rsql}"


def _is_empty(operand: Operand) -> bool:
    return operand.static and operand.value in (None, "")


def _is_known(operand: Operand) -> bool:
    return (operand.static and operand.value not in (None, "")) or operand.nonempty


def _equal(equal: bool, left: Operand, right: Operand, binder: Binder) -> str:
    dialect = binder.dialect
    if JSON in (left.kind, right.kind):
        clash = _json_clash(left, "=" if equal else "!=", right, binder)
        if clash:
            return clash
        lsql, rsql = _pair(left, right, binder)
        return dialect.is_expr(lsql, rsql, negate=not equal)
    left_empty, right_empty = _is_empty(left), _is_empty(right)
    if left_empty and right_empty:
        return dialect.true_sql if equal else dialect.false_sql
    if _is_known(left) or _is_known(right):
        # an empty side becomes '' (PocketBase: `a = ''`, never `a = NULL`)
        left = Operand.of_value("") if left_empty else left
        right = Operand.of_value("") if right_empty else right
        clash = _class_clash(left, "=" if equal else "!=", right, binder)
        if clash:
            return clash
        lsql, rsql = _pair(left, right, binder)
        return f"{lsql} = {rsql}" if equal else dialect.is_expr(lsql, rsql, negate=True)
    if left_empty or right_empty:
        column = right if left_empty else left
        csql, empty = _pair(column, Operand.of_value(""), binder)
        if equal:
            return f"({csql} = {empty} OR {column.sql} IS NULL)"
        return f"({dialect.is_expr(csql, empty, negate=True)} AND {column.sql} IS NOT NULL)"
    lsql, rsql = _pair(left, right, binder)
    if dialect.typed and _target_kind(left, right) != TEXT:
        return dialect.is_expr(lsql, rsql, negate=not equal)
    lsql, rsql = f"COALESCE({lsql}, '')", f"COALESCE({rsql}, '')"
    return f"{lsql} = {rsql}" if equal else dialect.is_expr(lsql, rsql, negate=True)


def _like(negate: bool, left: Operand, right: Operand, binder: Binder) -> str:
    lsql = _render(left, TEXT, binder)
    if right.static and right.value is not None:
        pattern = binder.bind(like_pattern(_like_text(right.value)))
        return binder.dialect.like_expr(lsql, pattern, negate)
    rsql = _render(right, TEXT, binder)
    return binder.dialect.like_expr(lsql, f"('%' || {rsql} || '%')", negate)


def _class(operand: Operand) -> str | None:
    """SQLite storage class of a value (None: unknown or NULL)."""
    if operand.static:
        value = operand.value
        return None if value is None else TEXT if isinstance(value, str) else NUMBER
    return {TEXT: TEXT, NUMBER: NUMBER, BOOL: NUMBER}.get(operand.kind)


def _affinity(operand: Operand) -> str | None:
    return None if operand.static or operand.expression else _class(operand)


def _converted(operand: Operand, affinity: str | None) -> str | None:
    """The class of ``operand`` after SQLite applies the other side's ``affinity`` to it."""
    own = _class(operand)
    if own is None or _affinity(operand) == NUMBER or affinity is None or own == affinity:
        return own
    if affinity == TEXT:
        return None if _affinity(operand) == TEXT else TEXT
    if operand.static:  # a numeric affinity turns numeric-looking text into a number
        return NUMBER if _NUMERIC_RE.match(operand.value) else TEXT
    return None


def _class_clash(left: Operand, op: str, right: Operand, binder: Binder) -> str | None:
    """On typed dialects, SQLite's answer when it would compare a number with a text.

    SQLite never finds such values equal and sorts every number before every text; the typed
    conversions of :func:`_pair` would instead turn the text into NULL (or the number into
    text). Returns None when the classes are equal or only known at run time.
    """
    if not binder.dialect.typed:
        return None
    left_class = _converted(left, _affinity(right))
    right_class = _converted(right, _affinity(left))
    if None in (left_class, right_class) or left_class == right_class:
        return None
    nullable = [s.sql for s in (left, right) if not s.static]
    if op == "!=":
        both_null = " AND ".join(f"{sql} IS NULL" for sql in nullable)
        return f"(NOT ({both_null}))" if len(nullable) == 2 else binder.dialect.true_sql
    answer = op != "=" and (op in ("<", "<=")) == (left_class == NUMBER)
    outcome = binder.dialect.true_sql if answer else binder.dialect.false_sql
    if not nullable:
        return outcome
    any_null = " OR ".join(f"{sql} IS NULL" for sql in nullable)
    return f"(CASE WHEN {any_null} THEN NULL ELSE {outcome} END)"


def _json_clash(left: Operand, op: str, right: Operand, binder: Binder) -> str | None:
    """On typed dialects, a JSON value against a static one with SQLite's class rules.

    SQLite's ``json_extract`` yields a number for JSON numbers and booleans and a text for
    anything else, and compares it with the other value without conversion.
    """
    dialect = binder.dialect
    sides = (left, right) if left.kind == JSON else (right, left)
    json_side, other = sides
    if not dialect.typed or json_side.kind != JSON or json_side.static or not other.static:
        return None
    if other.kind == NULL or isinstance(other.value, bool):
        return None
    other_class = TEXT if isinstance(other.value, str) else NUMBER
    if other_class == TEXT:
        mismatch = dialect.json_is_number(json_side.sql)
        value = Operand(sql=dialect.to_text(json_side.sql, JSON), kind=TEXT, expression=True)
    else:
        mismatch = dialect.json_is_text(json_side.sql)
        value = Operand(sql=dialect.to_number(json_side.sql, JSON), kind=NUMBER, expression=True)
    pair = (value, other) if left is json_side else (other, value)
    lsql, rsql = _pair(*pair, binder)
    if op in ("=", "!="):
        same = dialect.is_expr(lsql, rsql, negate=op == "!=")
        answer = op == "!="
    else:
        same = f"{lsql} {op} {rsql}"
        json_first = (left is json_side) == (other_class == TEXT)  # the number sorts first
        answer = (op in ("<", "<=")) == json_first
    outcome = dialect.true_sql if answer else dialect.false_sql
    return f"(CASE WHEN {mismatch} THEN {outcome} ELSE {same} END)"


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


def _go_float(value: int | float) -> float:
    """A number literal as PocketBase binds it (Go's cast.ToFloat64): 0 when out of float64's range."""
    try:
        number = float(value)
    except OverflowError:
        return 0.0
    return 0.0 if math.isinf(number) else number


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


def _like_text(value: Any) -> str:
    # Go's cast.ToString: a whole float prints without a fraction (5.0 -> "5")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return _to_text_value(value) or ""


def _to_text_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    return None if value is None else str(value)
