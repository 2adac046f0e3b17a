"""``/api/graphql`` over HTTP: read the GraphQL request, prepare it, run it, answer in GraphQL's shape.

Errors keep GraphQL's ``{"data", "errors"}`` form. A Roost error raised by core keeps its status,
message and field data in the error's ``extensions`` (``{"status": 400, "code": "bad_request",
"data": {"title": {"code": "validation_required", ...}}}``), so a client sees the same codes as
REST gives. The answer is 200 whenever the operation ran or was refused as a GraphQL document;
a request that is not a GraphQL request at all (no query, bad JSON) is 400, and a mutation sent
with GET is 405.
"""

from __future__ import annotations

from inspect import isawaitable
from typing import Any

import orjson
from graphql import ExecutionResult, OperationType, execute, get_operation_ast
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from roost.apis.errors import STATUS, sentenize
from roost.apis.graphql.document import format_error, prepare, request_error
from roost.apis.graphql.graphiql import page, wants_page
from roost.apis.graphql.resolvers import Context
from roost.apis.graphql.schema import Built, build_schema
from roost.apis.graphql.uploads import operations_of
from roost.apis.request import app_of, auth_token, read_form, request_info
from roost.core.errors import RoostError


def schema_of(connection: HTTPConnection) -> Built:
    """The schema for the collections as they are now, rebuilt after any collection change.

    Keyed by every collection's id, version and name: a change made here, or made on another
    instance and reloaded into this one's collection cache, gives a new key, so the next request
    rebuilds.
    """
    app = app_of(connection)
    key = tuple(sorted((c.id, c.version, c.name) for c in app.collections.all()))
    cached: tuple[Any, Built] | None = getattr(connection.app.state, "graphql_schema", None)
    if cached is None or cached[0] != key:
        cached = (key, build_schema(app.collections.all()))
        connection.app.state.graphql_schema = cached
    return cached[1]


async def graphql_endpoint(request: Request) -> Response:
    if wants_page(request):
        return page()
    try:
        params = await _params(request)
    except ValueError as exc:
        return _answer({"errors": [request_error(str(exc))]}, 400)
    try:
        info = await request_info(request)
    except RoostError as exc:  # a session cookie that fails the CSRF checks
        status = STATUS.get(exc.kind, 400)
        return _answer({"errors": [request_error(sentenize(exc.message), status, exc.kind, exc.data)]}, status)
    app, built = app_of(request), schema_of(request)
    document = prepare(app, built.schema, params["query"], superuser=info.is_superuser, cache=built.documents)
    if isinstance(document, list):
        return _answer({"errors": document})
    operation = get_operation_ast(document, params["operationName"])
    if operation is not None and operation.operation == OperationType.SUBSCRIPTION:
        message = "Subscriptions are served over WebSocket (graphql-transport-ws) at the same URL."
        return _answer({"errors": [request_error(message)]}, 400)
    if request.method == "GET" and operation is not None and operation.operation != OperationType.QUERY:
        message = "Only queries may be sent with GET; send mutations with POST."
        return _answer({"errors": [request_error(message, 405, "method_not_allowed")]}, 405)
    context = Context(app, info, str(request.base_url).rstrip("/"), built.links, token=auth_token(request))
    result = execute(built.schema, document, context_value=context,
                     variable_values=params["variables"], operation_name=params["operationName"])  # fmt: skip
    if isawaitable(result):
        result = await result
    assert isinstance(result, ExecutionResult)
    return _answer(result_body(result))


def result_body(result: ExecutionResult) -> dict[str, Any]:
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [format_error(e, "graphql_execution") for e in result.errors]
    return body


async def _params(request: Request) -> dict[str, Any]:
    """``query``, ``variables`` and ``operationName`` from the query string (GET), the JSON body,
    or a multipart request's ``operations`` with its files in place."""
    if request.method == "GET":
        raw: Any = dict(request.query_params)
        if isinstance(raw.get("variables"), str) and raw["variables"]:
            try:
                raw["variables"] = orjson.loads(raw["variables"])
            except orjson.JSONDecodeError as exc:
                raise ValueError("The variables parameter is not valid JSON.") from exc
    elif _content_type(request) == "multipart/form-data":
        raw = operations_of(await read_form(request))
    else:
        try:
            raw = orjson.loads(await request.body() or b"null")
        except orjson.JSONDecodeError as exc:
            raise ValueError("The request body is not valid JSON.") from exc
    return operation_params(raw)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def operation_params(raw: Any) -> dict[str, Any]:
    """``{query, variables, operationName}`` checked (ValueError with a message for the client)."""
    if not isinstance(raw, dict):
        raise ValueError("Send a JSON object with a query.")
    query, variables, name = raw.get("query"), raw.get("variables") or None, raw.get("operationName") or None
    if not isinstance(query, str) or not query.strip():
        raise ValueError("The request has no GraphQL query.")
    if variables is not None and not isinstance(variables, dict):
        raise ValueError("The variables must be a JSON object.")
    if name is not None and not isinstance(name, str):
        raise ValueError("The operationName must be a string.")
    return {"query": query, "variables": variables, "operationName": name}


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
