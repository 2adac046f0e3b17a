"""From GraphQL text to a document ready to run, and errors into GraphQL's shape: shared by the
HTTP endpoint and the WebSocket transport, so both apply the same limits and report alike."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    parse,
    specified_rules,
    validate,
)

from roost.apis.errors import STATUS, sentenize
from roost.apis.graphql.limits import Limits, check_limits
from roost.core.app import App
from roost.core.errors import RoostError

log = logging.getLogger("roost.graphql")
#: tokens one document may hold (the lexer stops there, before any parsing work is wasted)
MAX_TOKENS = 20_000
_SERVER_ERROR = "Something went wrong while processing your request."


#: prepared documents kept per schema (clients send the same few queries over and over)
CACHE_SIZE = 256


def prepare(
    app: App, schema: GraphQLSchema, query: str, *, superuser: bool, cache: OrderedDict[Any, Any] | None = None
) -> DocumentNode | list[dict[str, Any]]:
    """The parsed document, or the errors that stop it (syntax, limits, validation).

    ``cache`` (one per schema) keeps the outcome by query text and whether introspection is
    allowed, so a repeated query skips the parser and the validation rules.
    """
    introspection = app.config.graphql_introspection or superuser
    if cache is None:
        return _prepare(app, schema, query, introspection)
    key = (query, introspection)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _prepare(app, schema, query, introspection)
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return found


def _prepare(app: App, schema: GraphQLSchema, query: str, introspection: bool) -> DocumentNode | list[dict[str, Any]]:
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as exc:
        return [format_error(exc, "graphql_parse")]
    config = app.config
    limits = Limits(config.graphql_max_depth, config.graphql_max_aliases, config.graphql_max_fields)
    rules = specified_rules if introspection else (*specified_rules, NoSchemaIntrospectionCustomRule)
    errors = check_limits(document, limits) or validate(schema, document, rules)
    if errors:
        return [format_error(e, "graphql_validation") for e in errors]
    return document


def format_error(error: GraphQLError, code: str) -> dict[str, Any]:
    """One error as GraphQL formats it, with Roost's status, code and field data in ``extensions``."""
    out: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if isinstance(original, RoostError):
        out["message"] = sentenize(original.message)
        out["extensions"] = {"status": STATUS.get(original.kind, 400), "code": original.kind, "data": original.data}
    elif original is not None:
        log.error("graphql resolver failed", exc_info=original)
        out["message"] = _SERVER_ERROR
        out["extensions"] = {"status": 500, "code": "internal"}
    else:
        out["extensions"] = {"status": 400, "code": code, **(error.extensions or {})}
    return out


def request_error(message: str, status: int = 400, code: str = "bad_request", data: Any = None) -> dict[str, Any]:
    """An error of the request itself (no location, no path)."""
    extensions: dict[str, Any] = {"status": status, "code": code}
    if data:
        extensions["data"] = data
    return {"message": message, "extensions": extensions}
