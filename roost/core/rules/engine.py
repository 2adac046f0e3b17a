"""Rule semantics and the bridge from core to the filter compiler.

``None`` locks an action to superusers, ``""`` makes it public, anything else is a filter
expression evaluated with the record as the base. Superusers bypass every rule.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from roost.core.errors import BadRequest, Forbidden
from roost.core.events import RequestInfo
from roost.core.rules.resolver import RecordFieldResolver
from roost.core.rules.superuser_roles import check_superuser_records
from roost.core.schema.api_keys import RULE_OPERATIONS
from roost.core.schema.collection import Collection
from roost.tools.filter import (
    Binder,
    FilterError,
    SortKey,
    compile_filter,
    compile_sort,
    compile_sort_keys,
    parse_filter,
    parse_rule,
    parse_sort,
)

if TYPE_CHECKING:
    from roost.core.base import App

ONLY_SUPERUSERS = "Only superusers can perform this action."
KEY_OUT_OF_SCOPE = "The API key has no scope for this action."
BAD_REQUEST = "Something went wrong while processing your request."


def require_rule(coll: Collection, rule_name: str, info: RequestInfo) -> str | None:
    """Return the rule expression to enforce ("" when none applies); 403 when locked.

    Returns None when the caller is a superuser (no condition at all).
    """
    if info.is_superuser:
        check_superuser_records(info, coll, rule_name)
        return None
    if info.api_key is not None and not info.api_key.allows(coll, RULE_OPERATIONS[rule_name]):
        raise Forbidden(KEY_OUT_OF_SCOPE)
    rule = coll.rule(rule_name)
    if rule is None:
        raise Forbidden(ONLY_SUPERUSERS)
    return rule


def new_binder(app: App, prefix: str = "p") -> Binder:
    return Binder(app.dialect, prefix=prefix)


def _resolver(app: App, coll: Collection, info: RequestInfo, alias: str, allow_hidden: bool) -> RecordFieldResolver:
    return RecordFieldResolver(app.collections.get, coll, alias=alias, info=info, allow_hidden=allow_hidden, dialect=app.dialect)


def compile_condition(
    app: App,
    coll: Collection,
    expression: str,
    info: RequestInfo,
    alias: str,
    *,
    allow_hidden: bool,
    is_filter: bool = False,
    binder: Binder | None = None,
) -> tuple[str, dict[str, Any]]:
    """Compile a rule or user filter into ``(sql, params)`` over ``alias``.

    Pass one ``binder`` for every fragment of the same statement. Raises BadRequest for an
    expression that does not parse or resolve.
    """
    binder = binder or new_binder(app)
    try:
        key = (coll.id, coll.version)
        tree = parse_filter(expression, cache_key=key) if is_filter else parse_rule(expression, cache_key=key)
        compiled = compile_filter(tree, _resolver(app, coll, info, alias, allow_hidden), binder=binder)
    except FilterError as exc:
        raise BadRequest(BAD_REQUEST) from exc
    return compiled.sql, compiled.params


def compile_order(
    app: App, coll: Collection, sort: str, info: RequestInfo, alias: str, binder: Binder
) -> str:
    """The ORDER BY clause (with a leading space) for a user ``sort``; '' when empty."""
    if not sort.strip():
        return ""
    try:
        compiled = compile_sort(parse_sort(sort), _resolver(app, coll, info, alias, info.is_superuser), binder)
    except FilterError as exc:
        raise BadRequest(BAD_REQUEST) from exc
    return f" ORDER BY {compiled.sql}" if compiled.sql else ""


def compile_order_keys(
    app: App, coll: Collection, sort: str, info: RequestInfo, alias: str, binder: Binder
) -> list[SortKey]:
    """The ORDER BY expressions of a user ``sort``, each with its direction; BadRequest when invalid."""
    try:
        return compile_sort_keys(parse_sort(sort), _resolver(app, coll, info, alias, info.is_superuser), binder)
    except FilterError as exc:
        raise BadRequest(BAD_REQUEST) from exc


def validate_rule(app: App, coll: Collection, expression: str) -> str | None:
    """The parse or resolve error of a rule being saved on ``coll`` (not cached yet), or None."""

    def lookup(name_or_id: str) -> Collection | None:
        if name_or_id in (coll.id, coll.name) or name_or_id.lower() == coll.name.lower():
            return coll
        return app.collections.get(name_or_id)

    resolver = RecordFieldResolver(lookup, coll, alias='"_r"', info=RequestInfo(), allow_hidden=True, dialect=app.dialect)
    try:
        compile_filter(parse_rule(expression), resolver, binder=new_binder(app))
    except FilterError as exc:
        return rule_error_text(str(exc))
    return None


_UNKNOWN_FIELD = re.compile(r"^Unknown field '(.+)'\.$")


def rule_error_text(message: str) -> str:
    """PocketBase's wording of the two common rule errors, which admin UIs show verbatim."""
    match = _UNKNOWN_FIELD.match(message)
    if match:
        return f'invalid left operand "{match.group(1)}" - unknown field "{match.group(1)}"'
    if message.startswith(("Expected", "Unexpected", "Unterminated", "Invalid character")):
        return "invalid or incomplete filter expression"
    return message.rstrip(".")
