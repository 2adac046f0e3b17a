"""Cached list and view responses with exact invalidation by per-collection data versions.

Every collection has a data-version counter in the cache backend, bumped after each committed
write to it (before the write's response is sent). An entry's key embeds the current data
version, schema version and update stamp of every collection the read depends on (see
:mod:`roost.core.cache.scope`), plus the normalised query and the caller context. A write
therefore retires exactly the entries that could include it, on every instance sharing the
backend, with no broadcast: the old keys are simply never asked for again and expire.

Ordering makes this safe: the versions are read *before* the query runs, so a response can only
be stored under versions at least as old as the data it shows. Counters start at a random value
so a counter lost to eviction can never come back to a value an old entry used
(``roost.tools.cache.base``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from roost.core.cache.scope import ReadScope, analyse_read
from roost.core.db.facade import UniqueViolation
from roost.core.events import RecordEvent, RequestInfo
from roost.core.hooks import SYSTEM_PRIORITY
from roost.core.records.cascade import references_to
from roost.core.schema.collection import Collection
from roost.core.schema.fields.date import now_string
from roost.tools.cache import Cache, CacheError

if TYPE_CHECKING:
    from roost.core.base import App

log = logging.getLogger("roost.cache")
NAMESPACE_PARAM = "responseCacheNamespace"
#: the id the cache binds its after-success record handler under
HOOK_ID = "roost.response_cache"
#: memcached's default item limit is 1 MiB; larger bodies are served uncached
MAX_ENTRY_BYTES = 1000 * 1024
MAX_SCOPES = 2048
ETAG_LENGTH = 32


def body_etag(body: bytes) -> str:
    """A content hash of a response body (32 hex characters)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


@dataclass
class CachedRead:
    """A cacheable read: its entry key, and the body and ETag when the entry was found."""

    key: str
    body: bytes | None = None
    etag: str = ""


@dataclass(frozen=True)
class ReadRequest:
    """The normalised inputs of a list or view read that can change its response."""

    kind: str  # "list" | "view" | "aggregate"
    filter: str = ""
    sort: str = ""
    expand: str = ""
    #: page, perPage, skipTotal, fields or the record id: part of the key, not of the scope
    rest: tuple[str, ...] = ()


class ResponseCache:
    """The response cache of one app; disabled (every lookup misses) without a backend."""

    def __init__(self, app: App, backend: Cache | None, ttl: float = 300) -> None:
        self.app = app
        self.backend = backend
        self.ttl = ttl
        self.namespace = ""
        self._scopes: dict[tuple[str, ...], ReadScope] = {}
        #: lookups answered from the cache / cacheable lookups that missed (since start)
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.backend is not None and bool(self.namespace)

    async def start(self, *, cross_process: bool = False) -> None:
        """Connect the backend, agree on a namespace through the database, watch writes.

        ``cross_process``: other processes publish their writes through the app's broker."""
        if self.backend is None:
            return
        await self.backend.start()
        self.namespace = f"roost:{await _namespace(self.app)}:"
        for hook in self.app.hooks.records_committed():
            hook.bind(self._on_record, id=HOOK_ID, priority=SYSTEM_PRIORITY)
        if not self.backend.shared and cross_process:
            log.warning("memory:// response cache with a cross-process broker: other instances' writes "
                        "are not seen here; use redis:// or memcached:// when instances share a database")  # fmt: skip

    async def close(self) -> None:
        for hook in self.app.hooks.records_committed():
            hook.unbind(HOOK_ID)
        if self.backend is not None:
            await self.backend.close()

    def _hooked(self, kind: str) -> bool:
        """Handlers that may shape a read per request (enrich, list/view request hooks) make
        its answer uncacheable: a cached body would skip them."""
        if kind == "aggregate":  # no record is presented and no request hook runs
            return False
        hooks = self.app.hooks
        request_hook = hooks.on_records_list_request if kind == "list" else hooks.on_record_view_request
        return bool(hooks.on_record_enrich.handlers or request_hook.handlers)

    # ----- reads ---------------------------------------------------------------------------------
    async def lookup(
        self, coll: Collection, read: ReadRequest, info: RequestInfo
    ) -> CachedRead | None:
        """The entry for this read (with its body on a hit), or None when it must not be cached."""
        if not self.enabled or info.is_superuser or info.api_key is not None or self._hooked(read.kind):
            return None
        scope = self._scope(coll, read, info)
        if not scope.cacheable:
            return None
        deps = [self.app.collections.get(i) for i in scope.dependencies]
        present = [c for c in deps if c is not None]
        if len(present) != len(deps):
            return None
        try:
            versions = await self._versions([c.id for c in present])
            key = self._key(coll, read, _context(scope, info), present, versions)
            value = (await self.backend.get_many([key]))[0]  # type: ignore[union-attr]
        except CacheError as exc:
            log.warning("response cache unavailable: %s", exc)
            return None
        if value is None or len(value) < ETAG_LENGTH:
            self.misses += 1
            self.app.metrics.cache_lookup(False)
            return CachedRead(key)
        self.hits += 1
        self.app.metrics.cache_lookup(True)
        return CachedRead(key, value[ETAG_LENGTH:], value[:ETAG_LENGTH].decode())

    async def store(self, entry: CachedRead, body: bytes, etag: str) -> None:
        """Remember ``body`` under the key found by :meth:`lookup`."""
        if self.backend is None or len(body) > MAX_ENTRY_BYTES:
            return
        try:
            await self.backend.set(entry.key, etag.encode() + body, self.ttl)
        except CacheError as exc:
            log.warning("response cache unavailable: %s", exc)

    def _scope(self, coll: Collection, read: ReadRequest, info: RequestInfo) -> ReadScope:
        auth_coll = (
            info.auth_collection.id if info.auth is not None and info.auth_collection else ""
        )
        memo = (coll.id, read.kind, read.filter, read.sort, read.expand, auth_coll)
        scope = self._scopes.get(memo)
        if scope is None or not scope.still_valid(self.app):
            rule_name = "viewRule" if read.kind == "view" else "listRule"
            scope = analyse_read(
                self.app, coll, rule_name, read.filter, read.sort, read.expand, info
            )
            if len(self._scopes) >= MAX_SCOPES:
                self._scopes.clear()
            self._scopes[memo] = scope
        return scope

    def _key(
        self,
        coll: Collection,
        read: ReadRequest,
        context: str,
        deps: list[Collection],
        versions: list[str],
    ) -> str:
        stamp = [(c.id, c.version, c.updated, v) for c, v in zip(deps, versions, strict=True)]
        material = orjson.dumps(
            [read.kind, coll.id, context, read.filter, read.sort, read.expand, read.rest, stamp]
        )
        return self.namespace + "r:" + hashlib.sha256(material).hexdigest()

    async def _versions(self, ids: list[str]) -> list[str]:
        assert self.backend is not None
        return [v.decode() for v in await self.backend.counters([self._version_key(i) for i in ids])]

    def _version_key(self, collection_id: str) -> str:
        return f"{self.namespace}v:{collection_id}"

    # ----- writes --------------------------------------------------------------------------------
    async def _on_record(self, event: RecordEvent) -> None:
        await self.invalidate([event.collection], deletes=event.action == "delete")
        await event.next()

    async def invalidate(self, collections: Iterable[Collection], *, deletes: bool = False) -> None:
        """Retire every entry that depends on ``collections`` (call after the commit).

        With ``deletes``, records were deleted from them: the collections whose relation fields
        pointed there had those values rewritten without events of their own, so they count too.
        """
        if not self.enabled or self.backend is None:
            return
        ids = {c.id for c in collections}
        if deletes:
            ids.update(other.id for c in collections for other, _ in references_to(self.app, c))
        for collection_id in sorted(ids):
            key = self._version_key(collection_id)
            try:
                await self.backend.bump(key)
            except CacheError:
                log.exception(
                    "could not bump the data version of %s; cached reads may be stale until they expire",
                    key,
                )


def _context(scope: ReadScope, info: RequestInfo) -> str:
    """Who the response is for: everyone, guests, one auth record state, or one auth record."""
    if info.auth is None or info.auth_collection is None:
        return "guest" if scope.reads_auth else "public"
    if scope.reads_auth:
        state = orjson.dumps(info.auth, option=orjson.OPT_SORT_KEYS, default=str)
        return f"auth:{info.auth_collection.id}:{hashlib.sha256(state).hexdigest()}"
    if info.auth_collection.id in scope.presented:
        return f"self:{info.auth_collection.id}:{info.auth_id}"  # e-mail visibility of the caller's own record
    return "public"


async def _namespace(app: App) -> str:
    """A random id stored in the database, so every instance sharing it shares the cache keys."""
    sql = 'SELECT "value" FROM "_params" WHERE "id" = :id'
    row = await app.db.fetch_one(sql, {"id": NAMESPACE_PARAM})
    if row is None:
        now = now_string()
        try:
            async with app.db.transaction() as conn:
                await conn.execute(
                    'INSERT INTO "_params" ("id", "value", "created", "updated") VALUES (:id, :value, :now, :now)',
                    {"id": NAMESPACE_PARAM, "value": secrets.token_hex(8), "now": now},
                )
        except UniqueViolation:
            pass  # another instance got there first
        row = await app.db.fetch_one(sql, {"id": NAMESPACE_PARAM})
    return str(row["value"]) if row is not None else secrets.token_hex(8)
