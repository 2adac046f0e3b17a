"""The session cookie at the HTTP edge: reading it into the caller's auth, setting and clearing it.

Only requests with no ``Authorization`` header reach here, so token clients are untouched.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from roost.core.app import App
from roost.core.auth import sessions
from roost.core.auth.session_guard import check_write, origin_of
from roost.core.events import RequestInfo

COOKIE = "__Host-roost_session"


def own_origin(request: Request) -> str:
    return origin_of(f"{request.url.scheme}://{request.headers.get('host', '')}")


def cookie_secret(request: Request) -> str:
    return request.cookies.get(COOKIE, "")


async def authenticate(request: Request, app: App, info: RequestInfo) -> None:
    """Authenticate ``info`` from a live session cookie; a write must pass the CSRF checks (403)."""
    secret = cookie_secret(request)
    if not secret:
        return
    found = await sessions.resolve(app, secret)
    if found is None:
        return
    check_write(app, info, secret, own_origin(request))
    info.auth_collection, info.auth, session = found
    info.session_id = str(session["id"])


def set_cookie(response: Response, new: sessions.NewSession) -> None:
    response.set_cookie(COOKIE, new.secret, max_age=new.max_age, path="/", secure=True, httponly=True, samesite="lax")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")
