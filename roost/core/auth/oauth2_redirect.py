"""``/api/oauth2-redirect``: the provider's callback in the SDK's all-in-one (realtime) flow.

The SDK subscribes a realtime client to ``@oauth2`` and sends the provider that client's id as
``state``. The callback hands ``{state, code, error?}`` to that client through the app's
redirect sink (the realtime hub, wired by the app, which forwards to the process holding the
client when the load balancer sent the callback elsewhere) and tells the browser whether it worked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from roost.core.auth.oauth2_runtime import runtime

if TYPE_CHECKING:
    from roost.core.base import App

TOPIC = "@oauth2"
SUCCESS_PATH = "../_/#/auth/oauth2-redirect-success"
FAILURE_PATH = "../_/#/auth/oauth2-redirect-failure"
#: how long Apple's one-time name data waits for the auth-with-oauth2 call
APPLE_NAME_SECONDS = 60.0


async def deliver_redirect(app: App, data: dict[str, Any], ip: str) -> bool:
    """Pass a provider callback to the waiting realtime client; True when the login may go on."""
    state = _text(data.get("state"))
    code = _text(data.get("code"))
    error = _text(data.get("error"))
    sink = runtime(app).redirect_sink
    if not state or sink is None:
        return False
    message = {"state": state, "code": code}
    if error:
        message["error"] = error
    if not await sink(app, state, message, ip):
        return False
    apple_user = _text(data.get("user"))
    if apple_user and code and not error:
        _remember_apple_name(app, code, apple_user)
    return bool(code) and not error


def _remember_apple_name(app: App, code: str, raw: str) -> None:
    if len(code) > 1000:
        return
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    name = parsed.get("name") if isinstance(parsed, dict) else None
    if not isinstance(name, dict):
        return
    full = f"{name.get('firstName') or ''} {name.get('lastName') or ''}"[:150].strip()
    if full:
        runtime(app).remember(f"apple-name:{code}", full, APPLE_NAME_SECONDS)


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""
