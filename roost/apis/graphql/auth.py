"""Auth mutations: each one is the login flow REST serves for the same auth collection.

Every login goes through core's flow (its checks, hooks, throttles, MFA and alerts), so a first
factor of an MFA-protected collection answers the ``mfa_required`` error with ``{"mfaId"}`` in
``extensions.data`` and the second login passes that ``mfaId`` back, exactly as REST's body does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from roost.apis.graphql.resolvers import Info, caller, context, expand_of
from roost.apis.middleware.ratelimit import check_batch_item
from roost.core.auth import flows, oauth2, otp
from roost.core.events import RequestInfo
from roost.core.records.codec import Record
from roost.core.records.present import present_records
from roost.core.schema.collection import Collection

#: a core login flow: ``(app, auth collection, body, info) -> (record, token)``
LoginFlow = Callable[[Any, Collection, dict[str, Any], RequestInfo], Awaitable[tuple[Record, str]]]


def _body(**values: Any) -> dict[str, Any]:
    """REST's JSON body: the arguments given, under their REST names."""
    return {key: value for key, value in values.items() if value is not None}


async def _login(
    gi: Info, coll: Collection, method: str, tag: str, flow: LoginFlow, body: dict[str, Any]
) -> dict[str, Any]:
    info = caller(gi, "POST")
    info.context, info.body = method, body
    await check_batch_item(context(gi).app, info, coll, tag)
    record, token = await flow(context(gi).app, coll, body, info)
    return await answer(gi, coll, record, token, info)


async def auth_with_password(coll: Collection, _root: Any, gi: Info, identity: str, password: str,
                             identityField: str | None = None, mfaId: str | None = None) -> dict[str, Any]:  # fmt: skip
    """REST's ``auth-with-password``."""
    body = _body(identity=identity, password=password, identityField=identityField, mfaId=mfaId)
    return await _login(gi, coll, "password", "authWithPassword", flows.auth_with_password, body)


async def auth_with_otp(coll: Collection, _root: Any, gi: Info, otpId: str, password: str,
                        mfaId: str | None = None) -> dict[str, Any]:  # fmt: skip
    """REST's ``auth-with-otp``: the id ``request<Name>OTP`` answered and the mailed code."""
    body = _body(otpId=otpId, password=password, mfaId=mfaId)
    return await _login(gi, coll, "otp", "authWithOTP", otp.auth_with_otp, body)


async def request_otp(coll: Collection, _root: Any, gi: Info, email: str) -> str:
    """REST's ``request-otp``: mails a code and answers its id (a random one for an unknown address).

    As for REST, the caller's own auth plays no part: the flow runs as a guest's.
    """
    info = replace(
        caller(gi, "POST"), auth=None, auth_collection=None, session_id="", body={"email": email}
    )
    await check_batch_item(context(gi).app, info, coll, "requestOTP")
    return await otp.request_otp(context(gi).app, coll, info, {"email": email})


async def auth_with_oauth2_code(coll: Collection, _root: Any, gi: Info, provider: str, code: str,
                                codeVerifier: str | None = None, redirectURL: str | None = None,
                                createData: dict[str, Any] | None = None, mfaId: str | None = None) -> dict[str, Any]:  # fmt: skip
    """REST's ``auth-with-oauth2``: the provider's authorization code exchanged, the user found,
    linked or created; ``meta`` holds what the provider said about the user."""
    ctx = context(gi)
    oauth2.require_enabled(coll)
    body = _body(provider=provider, code=code, codeVerifier=codeVerifier, redirectURL=redirectURL,
                 createData=createData, mfaId=mfaId)  # fmt: skip
    info = caller(gi, "POST")
    info.body = body
    await check_batch_item(ctx.app, info, coll, "authWithOAuth2")
    record, token, meta = await oauth2.auth_with_oauth2(ctx.app, coll, body, info)
    return {**await answer(gi, coll, record, token, info), "meta": meta}


async def auth_refresh(coll: Collection, _root: Any, gi: Info) -> dict[str, Any]:
    """A fresh token for the caller; a cookie session gets ``token: null`` (never a bearer token)."""
    info = caller(gi, "POST")
    await check_batch_item(context(gi).app, info, coll, "authRefresh")
    record, token = await flows.auth_refresh(context(gi).app, coll, info, context(gi).token)
    return await answer(gi, coll, record, None if info.session_id else token, info)


async def answer(
    gi: Info, coll: Collection, record: Record, token: str | None, info: RequestInfo
) -> dict[str, Any]:
    shown = await present_records(
        context(gi).app, coll, [record], info, expand=expand_of(gi, "record"), show_email=True
    )
    return {"token": token, "record": shown[0], "meta": None}
