"""One OpenAPI operation, declared beside the route that serves it (see :mod:`roost.apis.routing`).

The document (:mod:`roost.apis.openapi.document`) reads these back from the router, so a route
and its documentation cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from roost.apis.openapi.schema import AUTH_RESPONSE, Schema

#: the collection in a collection route's path
C = "/api/collections/{collection}"
#: query parameters of every operation that answers a record
REC = ("expand", "fields")


@dataclass(frozen=True)
class Op:
    """One operation of the document."""

    summary: str
    tag: str
    #: who may call it: "guest" (anyone), "auth" (a record token) or "superuser"
    access: str = "guest"
    #: the JSON request body, if any
    body: Schema | None = None
    #: media types of a request body that is not JSON (``body`` is then the schema of each)
    body_media: tuple[str, ...] = ()
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


def param(name: str, schema: Schema, description: str) -> Schema:
    """An optional query parameter of one operation."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def raw(status: int, description: str, media: str = "", schema: Schema | None = None) -> Schema:
    """A ``responses`` entry for an answer that is not the usual JSON."""
    answer: Schema = {"description": description}
    if media:
        answer["content"] = {media: {"schema": schema if schema is not None else {}}}
    return {str(status): answer}


def login_op(summary: str, body: Schema, tag: str = "auth", result: Schema = AUTH_RESPONSE) -> Op:
    """A login operation of an auth collection (may answer the MFA challenge)."""
    return Op(
        summary,
        tag,
        body=body,
        result=result,
        errors=(400, 401, 403, 404),
        query=REC,
        scope="auth",
        mfa=True,
    )
