"""GraphQL over the record pipeline: ``/api/graphql`` over HTTP (queries with GET, anything with
POST) and over WebSocket (``graphql-transport-ws``, with subscriptions)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from roost.apis.graphql.graphiql import asset
from roost.apis.openapi.operation import Op, raw
from roost.apis.openapi.schema import ANY, OBJ, STR, arr, obj
from roost.apis.routing import route, websocket_route

_ANSWER = obj(data=ANY, errors=arr(OBJ))
_RESPONSES = {
    **raw(200, "The operation's result, or the GraphQL errors that stopped it.", "application/json", _ANSWER),
    **raw(400, "Not a GraphQL request (no query, malformed JSON).", "application/json", _ANSWER),
}
_ABOUT = "See docs/graphql.md. Core's errors keep their status, code and field data in each error's `extensions`."
_GET = Op(
    "GraphQL query (or a graphql-transport-ws WebSocket upgrade)", "graphql", errors=(),
    params=tuple({"name": name, "in": "query", "required": name == "query", "schema": STR}
                 for name in ("query", "variables", "operationName")),
    responses={**_RESPONSES, **raw(405, "A mutation sent with GET.", "application/json", _ANSWER)},
    description="Queries only. " + _ABOUT,
)  # fmt: skip
_POST = Op(
    "GraphQL query or mutation", "graphql", errors=(), responses=_RESPONSES, description=_ABOUT,
    body=obj(("query",), query=STR, variables=OBJ, operationName=STR),
)  # fmt: skip

_ASSET = Op(
    "A file of the GraphiQL page", "graphql", errors=(404,),
    responses={**raw(200, "The vendored script or style sheet.", "text/javascript", STR), **raw(404, "Not a file of the page.")},
    description="`GET /api/graphql` with an Accept header preferring `text/html` answers the GraphiQL page (superusers sign in there).",
)  # fmt: skip


# graphql-core and the schema builder load on the first GraphQL request: a server that never
# serves one does not hold them


async def graphql_endpoint(request: Request) -> Response:
    from roost.apis.graphql.http import graphql_endpoint as endpoint

    return await endpoint(request)


async def graphql_ws_endpoint(websocket: WebSocket) -> None:
    from roost.apis.graphql.ws import graphql_ws_endpoint as endpoint

    await endpoint(websocket)


routes = [
    route("/api/graphql", graphql_endpoint, ["GET", "POST"], openapi={"GET": _GET, "POST": _POST}),
    route("/api/graphql/static/{name}", asset, ["GET"], openapi=_ASSET),
    websocket_route("/api/graphql", graphql_ws_endpoint),
]
