"""``GET /api/openapi.json``: Roost's OpenAPI 3.1 document, built from the operations the served
routes declare (:mod:`roost.apis.routing`) and the collections (:mod:`roost.apis.openapi.fields`).

Collection schemas are superuser knowledge (PocketBase's collection API is superusers-only), so
by default only superusers may fetch the document. With ``ROOST_OPENAPI_PUBLIC`` anyone may,
and gets the parts a non-superuser can use: no superuser-only operations, and per collection
only the operations whose rule is not "superusers only", without the rules themselves.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from roost.apis.guards import require_superuser
from roost.apis.openapi.fields import record_schema, write_schema
from roost.apis.openapi.operation import Op
from roost.apis.openapi.schema import (
    ACCESS_NOTE,
    GENERIC_SCHEMAS,
    PARAMETERS,
    SECURITY,
    SECURITY_SCHEMES,
    Schema,
    error_response,
    ref,
    swap_refs,
)
from roost.apis.request import app_of, request_info
from roost.apis.route_group import routes_version
from roost.apis.routing import operations, route
from roost.core.schema.collection import Collection

_RECORD_BODIES = ("RecordCreate", "RecordUpdate")
_PATH_PARAM = re.compile(r"{(\w+)}")


class _Builder:
    """Collects paths and component schemas; keeps operation ids unique."""

    def __init__(self, superuser: bool) -> None:
        self.superuser = superuser
        self.paths: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, Schema] = dict(GENERIC_SCHEMAS)
        self.schemas.update({f"{name}Form": GENERIC_SCHEMAS[name] for name in _RECORD_BODIES})
        self._ids: set[str] = set()

    def add(self, method: str, path: str, op: Op, *, tag: str = "", note: str = "") -> Schema:
        operation = _operation(path, op, tag or op.tag, note)
        operation["operationId"] = self._unique_id(method, path)
        self.paths.setdefault(path, {})[method.lower()] = operation
        return operation

    def _unique_id(self, method: str, path: str) -> str:
        base = method.lower() + "_" + re.sub(r"[^A-Za-z0-9]+", "_", path.removeprefix("/api/")).strip("_")
        candidate, n = base, 1
        while candidate in self._ids:
            n += 1
            candidate = f"{base}_{n}"
        self._ids.add(candidate)
        return candidate


def _operation(path: str, op: Op, tag: str, note: str) -> Schema:
    params: list[Schema] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in _PATH_PARAM.findall(path)
    ]
    params += [{"$ref": f"#/components/parameters/{name}"} for name in op.query]
    params += list(op.params)
    out: Schema = {"summary": op.summary, "tags": [tag], "security": SECURITY[op.access]}
    description = (ACCESS_NOTE[op.access] + op.description + note).strip()
    if description:
        out["description"] = description
    if params:
        out["parameters"] = params
    if op.body is not None:
        content = {media: {"schema": op.body} for media in op.body_media} or _body_content(op.body)
        out["requestBody"] = {"required": True, "content": content}
    out["responses"] = _responses(op)
    return out


def _body_content(body: Schema) -> Schema:
    name = str(body.get("$ref", "")).rsplit("/", 1)[-1]
    if name in _RECORD_BODIES:
        return {"application/json": {"schema": body}, "multipart/form-data": {"schema": ref(name + "Form")}}
    return {"application/json": {"schema": body}}


def _responses(op: Op) -> Schema:
    if op.responses is not None:
        out: Schema = dict(op.responses)
    elif op.result is None:
        out = {"204": {"description": "Done (no content)."}}
    else:
        out = {"200": {"description": "OK.", "content": {"application/json": {"schema": op.result}}}}
    # any route may be rate limited once the settings turn rate limits on (TOTP codes always are)
    for status in sorted({*op.errors, 429}):
        out[str(status)] = error_response(status, mfa=op.mfa)
    return out


def _applies(coll: Collection, op: Op, superuser: bool) -> bool:
    if op.scope == "records":
        if coll.is_view and op.rule not in ("listRule", "viewRule"):
            return False
        return superuser or coll.rule(op.rule) is not None
    if op.scope == "auth":
        return coll.is_auth and (superuser or (op.access != "superuser" and not coll.system))
    return False


def _add_collection(builder: _Builder, coll: Collection, table: dict[tuple[str, str], Op]) -> None:
    ops = [(method, path, op) for (method, path), op in table.items() if _applies(coll, op, builder.superuser)]
    if not ops:
        return
    names = {"Record": f"{coll.name}.Record"}
    names.update({n: f"{coll.name}.{n.removeprefix('Record')}" for n in _RECORD_BODIES})
    names.update({f"{n}Form": f"{coll.name}.{n.removeprefix('Record')}Form" for n in _RECORD_BODIES})
    builder.schemas[names["Record"]] = record_schema(coll)
    if not coll.is_view:
        for create in (True, False):
            kind = "Create" if create else "Update"
            builder.schemas[f"{coll.name}.{kind}"] = write_schema(coll, create=create)
            builder.schemas[f"{coll.name}.{kind}Form"] = write_schema(coll, create=create, form=True)
    for method, path, op in ops:
        note = f" Rule: `{coll.rule(op.rule)}`." if builder.superuser and op.rule else ""
        concrete = path.replace("{collection}", coll.name)
        operation = builder.add(method, concrete, op, tag=coll.name, note=note)
        builder.paths[concrete][method.lower()] = swap_refs(operation, names)


def _version() -> str:
    try:
        return version("roost")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def build_document(routes: list[BaseRoute], collections: list[Collection], *, superuser: bool) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` as a superuser (everything) or anyone else sees it."""
    builder = _Builder(superuser)
    table = operations(routes)
    for (method, path), op in table.items():
        if superuser or op.access != "superuser":
            builder.add(method, path, op)
    for coll in sorted(collections, key=lambda c: c.name):
        _add_collection(builder, coll, table)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Roost API", "version": _version(),
                 "description": "PocketBase-compatible REST API; errors use `{status, message, data}`."},
        "paths": builder.paths,
        "components": {"schemas": builder.schemas, "parameters": PARAMETERS, "securitySchemes": SECURITY_SCHEMES},
    }  # fmt: skip


async def openapi_document(request: Request) -> Response:
    app = app_of(request)
    info = await request_info(request) if app.config.openapi_public else await require_superuser(request)
    fingerprint = (
        tuple(sorted((c.id, c.version, c.updated, c.name) for c in app.collections.all())),
        routes_version(request.app.router.routes),
    )
    cache: dict[bool, tuple[Any, bytes]] | None = getattr(request.app.state, "openapi_cache", None)
    if cache is None:
        cache = request.app.state.openapi_cache = {}
    hit = cache.get(info.is_superuser)
    if hit is None or hit[0] != fingerprint:
        doc = build_document(request.app.router.routes, app.collections.all(), superuser=info.is_superuser)
        hit = cache[info.is_superuser] = (fingerprint, orjson.dumps(doc))
    return Response(hit[1], media_type="application/json")


routes = [
    route("/api/openapi.json", openapi_document, ["GET"], openapi=Op(
        "This OpenAPI document", "system", access="superuser", result={"type": "object"}, errors=(401, 403),
        description="Guests too when ROOST_OPENAPI_PUBLIC is set (without superuser-only parts).")),
]  # fmt: skip
