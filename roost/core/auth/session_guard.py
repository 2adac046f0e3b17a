"""CSRF protection of cookie sessions: a synchronizer token plus an Origin check.

The CSRF token is an HMAC of the (HttpOnly) cookie value, so only a page that was handed it
at login, or read it back with the cookie from a trusted origin, can send it; nothing extra is
stored. Writes (any method but GET, HEAD and OPTIONS) made with the cookie must carry it in
``X-CSRF-Token`` and come from the server's own origin, the settings' ``meta.appURL`` or an
origin listed in ``ROOST_SESSION_ORIGINS``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from roost.core.errors import Forbidden
from roost.core.events import RequestInfo

if TYPE_CHECKING:
    from roost.core.base import App

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
_CSRF_KEY = "x_csrf_token"
_DEFAULT_PORTS = {"http": 80, "https": 443}
BAD_ORIGIN = "The request origin is not allowed to use cookie sessions."
BAD_CSRF = "Missing or invalid CSRF token."


def csrf_token(secret: str) -> str:
    """The CSRF token that belongs to the session cookie value ``secret``."""
    digest = hmac.new(secret.encode(), b"roost-session-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL (default port dropped), or "" for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


@lru_cache(maxsize=64)
def _configured(raw: str) -> frozenset[str]:
    return frozenset(o for o in (origin_of(part) for part in raw.split(",")) if o)


def trusted_origins(app: App) -> frozenset[str]:
    """Origins other than the server's own that may use cookie sessions (and credentialed CORS)."""
    trusted = _configured(app.config.session_origins)
    app_url = origin_of(str((app.settings.data.get("meta") or {}).get("appURL") or ""))
    return trusted | {app_url} if app_url else trusted


def request_origin(info: RequestInfo) -> str:
    """The Origin header, or the origin of the Referer when a browser sent no Origin."""
    sent = info.headers.get("origin", "")
    return origin_of(sent) if sent else origin_of(info.headers.get("referer", ""))


def check_write(app: App, info: RequestInfo, secret: str, own_origin: str) -> None:
    """Refuse (403) a cookie-authenticated write without a trusted origin and the CSRF token."""
    if info.method.upper() in SAFE_METHODS:
        return
    origin = request_origin(info)
    if not origin or (origin != own_origin and origin not in trusted_origins(app)):
        raise Forbidden(BAD_ORIGIN)
    sent = info.headers.get(_CSRF_KEY, "")
    if not hmac.compare_digest(sent.encode(), csrf_token(secret).encode()):
        raise Forbidden(BAD_CSRF)
