"""Building blocks of Roost's OpenAPI document: JSON Schema helpers and shared components.

Schemas are plain dicts (JSON Schema 2020-12, as OpenAPI 3.1 uses it). ``ref("Record")`` and the
other generic record components are placeholders that per-collection paths swap for the
collection's own components (see :func:`swap_refs`).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
ANY: Schema = {}
OBJ: Schema = {"type": "object"}
DATETIME: Schema = {"type": "string", "description": "UTC `YYYY-MM-DD HH:MM:SS.mmmZ`, or empty"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def arr(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


#: Roost's per-field rules (docs/roles.md); absent or null means no restriction
_FIELD_RULE: Schema = {"type": ["string", "null"], "description": "Roost field rule (docs/roles.md)."}


def obj(required: tuple[str, ...] = (), **props: Schema) -> Schema:
    out: Schema = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


def one_of(*schemas: Schema) -> Schema:
    return {"oneOf": list(schemas)}


def swap_refs(node: Any, names: dict[str, str]) -> Any:
    """A deep copy of ``node`` with ``$ref``s to components in ``names`` renamed."""
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str) and target.rsplit("/", 1)[-1] in names:
            return ref(names[target.rsplit("/", 1)[-1]])
        return {k: swap_refs(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [swap_refs(v, names) for v in node]
    return node


def list_of(item: Schema) -> Schema:
    """The paginated list envelope; ``totalItems``/``totalPages`` are -1 with ``skipTotal``."""
    return obj(
        ("page", "perPage", "totalItems", "totalPages", "items"),
        page=INT, perPage=INT, totalItems=INT, totalPages=INT, items=arr(item), nextCursor={"type": ["string", "null"]},
    )  # fmt: skip


#: no key is required: ``fields=`` may pick some out
AUTH_RESPONSE: Schema = obj(token=STR, record=ref("Record"))

ERROR: Schema = {
    "type": "object",
    "description": "Every error: `data` maps a field to `{code, message, params?}` and nests for nested input.",
    "required": ["status", "message", "data"],
    "properties": {"status": INT, "message": STR, "data": OBJ},
}
MFA_CHALLENGE: Schema = {
    "type": "object",
    "description": "401 when the login needs a second factor: finish it with `mfaId`.",
    "required": ["mfaId"],
    "properties": {"mfaId": STR},
}

GENERIC_SCHEMAS: dict[str, Schema] = {
    "Error": ERROR,
    "MFAChallenge": MFA_CHALLENGE,
    "Record": {
        "type": "object",
        "description": "A record: the collection's visible fields plus these keys.",
        "properties": {"id": STR, "collectionId": STR, "collectionName": STR, "expand": OBJ},
    },
    "RecordCreate": {"type": "object", "description": "Field values (JSON, multipart or urlencoded)."},
    "RecordUpdate": {"type": "object", "description": "Field values to change; modifiers `f+`, `+f`, `f-`."},
    "AuthResponse": AUTH_RESPONSE,
    "Collection": {
        "type": "object",
        "description": "A collection definition; type-specific options (auth, view) sit beside these keys.",
        "properties": {
            "id": STR, "name": STR, "type": {"enum": ["base", "auth", "view"]}, "system": BOOL,
            "fields": arr(obj(("name", "type"), id=STR, name=STR, type=STR, hidden=BOOL, system=BOOL,
                              readRule=_FIELD_RULE, writeRule=_FIELD_RULE)),
            "indexes": arr(STR), "created": DATETIME, "updated": DATETIME,
            "superuserRoles": {"type": "object", "description": "Roost, `_superusers` only: superuser id -> "
                               "`{readonly, collections}` (docs/roles.md)."},
            **{r: {"type": ["string", "null"]} for r in ("listRule", "viewRule", "createRule", "updateRule", "deleteRule")},
        },
    },
}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PARAMETERS: dict[str, Schema] = {
    "page": _query("page", {"type": "integer", "minimum": 1}, "Page number (default 1)."),
    "perPage": _query("perPage", {"type": "integer", "minimum": 1, "maximum": 1000}, "Items per page (default 30, at most 1000)."),
    "sort": _query("sort", STR, "Comma list of fields; `-` for descending, `@random`, `@rowid`."),
    "filter": _query("filter", STR, "Filter expression, ANDed with the collection's listRule."),
    "expand": _query("expand", STR, "Comma list of relation fields to expand (dots nest)."),
    "fields": _query("fields", STR, "Comma list of output keys to keep (`*`, dots, `:excerpt(n)`)."),
    "skipTotal": _query("skipTotal", BOOL, "Skip the count: `totalItems` and `totalPages` are -1."),
    "cursor": _query("cursor", STR, "Keyset pagination (Roost): empty for the first page, then the previous "
                     "answer's `nextCursor` (opaque, sealed, valid only for the same collection and "
                     "`sort`); `page`, `totalItems` and `totalPages` are then -1."),
    "search": _query("search", STR, "Full-text search (Roost) over the collection's `search` index: every word must "
                     "start a word of an indexed field; best matches first unless `sort` is given."),
}
LIST_PARAMS = ("page", "perPage", "sort", "filter", "expand", "fields", "skipTotal", "cursor", "search")

SECURITY_SCHEMES: dict[str, Schema] = {
    "Authorization": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A record auth token (raw, or `Bearer <token>`); an invalid token counts as a guest. "
                       "An API key (`Bearer rk_...`) works here too.",
    },
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key (`rk_...`, see /api/keys): its scopes are checked before the collection rules; "
                       "an invalid, expired or revoked key is refused with 401.",
    },
}

#: who may call an operation -> its OpenAPI security requirement
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "guest": [{}, {"Authorization": []}, {"ApiKey": []}],
    "auth": [{"Authorization": []}],
    "superuser": [{"Authorization": []}],
}
ACCESS_NOTE = {"guest": "", "auth": "Needs a record auth token. ", "superuser": "Superusers only. "}

ERROR_TEXT = {
    400: "Bad request or failed validation.",
    401: "Missing or invalid authentication.",
    403: "Not allowed.",
    404: "Not found.",
    429: "Too many requests (rate limits).",
}


def error_response(status: int, *, mfa: bool = False) -> Schema:
    schema = one_of(ref("Error"), ref("MFAChallenge")) if status == 401 and mfa else ref("Error")
    return {"description": ERROR_TEXT.get(status, "Error."), "content": {"application/json": {"schema": schema}}}
