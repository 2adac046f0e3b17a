"""PocketBase's rate limiter, run by the HTTP edge (:class:`roost.apis.middleware.stack.HttpEdge`).

Every request is matched to one rule of the ``rateLimits`` settings and counted per client IP:

* Routes of a collection (records CRUD, file downloads, auth actions) declare their tags where
  they are declared (``route(..., tags=[...])``, :mod:`roost.apis.routing`) and look up, in order,
  ``<collection>:<tag>`` for each of the route's tags, ``*:<tag>``, then ``METHOD /path`` and
  ``/path`` (with prefix rules such as ``/api/``). Their counters are kept per collection and
  route, whichever rule matched. A collection that does not exist is not limited here; the
  route answers its own 404.
* Every other route looks up ``METHOD /path`` and ``/path``, and shares one counter per rule.

Superusers and ``excludedIPs`` are never limited; rules apply to ``@guest``, ``@auth`` or both
(audience ``""``). Over the limit the answer is 429 in the usual envelope, plus ``Retry-After``.
The counts live in the app's counter store, so instances sharing Redis share the limits.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import Scope

from roost.apis.errors import error_body
from roost.apis.request import request_info
from roost.apis.route_group import MATCHED_ROUTE
from roost.apis.route_index import routes_to_try
from roost.apis.routing import meta_of, route_path
from roost.core.app import App
from roost.core.auth.throttle import counters
from roost.core.errors import TooManyRequests
from roost.core.events import RequestInfo
from roost.core.schema.collection import Collection
from roost.tools.ratelimit import RateLimitRule, find_rule, parse_rules
from roost.tools.ratelimit.rules import excluded

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
GUEST_AUDIENCES = ("", "@guest")
AUTH_AUDIENCES = ("", "@auth")


class RateLimiter:
    """Checks the ``rateLimits`` settings before the router runs (a no-op while they are off)."""

    def __init__(self, router: Starlette) -> None:
        self.router = router
        self._rules_source: Any = None
        self._rules: tuple[RateLimitRule, ...] = ()

    @staticmethod
    def limits(app: App) -> dict[str, Any] | None:
        """The ``rateLimits`` settings while they are on, else None."""
        limits = app.settings.data.get("rateLimits")
        return limits if limits and limits.get("enabled") else None

    def _rules_of(self, limits: dict[str, Any]) -> tuple[RateLimitRule, ...]:
        raw = limits.get("rules") or []
        if raw is not self._rules_source:
            self._rules, self._rules_source = parse_rules(raw), raw
        return self._rules

    async def retry_after(self, app: App, limits: dict[str, Any], scope: Scope) -> int | None:
        """Seconds to wait when this request is over its limit (under ``limits``), else None."""
        info = await request_info(Request(scope))
        if info.is_superuser or not info.ip or excluded(info.ip, limits.get("excludedIPs") or []):
            return None
        method, path = scope["method"], route_path(scope)
        labels = [f"{method} {path}", path]
        counter = ""
        route = self._collection_route(scope)
        if route is not None:
            template, tags, collection_ref = route
            coll = app.collections.get(collection_ref)
            if coll is None:
                return None
            labels = [*(f"{coll.name}:{t}" for t in tags), *(f"*:{t}" for t in tags), *labels]
            counter = f"{coll.id}{method} {template}{''.join(tags)}"
        audiences = AUTH_AUDIENCES if info.auth is not None else GUEST_AUDIENCES
        rule = find_rule(self._rules_of(limits), labels, audiences)
        if rule is None:
            return None
        key = f"rl:{counter or rule.label}{rule.audience}|{caller_key(info)}"
        verdict = await counters(app).hit(key, rule.max_requests, rule.duration)
        if verdict.allowed:
            return None
        app.metrics.rate_limited(rule.label)
        return verdict.retry_after

    def _collection_route(self, scope: Scope) -> tuple[str, tuple[str, ...], str] | None:
        """(route template, tags, collection name or id) when a collection route will serve this."""
        for route in routes_to_try(self.router.router, scope):
            match, child = route.matches(scope)
            if match != Match.FULL:
                continue
            route = child.get(MATCHED_ROUTE, route)  # a route group: the route it matched
            meta = meta_of(route)
            if meta is None or not meta.tags:
                return None
            template, tags = getattr(route, "path", ""), meta.tags
            first = _PARAM.search(template)
            ref = str(child.get("path_params", {}).get(first.group(1), "")) if first else ""
            return template, tags, ref
        return None


def too_many_requests(retry_after: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and body of the 429 answer to a request over its limit."""
    body = error_body(429, "Too Many Requests.")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"retry-after", str(retry_after).encode())]  # fmt: skip
    return headers, body


def caller_key(info: RequestInfo) -> str:
    """Whom a limit counts: an API key by its id (wherever it calls from), anyone else by IP."""
    return f"apiKey:{info.api_key.id}" if info.api_key is not None else info.ip


async def check_batch_item(app: App, info: RequestInfo, coll: Collection, tag: str) -> None:
    """Count one write inside ``/api/batch`` under its collection tag (a count of its own,
    separate from the standalone route); over the limit fails the batch with a nested 429."""
    limits = app.settings.data.get("rateLimits") or {}
    if not limits.get("enabled") or info.is_superuser or not info.ip or excluded(info.ip, limits.get("excludedIPs") or []):
        return
    audiences = AUTH_AUDIENCES if info.auth is not None else GUEST_AUDIENCES
    rule = find_rule(parse_rules(limits.get("rules") or []), [f"{coll.name}:{tag}", f"*:{tag}"], audiences)
    if rule is None:
        return
    verdict = await counters(app).hit(f"rl:batch:{coll.id}:{tag}{rule.audience}|{caller_key(info)}", rule.max_requests, rule.duration)
    if not verdict.allowed:
        app.metrics.rate_limited(rule.label)
        raise TooManyRequests()
