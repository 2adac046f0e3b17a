"""Filter functions: ``geoDistance`` and ``strftime``.

Arguments are resolved operands; a multi-valued one is read on the current row of its shared
joins, so a function result is always a single value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from roost.tools.filter.ast import Call, Identifier, Literal
from roost.tools.filter.ast import Operand as OperandNode
from roost.tools.filter.errors import FilterError, shorten
from roost.tools.filter.operands import NUMBER, TEXT, Binder, Operand

MAX_STRFTIME_ARGS = 10


def call(name: str, args: list[Operand], nodes: Sequence[OperandNode], binder: Binder) -> Operand:
    """Compile function ``name`` applied to resolved ``args`` (``nodes`` are their syntax).

    Multi-valued arguments contribute the current row of their shared joins only: like
    PocketBase, a function result is a single value and never gets the match-all check.
    """
    impl = _FUNCTIONS.get(name)
    if impl is None:
        raise FilterError(f"Unknown function {shorten(name)!r}.")
    result = impl(args, nodes, binder)
    hoists = tuple(dict.fromkeys(h for a in args for h in a.hoists))
    return replace(result, hoists=hoists)


def _number(operand: Operand, binder: Binder) -> str:
    if operand.static:
        value = operand.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            value = None if not isinstance(value, bool) else int(value)
        return binder.bind(value)
    return (
        binder.dialect.to_number(operand.sql, operand.kind)
        if operand.kind != NUMBER
        else operand.sql
    )


def _geo_distance(args: list[Operand], nodes: Sequence[OperandNode], binder: Binder) -> Operand:
    if len(args) != 4:
        raise FilterError(f"geoDistance() expects 4 arguments, got {len(args)}.")
    for node in nodes:
        if not isinstance(node, Identifier) and not (
            isinstance(node, Literal) and isinstance(node.value, int | float)
        ):
            raise FilterError("geoDistance() arguments must be numbers or identifiers.")
    lon_a, lat_a, lon_b, lat_b = (_number(a, binder) for a in args)
    return Operand(
        sql=binder.dialect.geo_distance(lon_a, lat_a, lon_b, lat_b), kind=NUMBER, expression=True
    )


def _strftime(args: list[Operand], nodes: Sequence[OperandNode], binder: Binder) -> Operand:
    if not 1 <= len(args) <= MAX_STRFTIME_ARGS:
        raise FilterError(f"strftime() expects 1 to {MAX_STRFTIME_ARGS} arguments.")
    if not (isinstance(nodes[0], Literal) and isinstance(nodes[0].value, str)):
        raise FilterError("strftime() expects a format string as its first argument.")
    modifiers: list[str] = []
    for node in nodes[2:]:
        if not (isinstance(node, Literal) and isinstance(node.value, str)):
            raise FilterError("strftime() modifiers must be text literals.")
        modifiers.append(node.value)
    time_sql = None
    if len(args) > 1:
        if isinstance(nodes[1], Call):
            raise FilterError("strftime() time value must be a literal or an identifier.")
        time_sql = _time_value(
            args[1], "unixepoch" in [m.strip().lower() for m in modifiers], binder
        )
    sql = binder.dialect.strftime(nodes[0].value, time_sql, modifiers, binder.bind)
    return Operand(sql=sql, kind=TEXT, expression=True)


def _time_value(value: Operand, unixepoch: bool, binder: Binder) -> str | None:
    if value.static and value.value == "now":
        return None
    if not binder.dialect.typed:
        return binder.bind(value.value) if value.static else value.sql
    target = NUMBER if unixepoch else TEXT
    if value.static:
        raw = value.value
        if target == TEXT:
            return binder.bind(None if raw is None else str(raw))
        return binder.bind(raw if isinstance(raw, int | float) else None)
    if value.kind == target:
        return value.sql
    if target == TEXT:
        return binder.dialect.to_text(value.sql, value.kind)
    return binder.dialect.to_number(value.sql, value.kind)


_FUNCTIONS: dict[str, Callable[[list[Operand], Sequence[OperandNode], Binder], Operand]] = {
    "geoDistance": _geo_distance,
    "strftime": _strftime,
}
