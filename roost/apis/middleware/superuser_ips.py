"""The ``superuserIPs`` check for every HTTP request, as PocketBase's global middleware does it.

A request authenticated as a superuser (bearer token or session cookie) from an address off a
non-empty list answers 403, whatever the route. Guests and other auth records pass untouched.
While the list is empty (the default) this costs one settings lookup per request. The HTTP edge
(:class:`roost.apis.middleware.stack.HttpEdge`) runs it before the rate limiter and the router.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Scope

from roost.apis.auth.session_cookie import COOKIE
from roost.apis.request import request_info
from roost.core.app import App
from roost.core.auth.superuser_ips import allowed_ips, check_superuser_ip
from roost.core.rules.superuser_roles import check_superuser_request, superuser_roles_set

_COOKIE = COOKIE.encode()


def superuser_checks_apply(app: App, scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """Could :func:`check_superuser_access` refuse this request? (It carries credentials, and a
    list or a role is set.) False for nearly every request, at no await; ``headers`` are the
    request's as a dict (a guest is told apart by two lookups)."""
    if b"authorization" not in headers and b"cookie" not in headers:
        return False
    return _has_credentials(scope) and bool(allowed_ips(app) or superuser_roles_set(app))


async def check_superuser_access(app: App, scope: Scope) -> None:
    """Raise Forbidden for a superuser request the ``superuserIPs`` list or the roles refuse
    (call it when :func:`superuser_checks_apply`)."""
    info = await request_info(Request(scope))
    check_superuser_ip(app, info.auth_collection, info.ip)
    check_superuser_request(info, scope["method"], scope["path"])


def _has_credentials(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"authorization" or (name == b"cookie" and _COOKIE in value):
            return True
    return False


__all__ = ["check_superuser_access", "superuser_checks_apply"]
