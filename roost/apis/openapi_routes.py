"""Every fixed route Roost serves, described once: ``ROUTES[(method, path)] = Op(...)``.

Adding a route to the router means adding its entry here (tests/apis/test_openapi.py walks the
real route table and fails on a route this table lacks). Entries with ``scope="records"`` or
``scope="auth"`` are also repeated for each (auth) collection with its own record schemas.
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.apis.openapi_schema import (
    ANY,
    AUTH_RESPONSE,
    BOOL,
    INT,
    LIST_PARAMS,
    OBJ,
    STR,
    Schema,
    arr,
    list_of,
    obj,
    one_of,
    ref,
)


@dataclass(frozen=True)
class Op:
    """One operation of the document."""

    summary: str
    tag: str
    #: who may call it: "guest" (anyone), "auth" (a record token) or "superuser"
    access: str = "guest"
    #: the JSON request body, if any
    body: Schema | None = None
    #: the JSON body of a 200 answer; None means 204 No Content
    result: Schema | None = None
    errors: tuple[int, ...] = (400,)
    #: names of shared query parameters (components/parameters)
    query: tuple[str, ...] = ()
    #: "records" / "auth": also documented per (auth) collection with its own schemas
    scope: str = ""
    #: the collection rule that guards a record operation
    rule: str = ""
    #: a login: a 401 may be the MFA challenge ``{mfaId}``
    mfa: bool = False
    #: other query parameters of this operation only
    params: tuple[Schema, ...] = ()
    #: full ``responses`` for answers that are not JSON (files, streams, redirects)
    responses: Schema | None = None
    description: str = ""


def _param(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _raw(status: int, description: str, media: str = "", schema: Schema | None = None) -> Schema:
    answer: Schema = {"description": description}
    if media:
        answer["content"] = {media: {"schema": schema if schema is not None else ANY}}
    return {str(status): answer}


def _login(summary: str, body: Schema, tag: str = "auth", result: Schema = AUTH_RESPONSE) -> Op:
    return Op(summary, tag, body=body, result=result, errors=(400, 401, 403, 404), query=("expand", "fields"), scope="auth", mfa=True)


C = "/api/collections/{collection}"
REC = ("expand", "fields")
_EMAIL = obj(("email",), email={"type": "string", "format": "email"})
_REDIRECT = {**_raw(303, "Redirect to the success or failure page (POST)."), **_raw(307, "Redirect (GET).")}
_SETTINGS: Schema = {"type": "object", "description": "Runtime settings; secrets are never returned."}
_AUTH_METHODS = obj(
    ("password", "oauth2", "mfa", "otp"),
    password=obj(enabled=BOOL, identityFields=arr(STR)),
    oauth2=obj(enabled=BOOL, providers=arr(OBJ)),
    mfa=obj(enabled=BOOL, duration=INT),
    otp=obj(enabled=BOOL, duration=INT),
)
_BATCH_ITEM = obj(("method", "url"), method={"enum": ["POST", "PUT", "PATCH", "DELETE"]}, url=STR, headers=OBJ, body=OBJ)

_PASSKEY = obj(
    ("id", "credentialId"), id=STR, name=STR, credentialId=STR, aaguid=STR, deviceType=STR, backedUp=BOOL,
    transports=arr(STR), signCount=INT, lastUsed=STR, created=STR, updated=STR,
)
_SESSION = obj(
    ("id", "collectionId", "recordId", "current"), id=STR, collectionId=STR, recordId=STR, userAgent=STR, ip=STR,
    created=STR, lastSeen=STR, expires=STR, current=BOOL,
)
_SESSION_TARGET = (_param("collection", STR, "Superusers: the auth collection."), _param("record", STR, "Superusers: the record id."))

ROUTES: dict[tuple[str, str], Op] = {
    # ----- system -----------------------------------------------------------------------------
    ("GET", "/api/health"): Op("Health check", "system", result=obj(("message", "code", "data"), message=STR, code=INT, data=OBJ), errors=()),
    ("HEAD", "/api/health"): Op("Health check (headers only)", "system", responses=_raw(200, "Healthy."), errors=()),
    ("GET", "/api/openapi.json"): Op("This OpenAPI document", "system", access="superuser", result=OBJ, errors=(401, 403),
                                     description="Guests too when ROOST_OPENAPI_PUBLIC is set (without superuser-only parts)."),
    ("GET", "/api/settings"): Op("View settings", "settings", access="superuser", result=_SETTINGS, errors=(401, 403)),
    ("PATCH", "/api/settings"): Op("Update settings", "settings", access="superuser", body=_SETTINGS, result=_SETTINGS, errors=(400, 401, 403)),
    ("POST", "/api/settings/test/email"): Op("Send a test e-mail", "settings", access="superuser", errors=(400, 401, 403),
                                             body=obj(("email", "template"), email=STR, template=STR, collection=STR)),
    # ----- collections ------------------------------------------------------------------------
    ("GET", "/api/collections"): Op("List collections", "collections", access="superuser", result=list_of(ref("Collection")),
                                    errors=(400, 401, 403), query=("page", "perPage", "sort", "filter", "fields", "skipTotal")),
    ("POST", "/api/collections"): Op("Create a collection", "collections", access="superuser", body=ref("Collection"), result=ref("Collection"), errors=(400, 401, 403)),
    ("GET", C): Op("View a collection", "collections", access="superuser", result=ref("Collection"), errors=(401, 403, 404)),
    ("PATCH", C): Op("Update a collection", "collections", access="superuser", body=OBJ, result=ref("Collection"), errors=(400, 401, 403, 404)),
    ("DELETE", C): Op("Delete a collection", "collections", access="superuser", errors=(400, 401, 403, 404)),
    ("DELETE", C + "/truncate"): Op("Delete every record of a collection", "collections", access="superuser", errors=(400, 401, 403, 404)),
    ("PUT", "/api/collections/import"): Op("Import collections", "collections", access="superuser", errors=(400, 401, 403),
                                           body=obj(("collections",), collections=arr(ref("Collection")), deleteMissing=BOOL)),
    ("GET", "/api/collections/meta/scaffolds"): Op("Blank collections of each type", "collections", access="superuser", result=OBJ, errors=(401, 403)),
    ("GET", "/api/collections/meta/oauth2-providers"): Op("OAuth2 providers", "collections", access="superuser", errors=(401, 403),
                                                          result=arr(obj(name=STR, displayName=STR, logo=STR))),
    # ----- records (repeated per collection) --------------------------------------------------
    ("GET", C + "/records"): Op("List records", "records", result=list_of(ref("Record")), errors=(400, 403, 404),
                                query=LIST_PARAMS, scope="records", rule="listRule"),
    ("GET", C + "/records/{id}"): Op("View a record", "records", result=ref("Record"), errors=(403, 404), query=REC, scope="records", rule="viewRule"),
    ("POST", C + "/records"): Op("Create a record", "records", body=ref("RecordCreate"), result=ref("Record"), errors=(400, 403, 404),
                                 query=REC, scope="records", rule="createRule"),
    ("PATCH", C + "/records/{id}"): Op("Update a record", "records", body=ref("RecordUpdate"), result=ref("Record"), errors=(400, 403, 404),
                                       query=REC, scope="records", rule="updateRule"),
    ("DELETE", C + "/records/{id}"): Op("Delete a record", "records", errors=(400, 403, 404), scope="records", rule="deleteRule"),
    ("POST", "/api/batch"): Op("Several record writes in one transaction", "records", body=obj(("requests",), requests=arr(_BATCH_ITEM)),
                               result=arr(obj(("status",), status=INT, body=ANY)), errors=(400, 403),
                               description="Off unless the `batch` settings enable it (403)."),
    # ----- auth (repeated per auth collection) ------------------------------------------------
    ("GET", C + "/auth-methods"): Op("Auth methods", "auth", result=_AUTH_METHODS, errors=(403, 404), scope="auth"),
    ("POST", C + "/auth-with-password"): _login("Log in with a password", obj(("identity", "password"), identity=STR, password=STR, identityField=STR)),
    ("POST", C + "/auth-refresh"): Op("Refresh the auth token", "auth", access="auth", result=AUTH_RESPONSE, errors=(401, 403, 404), query=REC, scope="auth"),
    ("POST", C + "/impersonate/{id}"): Op("Token of another record (non-refreshable)", "auth", access="superuser", body=obj(duration=INT),
                                          result=AUTH_RESPONSE, errors=(400, 401, 403, 404), query=REC, scope="auth"),
    ("POST", C + "/auth-with-oauth2"): _login(
        "Log in with OAuth2", obj(("provider", "code"), provider=STR, code=STR, codeVerifier=STR, redirectURL=STR, createData=OBJ),
        result=obj(token=STR, record=ref("Record"), meta=OBJ)),
    ("GET", "/api/oauth2-redirect"): Op("OAuth2 provider callback", "auth", responses=_REDIRECT, errors=(),
                                        params=(_param("state", STR, "OAuth2 state"), _param("code", STR, "OAuth2 code"))),
    ("POST", "/api/oauth2-redirect"): Op("OAuth2 provider callback (form_post)", "auth", responses=_REDIRECT, errors=()),
    ("POST", C + "/request-otp"): Op("Send a one-time password", "auth", body=_EMAIL, result=obj(("otpId",), otpId=STR), errors=(400, 403, 404), scope="auth"),
    ("POST", C + "/auth-with-otp"): _login("Log in with a one-time password", obj(("otpId", "password"), otpId=STR, password=STR)),
    ("POST", C + "/request-verification"): Op("Send a verification e-mail", "auth", body=_EMAIL, errors=(400, 403, 404), scope="auth"),
    ("POST", C + "/confirm-verification"): Op("Confirm a verification", "auth", body=obj(("token",), token=STR), errors=(400, 403, 404), scope="auth"),
    ("POST", C + "/request-password-reset"): Op("Send a password reset e-mail", "auth", body=_EMAIL, errors=(400, 403, 404), scope="auth"),
    ("POST", C + "/confirm-password-reset"): Op("Set a new password", "auth", errors=(400, 403, 404), scope="auth",
                                                body=obj(("token", "password", "passwordConfirm"), token=STR, password=STR, passwordConfirm=STR)),
    ("POST", C + "/request-email-change"): Op("Send an e-mail change confirmation", "auth", access="auth", errors=(400, 401, 403, 404), scope="auth",
                                              body=obj(("newEmail",), newEmail={"type": "string", "format": "email"})),
    ("POST", C + "/confirm-email-change"): Op("Confirm an e-mail change", "auth", errors=(400, 403, 404), scope="auth",
                                              body=obj(("token", "password"), token=STR, password=STR)),
    # ----- TOTP authenticator apps (Roost addition) ------------------------------------------
    ("POST", C + "/totp/enroll"): Op("Start TOTP enrolment", "totp", access="auth", result=obj(("secret", "otpauthURI"), secret=STR, otpauthURI=STR),
                                     errors=(400, 401, 403, 404), scope="auth"),
    ("POST", C + "/totp/confirm"): Op("Confirm TOTP enrolment", "totp", access="auth", body=obj(("code",), code=STR),
                                      result=obj(("recoveryCodes",), recoveryCodes=arr(STR)), errors=(400, 401, 403, 404), scope="auth"),
    ("DELETE", C + "/totp"): Op("Disable TOTP", "totp", access="auth", body=one_of(obj(("code",), code=STR), obj(("password",), password=STR)),
                                errors=(400, 401, 403, 404), scope="auth"),
    ("POST", C + "/auth-with-totp"): _login(
        "Log in (or finish MFA) with a TOTP or recovery code",
        one_of(obj(("mfaId", "code"), mfaId=STR, code=STR), obj(("identity", "code"), identity=STR, code=STR)), tag="totp"),
    # ----- passkeys / WebAuthn (Roost addition) -----------------------------------------------
    ("POST", C + "/passkeys/registration-options"): Op("WebAuthn registration options for the caller", "passkeys", access="auth",
                                                       result=OBJ, errors=(400, 401, 403, 404), scope="auth"),
    ("POST", C + "/passkeys"): Op("Register a passkey (attestation response)", "passkeys", access="auth",
                                  body=obj(("credential",), credential=OBJ, name=STR), result=_PASSKEY, errors=(400, 401, 403, 404), scope="auth"),
    ("GET", C + "/passkeys"): Op("The caller's passkeys", "passkeys", access="auth", result=arr(_PASSKEY), errors=(401, 403, 404), scope="auth"),
    ("DELETE", C + "/passkeys/{id}"): Op("Remove a passkey (owner or superuser)", "passkeys", access="auth", errors=(401, 403, 404), scope="auth"),
    ("POST", C + "/request-passkey-options"): Op("WebAuthn login options", "passkeys", body=obj(identity=STR, mfaId=STR), result=OBJ,
                                                 errors=(400, 403, 404), scope="auth"),
    ("POST", C + "/auth-with-passkey"): _login("Log in (or finish MFA) with a passkey", obj(("credential",), credential=OBJ, mfaId=STR), tag="passkeys"),
    # ----- browser cookie sessions (Roost addition) -------------------------------------------
    ("GET", "/api/sessions"): Op("Cookie sessions of the caller (superusers: of ?collection=&record=)", "sessions", access="auth",
                                 result=arr(_SESSION), errors=(400, 401, 403), params=_SESSION_TARGET),
    ("DELETE", "/api/sessions"): Op("Revoke every cookie session of the caller (or of the named record)", "sessions", access="auth",
                                    errors=(400, 401, 403), params=_SESSION_TARGET),
    ("GET", "/api/sessions/current"): Op("The record and CSRF token of the current cookie session", "sessions", access="auth",
                                         result=obj(("record", "csrfToken"), record=OBJ, csrfToken=STR), errors=(401,)),
    ("POST", "/api/sessions/logout"): Op("End the current cookie session and clear the cookie", "sessions", errors=(403,)),
    ("DELETE", "/api/sessions/{id}"): Op("Revoke one cookie session", "sessions", access="auth", errors=(401, 403, 404)),
    # ----- files ------------------------------------------------------------------------------
    ("POST", "/api/files/token"): Op("Short-lived token for protected files", "files", access="auth", result=obj(("token",), token=STR), errors=(400, 401)),
    ("GET", "/api/files/{collection}/{record}/{filename}"): Op(
        "Download a file", "files", errors=(400, 404), responses=_raw(200, "The file.", "application/octet-stream", {"type": "string", "format": "binary"}),
        params=(_param("thumb", STR, "Thumb size `WxH[t|b|f]`."), _param("download", BOOL, "Send as attachment."),
                _param("token", STR, "File token for protected files."))),
    ("HEAD", "/api/files/{collection}/{record}/{filename}"): Op("File headers", "files", errors=(404,), responses=_raw(200, "The file's headers.")),
    # ----- realtime ---------------------------------------------------------------------------
    ("GET", "/api/realtime"): Op("Realtime event stream (SSE; first event PB_CONNECT)", "realtime", errors=(),
                                 responses=_raw(200, "Server-sent events.", "text/event-stream", STR)),
    ("POST", "/api/realtime"): Op("Set a realtime client's subscriptions", "realtime", errors=(400, 403, 404),
                                  body=obj(("clientId",), clientId=STR, subscriptions=arr(STR))),
    ("GET", "/api/realtime/ws"): Op("Realtime over a WebSocket (upgrade)", "realtime", errors=(),
                                    responses=_raw(101, "Switching protocols to a WebSocket.")),
}  # fmt: skip
