"""Custom routes: what a route handler receives (:class:`RouteEvent`) and how its answer is sent.

A handler is ``async def handler(e: RouteEvent)`` (a plain function works too). It returns what
the client gets: a dict, list or other JSON value (200), ``None`` (204) or a Starlette
``Response`` as it is. Raising a ``RoostError`` (``BadRequest``, ``Forbidden`` ...) answers in
the usual ``{status, message, data}`` envelope, as every built-in route does.
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.openapi.operation import Op
from roost.apis.request import app_of, read_body, request_info
from roost.apis.responses import json_response, no_content
from roost.apis.routing import RoostRoute, route
from roost.core.app import App
from roost.core.errors import Forbidden, NotFound, Unauthorized
from roost.core.events import RequestInfo
from roost.core.records import requests as records
from roost.core.records.access import rule_matches_new, rule_matches_stored
from roost.core.records.codec import Record
from roost.core.records.present import present_records
from roost.core.records.queries import ListQuery, Page
from roost.core.records.save import blank_record
from roost.core.schema.collection import Collection

#: ``async def handler(e: RouteEvent) -> Any`` (or a plain function)
RouteHandler = Callable[["RouteEvent"], Awaitable[Any] | Any]
NEEDS_AUTH = "The request requires valid record authorization token."
NOT_ALLOWED = "The authorized record is not allowed to perform this action."


@dataclass(eq=False)
class RouteEvent:
    """One request to a custom route: the Starlette request, the app and the caller."""

    request: Request
    app: App
    #: the caller as Roost's rules see it (``info.auth``, ``info.query``, ``info.headers`` ...)
    info: RequestInfo

    @property
    def params(self) -> dict[str, Any]:
        """The path parameters (``{name}`` in ``/api/hello/{name}``)."""
        return dict(self.request.path_params)

    @property
    def auth(self) -> dict[str, Any] | None:
        """The authenticated record's stored values, or None for a guest."""
        return self.info.auth

    async def body(self) -> dict[str, Any]:
        """The JSON or form body as a dict (also what ``@request.body`` rules see)."""
        data, _files = await read_body(self.request)
        self.info.body = data
        return data

    def require_auth(self, *collections: str) -> dict[str, Any]:
        """The caller's auth record; 401 for a guest, 403 when not of one of ``collections``."""
        if self.info.auth is None:
            raise Unauthorized(NEEDS_AUTH)
        coll = self.info.auth_collection
        if collections and (coll is None or not {coll.name, coll.id} & set(collections)):
            raise Forbidden(NOT_ALLOWED)
        return self.info.auth

    def require_superuser(self) -> dict[str, Any]:
        """The superuser calling; 401 for a guest, 403 for any other record."""
        auth = self.require_auth()
        if not self.info.is_superuser:
            raise Forbidden(NOT_ALLOWED)
        return auth

    async def require_rule(self, rule: str, *, collection: str = "", record_id: str = "") -> None:
        """403 unless ``rule`` (an API rule expression) holds for this caller; superusers pass.

        With ``collection`` and ``record_id`` the rule is checked against that stored record, as a
        view rule is. Without them its base is the caller's own auth record, so
        ``@request.auth.verified = true`` and ``verified = true`` both work; a guest has no record
        and only ``@request.*`` fields mean anything then.
        """
        if self.info.is_superuser:
            return
        if collection:
            coll = self._collection(collection)
            if record_id:
                ok = await rule_matches_stored(self.app, coll, record_id, rule, self.info)
            else:
                ok = await rule_matches_new(self.app, coll, blank_record(coll), rule, self.info)
        elif self.info.auth_collection is not None and self.info.auth is not None:
            ok = await rule_matches_stored(
                self.app, self.info.auth_collection, self.info.auth_id, rule, self.info
            )
        else:
            coll = self._collection("_superusers")
            ok = await rule_matches_new(self.app, coll, blank_record(coll), rule, self.info)
        if not ok:
            raise Forbidden(NOT_ALLOWED) if self.info.auth is not None else Unauthorized(NEEDS_AUTH)

    def records(self, collection: str) -> CallerRecords:
        """The record services of ``collection`` acting as this caller (its API rules apply)."""
        return CallerRecords(self.app, self._collection(collection), self.info, self.request)

    def _collection(self, name_or_id: str) -> Collection:
        coll = self.app.collections.get(name_or_id)
        if coll is None:
            raise NotFound("Missing collection context.")
        return coll


@dataclass(eq=False)
class CallerRecords:
    """list / view / create / update / delete on one collection as the caller, through core."""

    app: App
    collection: Collection
    info: RequestInfo
    request: Request

    async def list(
        self, *, filter: str = "", sort: str = "", page: int = 1, per_page: int = 30
    ) -> Page:
        query = ListQuery(
            page=page, per_page=per_page, sort=sort, filter=filter, skip_total=False, cursor=None
        )
        return await records.list_records(self.app, self.collection, query, self.info)

    async def view(self, record_id: str) -> Record:
        return await records.view_record(self.app, self.collection, record_id, self.info)

    async def create(self, body: dict[str, Any]) -> Record:
        return await records.create_record(self.app, self.collection, body, self.info)

    async def update(self, record_id: str, body: dict[str, Any]) -> Record:
        return await records.update_record(self.app, self.collection, record_id, body, self.info)

    async def delete(self, record_id: str) -> None:
        await records.delete_record(self.app, self.collection, record_id, self.info)

    async def present(
        self, items: Sequence[Record], *, expand: str = ""
    ) -> builtins.list[dict[str, Any]]:
        """Records as the API answers them to this caller (hidden fields out, ``expand`` in)."""
        fields = self.request.query_params.get("fields", "")
        return await present_records(
            self.app, self.collection, list(items), self.info, expand=expand, fields=fields
        )


def custom_route(
    methods: Sequence[str],
    path: str,
    handler: RouteHandler,
    *,
    openapi: Op | None = None,
    tags: Iterable[str] = (),
    body_limit: int | None = None,
) -> RoostRoute:
    """A route serving ``handler``, documented in the OpenAPI document (``openapi`` or a default)."""
    summary = (inspect.getdoc(handler) or "").split("\n", 1)[0] or f"{' '.join(methods)} {path}"
    op = openapi or Op(summary, "custom", result={})
    return route(
        path, _endpoint(handler), list(methods), openapi=op, tags=tags, body_limit=body_limit
    )


def _endpoint(handler: RouteHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        event = RouteEvent(request=request, app=app_of(request), info=await request_info(request))
        result = handler(event)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, Response):
            return result
        if result is None:
            return no_content()
        return json_response(request, result)

    endpoint.__name__ = getattr(handler, "__name__", "custom_route")
    return endpoint


__all__ = ["CallerRecords", "RouteEvent", "RouteHandler", "custom_route"]
