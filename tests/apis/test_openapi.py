"""The OpenAPI document: validity, field schemas, who may fetch it, and route coverage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate
from starlette.routing import Route, WebSocketRoute

from roost.apis import api_routes, build_asgi
from roost.apis.routing import operations
from roost.config import Config
from roost.core.app import App
from tests.conftest import Api

#: the operations the built-in routes declare
ROUTES = operations(api_routes())

KINDS_FIELDS: list[dict[str, Any]] = [
    {"name": "title", "type": "text", "required": True, "max": 20},
    {"name": "n", "type": "number", "onlyInt": True, "min": 0, "max": 100},
    {"name": "ratio", "type": "number"},
    {"name": "flag", "type": "bool"},
    {"name": "mail", "type": "email"},
    {"name": "site", "type": "url"},
    {"name": "body", "type": "editor"},
    {"name": "when", "type": "date"},
    {"name": "status", "type": "select", "values": ["draft", "live"], "maxSelect": 1},
    {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
    {"name": "meta", "type": "json"},
    {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
    {"name": "friends", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 5},
    {"name": "cover", "type": "file", "maxSelect": 1},
    {"name": "docs", "type": "file", "maxSelect": 3},
    {"name": "pin", "type": "password"},
    {"name": "loc", "type": "geoPoint"},
    {"name": "secret", "type": "text", "hidden": True},
    {"name": "created", "type": "autodate", "onCreate": True},
]


async def make_collections(api: Api) -> None:
    res = await api.su("POST", "/api/collections", json={"name": "kinds", "listRule": "", "viewRule": "", "fields": KINDS_FIELDS})
    assert res.status_code == 200, res.text
    view = {"name": "kind_view", "type": "view", "listRule": "", "viewQuery": "SELECT id, title, n FROM kinds"}
    res = await api.su("POST", "/api/collections", json=view)
    assert res.status_code == 200, res.text


async def document(api: Api, token: str | None = None) -> dict[str, Any]:
    res = await api.call("GET", "/api/openapi.json", token=token)
    assert res.status_code == 200, res.text
    doc: dict[str, Any] = res.json()
    return doc


def schema_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = doc["components"]["schemas"][name]
    return found


async def test_document_is_valid_openapi_with_field_schemas(api: Api) -> None:
    await make_collections(api)
    doc = await document(api, api.su_token)
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    props = schema_of(doc, "kinds.Record")["properties"]
    assert props["title"] == {"type": "string"} and props["n"] == {"type": "integer"} and props["ratio"] == {"type": "number"}
    assert props["flag"] == {"type": "boolean"} and props["meta"] == {}
    assert props["status"] == {"enum": ["draft", "live", ""]}
    assert props["tags"] == {"type": "array", "items": {"enum": ["a", "b", "c"]}}
    assert props["owner"]["type"] == "string" and props["friends"]["type"] == "array"
    assert props["cover"]["type"] == "string" and props["docs"]["items"]["type"] == "string"
    assert props["loc"]["required"] == ["lon", "lat"]
    assert "date" not in props["when"].get("format", "") and props["created"]["type"] == "string"
    assert props["collectionName"] == {"const": "kinds"}
    assert "secret" not in props and "pin" not in props
    create = schema_of(doc, "kinds.Create")
    assert create["required"] == ["title"] and create["properties"]["title"]["maxLength"] == 20
    assert create["properties"]["pin"]["writeOnly"] is True and "created" not in create["properties"]
    assert create["properties"]["mail"]["format"] == "email" and create["properties"]["n"] == {"type": "integer", "minimum": 0, "maximum": 100}
    form = schema_of(doc, "kinds.CreateForm")["properties"]
    assert form["cover"]["format"] == "binary" and form["docs"]["items"]["format"] == "binary" and form["docs"]["maxItems"] == 3
    assert "id" not in schema_of(doc, "kinds.Update")["properties"]


async def test_record_paths_envelope_and_parameters(api: Api) -> None:
    await make_collections(api)
    doc = await document(api, api.su_token)
    listing = doc["paths"]["/api/collections/kinds/records"]["get"]
    names = [p["$ref"].rsplit("/", 1)[-1] for p in listing["parameters"]]
    assert names == ["page", "perPage", "sort", "filter", "expand", "fields", "skipTotal", "cursor", "search"]
    aggregate = doc["paths"]["/api/collections/kinds/aggregate"]["get"]
    assert [p["name"] for p in aggregate["parameters"]][:3] == ["groupBy", "fields", "filter"]
    assert "Rule: ``" in aggregate["description"]
    envelope = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert envelope["required"] == ["page", "perPage", "totalItems", "totalPages", "items"]
    assert envelope["properties"]["items"]["items"] == {"$ref": "#/components/schemas/kinds.Record"}
    assert listing["responses"]["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert schema_of(doc, "Error")["required"] == ["status", "message", "data"]
    assert "Rule: ``" in listing["description"]
    create = doc["paths"]["/api/collections/kinds/records"]["post"]["requestBody"]["content"]
    assert create["multipart/form-data"]["schema"] == {"$ref": "#/components/schemas/kinds.CreateForm"}
    assert set(doc["paths"]["/api/collections/kind_view/records"]) == {"get"}
    assert set(doc["paths"]["/api/collections/kind_view/records/{id}"]) == {"get"}
    assert doc["components"]["securitySchemes"]["Authorization"]["in"] == "header"


async def test_auth_collections_get_auth_routes_without_secrets(api: Api) -> None:
    doc = await document(api, api.su_token)
    for route in ("auth-with-password", "auth-refresh", "auth-with-otp", "request-otp", "totp/enroll", "totp/confirm", "totp", "auth-with-totp"):
        assert f"/api/collections/users/{route}" in doc["paths"], route
    login = doc["paths"]["/api/collections/users/auth-with-password"]["post"]
    ok = login["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["properties"]["record"] == {"$ref": "#/components/schemas/users.Record"}
    assert {"$ref": "#/components/schemas/MFAChallenge"} in login["responses"]["401"]["content"]["application/json"]["schema"]["oneOf"]
    record = schema_of(doc, "users.Record")["properties"]
    assert "password" not in record and "tokenKey" not in record and "email" in record
    assert {"email", "password", "passwordConfirm"} <= set(schema_of(doc, "users.Create")["required"])
    assert "oldPassword" in schema_of(doc, "users.Update")["properties"]
    assert "/api/collections/kinds/auth-with-password" not in doc["paths"]


async def test_only_superusers_unless_public(api: Api) -> None:
    await make_collections(api)
    await api.su("POST", "/api/collections/users/records", json={"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"})
    user = await api.login("users", "u@example.com", "password123")
    assert (await api.call("GET", "/api/openapi.json")).status_code == 401
    assert (await api.call("GET", "/api/openapi.json", token=user)).status_code == 403
    api.app.config.openapi_public = True
    doc = await document(api)
    validate(doc)
    assert "/api/settings" not in doc["paths"] and "/api/collections" not in doc["paths"]
    assert set(doc["paths"]["/api/collections/kinds/records"]) == {"get"}
    assert "/api/collections/_superusers/auth-with-password" not in doc["paths"]
    assert "/api/collections/users/impersonate/{id}" not in doc["paths"]
    assert "_totps.Record" not in doc["components"]["schemas"] and "secret" not in schema_of(doc, "kinds.Record")["properties"]
    assert "Rule:" not in str(doc["paths"]["/api/collections/kinds/records"])
    assert "/api/settings" in (await document(api, api.su_token))["paths"]


async def test_document_follows_collection_changes(api: Api) -> None:
    first = await api.su("GET", "/api/openapi.json")
    assert (await api.su("GET", "/api/openapi.json")).content == first.content
    await make_collections(api)
    res = await api.su("PATCH", "/api/collections/kinds", json={"fields": [*KINDS_FIELDS, {"name": "extra", "type": "bool"}]})
    assert res.status_code == 200, res.text
    doc = await document(api, api.su_token)
    assert schema_of(doc, "kinds.Record")["properties"]["extra"] == {"type": "boolean"}
    assert (await api.su("DELETE", "/api/collections/kind_view")).status_code == 204
    assert "/api/collections/kind_view/records" not in (await document(api, api.su_token))["paths"]


def served_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, path) of every route the real router serves; HEAD is implied by GET."""
    starlette: Any = build_asgi(App(Config(data_dir=tmp_path)))
    while not hasattr(starlette, "router"):  # down through the middleware stack
        starlette = starlette.app
    served: set[tuple[str, str]] = set()
    for route in starlette.router.routes:
        if isinstance(route, WebSocketRoute):
            served.add(("GET", route.path))
        elif isinstance(route, Route) and route.path != "/{path:path}" and not route.path.startswith("/_"):
            # (the dashboard's pages under /_/ are not API operations)
            served |= {(m, route.path) for m in route.methods or () if m != "HEAD" or ("HEAD", route.path) in ROUTES}
    return served


def test_every_route_is_in_the_table(tmp_path: Path) -> None:
    served = served_routes(tmp_path)
    missing = sorted(served - set(ROUTES))
    assert not missing, f"declare an OpenAPI operation (route(..., openapi=Op(...))) for these routes: {missing}"
    stale = sorted(set(ROUTES) - served)
    assert not stale, f"ROUTES documents routes the router does not serve: {stale}"


async def test_served_document_has_every_table_route(api: Api) -> None:
    doc = await document(api, api.su_token)
    for method, path in ROUTES:
        assert method.lower() in doc["paths"].get(path, {}), (method, path)


def test_cli_prints_the_full_document(tmp_path: Path) -> None:
    out = subprocess.run([str(Path(sys.executable).parent / "roost"), "openapi", "--dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    validate(doc)
    assert "/api/collections/users/auth-with-password" in doc["paths"] and "/api/settings" in doc["paths"]
