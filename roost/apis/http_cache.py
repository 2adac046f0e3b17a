"""HTTP caching for record reads: the response cache, ETag / If-None-Match, Cache-Control, compression.

``cached_read`` wraps the list and view handlers. It looks the response up in the core response
cache *before* the handler queries (see ``roost.core.cache.responses`` for why that order is the
safe one), stores what the handler produced on a miss, and answers every 200 with a weak ETag
(a content hash), a Cache-Control that keeps authenticated responses out of shared caches, and a
gzip or brotli body when the client accepts one and the body is at least 1 KiB.
"""

from __future__ import annotations

import gzip
import importlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.request import aggregate_query, app_of, list_query, request_info
from roost.apis.responses import raw_response
from roost.core.cache.responses import ReadRequest, body_etag
from roost.core.errors import RoostError
from roost.core.events import RequestInfo


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - brotli is a declared dependency
        return None


#: brotli is offered only when the package is installed
brotli = _optional("brotli")

Endpoint = Callable[[Request], Awaitable[Response]]
MIN_COMPRESS_BYTES = 1024
GZIP_LEVEL = 5
BROTLI_QUALITY = 4
PUBLIC_CACHE_CONTROL = "no-cache"
USER_CACHE_CONTROL = "private, no-cache"
SUPERUSER_CACHE_CONTROL = "private, no-store"
VARY = "Accept-Encoding, Authorization"
_COMPRESSED_BUDGET = 16 << 20


class _CompressedBodies:
    """Compressed variants by (ETag, encoding): a content hash key can never go stale."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._size = 0

    def get(self, etag: str, encoding: str, body: bytes) -> bytes:
        key = (etag, encoding)
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            return found
        packed = _compress(body, encoding)
        self._items[key] = packed
        self._size += len(packed)
        while self._size > self.budget:
            _, dropped = self._items.popitem(last=False)
            self._size -= len(dropped)
        return packed


_compressed = _CompressedBodies(_COMPRESSED_BUDGET)


def _compress(body: bytes, encoding: str) -> bytes:
    if encoding == "br" and brotli is not None:
        return bytes(brotli.compress(body, quality=BROTLI_QUALITY))
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def cached_read(kind: str, handler: Endpoint) -> Endpoint:
    """Wrap a record list (``kind="list"``), view (``"view"``) or aggregate (``"aggregate"``) endpoint."""

    async def endpoint(request: Request) -> Response:
        app = app_of(request)
        coll = app.collections.get(request.path_params["collection"])
        info = await request_info(request)
        entry = None
        if coll is not None and app.response_cache.enabled:
            read = _read_request(request, kind)
            entry = await app.response_cache.lookup(coll, read, info) if read is not None else None
        if entry is not None and entry.body is not None:
            return respond(request, entry.body, entry.etag, info)
        response = await handler(request)
        if response.status_code != 200:
            return response
        body = bytes(response.body)
        etag = body_etag(body)
        if entry is not None:
            await app.response_cache.store(entry, body, etag)
        return respond(request, body, etag, info)

    return endpoint


def _read_request(request: Request, kind: str) -> ReadRequest | None:
    params = request.query_params
    common = (params.get("expand", ""), params.get("fields", ""))
    if kind == "view":
        return ReadRequest("view", expand=common[0], rest=(request.path_params["id"], common[1]))
    if kind == "aggregate":
        return _aggregate_request(request)
    try:
        q = list_query(request).normalised()
    except RoostError:
        return None  # the handler reports the bad parameter
    cursor = "" if q.cursor is None else "cursor:" + q.cursor  # keyset pages differ per cursor
    rest = (str(q.page), str(q.per_page), "1" if q.skip_total else "0", common[1], cursor, q.search)
    return ReadRequest("list", filter=q.filter, sort=q.sort, expand=common[0], rest=rest)


def _aggregate_request(request: Request) -> ReadRequest | None:
    try:
        a = aggregate_query(request).normalised()
    except RoostError:
        return None
    # the sort names outputs, not fields: it keys the entry but takes no part in the scope
    rest = (a.group_by, a.fields, a.sort, str(a.page), str(a.per_page), "1" if a.skip_total else "0")
    return ReadRequest("aggregate", filter=a.filter, rest=rest)


def respond(request: Request, body: bytes, etag: str, info: RequestInfo) -> Response:
    """A 200 (or 304) JSON response with validators, cache policy and negotiated compression."""
    headers = [(b"etag", f'W/"{etag}"'.encode()), (b"cache-control", _cache_control(info).encode()), (b"vary", VARY.encode())]
    if _matches(request.headers.get("if-none-match", ""), etag):
        return raw_response(b"", 304, headers, content_type=None)
    encoding = (
        _encoding(request.headers.get("accept-encoding", ""))
        if len(body) >= MIN_COMPRESS_BYTES
        else ""
    )
    if encoding:
        body = _compressed.get(etag, encoding, body)
        headers.append((b"content-encoding", encoding.encode()))
    return raw_response(body, 200, headers)


def _cache_control(info: RequestInfo) -> str:
    if info.auth is None:
        return PUBLIC_CACHE_CONTROL
    return SUPERUSER_CACHE_CONTROL if info.is_superuser else USER_CACHE_CONTROL


def _matches(header: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match requires."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/").strip('"') == etag for tag in header.split(","))


def _encoding(header: str) -> str:
    """``br`` or ``gzip`` when accepted (q > 0), preferring brotli; '' otherwise."""
    accepted: dict[str, float] = {}
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        accepted[name.strip()] = quality
    star = accepted.get("*", 0.0)
    if brotli is not None and accepted.get("br", star) > 0:
        return "br"
    if accepted.get("gzip", star) > 0:
        return "gzip"
    return ""
