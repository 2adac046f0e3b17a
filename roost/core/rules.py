"""Rule semantics and the bridge from core to the filter compiler.

``None`` locks an action to superusers, ``""`` makes it public, anything else is a filter
expression evaluated with the record as the base. Superusers bypass every rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roost.core.collections import Collection
from roost.core.errors import BadRequest, Forbidden
from roost.core.events import RequestInfo

if TYPE_CHECKING:
    from roost.core.app import App

ONLY_SUPERUSERS = "Only superusers can perform this action."


def require_rule(coll: Collection, rule_name: str, info: RequestInfo) -> str | None:
    """Return the rule expression to enforce ("" when none applies); 403 when locked.

    Returns None when the caller is a superuser (no condition at all).
    """
    if info.is_superuser:
        return None
    rule = coll.rule(rule_name)
    if rule is None:
        raise Forbidden(ONLY_SUPERUSERS)
    return rule


def compile_condition(
    app: App,
    coll: Collection,
    expression: str,
    info: RequestInfo,
    alias: str,
    *,
    allow_hidden: bool,
    is_filter: bool = False,
) -> tuple[str, dict[str, Any]]:
    """Compile a rule or user filter into ``(sql, params)`` over ``alias``.

    Raises BadRequest for an expression that does not parse or resolve.
    """
    from roost.core.resolver import RecordFieldResolver
    from roost.tools.filter import FilterError, compile_filter, parse_filter

    try:
        ast = parse_filter(expression, cache_key=f"{coll.id}:{coll.version}", user=is_filter)
        resolver = RecordFieldResolver(
            app.collections.get, coll, alias=alias, info=info, allow_hidden=allow_hidden, dialect=app.dialect
        )
        return compile_filter(ast, resolver, app.dialect)
    except FilterError as exc:
        raise BadRequest("Something went wrong while processing your request.") from exc


def validate_rule(app: App, coll: Collection, expression: str) -> str | None:
    """The parse or resolve error of a rule being saved on ``coll``, or None."""
    from roost.core.resolver import RecordFieldResolver
    from roost.tools.filter import FilterError, compile_filter, parse_filter

    try:
        ast = parse_filter(expression, cache_key=None, user=False)
        resolver = RecordFieldResolver(app.collections.get, coll, alias="_r", info=RequestInfo(), allow_hidden=True, dialect=app.dialect)
        compile_filter(ast, resolver, app.dialect)
    except FilterError as exc:
        return str(exc)
    return None
