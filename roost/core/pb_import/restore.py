"""The import itself: settings, collections, records and files into a bootstrapped app.

Collections go through the collection store, so Roost validates each one and builds its table;
relation fields that point at a collection not created yet come in a second pass, views last.
Records are a restore, row for row: values are decoded as SQLite holds them and encoded for the
target database by the same field code the record pipeline uses, but no record hook fires, no
rule applies and no autodate is stamped, as in a backup restore.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.core.base import App
from roost.core.db.facade import QueryError, quote_ident
from roost.core.errors import RoostError
from roost.core.pb_import.source import (
    BATCH,
    RULES,
    ImportRefused,
    SourceCollection,
    connect,
    is_pocketbase_dir,
    read_collections,
    read_settings,
    rows,
)
from roost.core.records.codec import codec_for
from roost.core.schema.collection import Collection
from roost.tools.oauth2 import providers as oauth2_providers

#: system collections whose rows are user data worth keeping (the others hold short-lived codes)
SYSTEM_ROWS = ("_superusers", "_externalAuths", "_authOrigins")
#: progress is reported every this many rows of one collection
PROGRESS_EVERY = 5000

Progress = Callable[[str], None]


@dataclass
class ImportReport:
    """What an import carried over and what it left out."""

    collections: list[str] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)
    files: int = 0
    settings: str = "not present"
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        total = sum(self.records.values())
        lines = [
            f"Imported {len(self.collections)} collections, {total} records and {self.files} files.",
            f"Settings: {self.settings}.",
        ]
        lines += [f"Not imported: {note}" for note in self.skipped]
        return "\n".join(lines)


# ----- the import -------------------------------------------------------------------------------
async def import_pocketbase(
    app: App,
    source_dir: Path,
    *,
    force: bool = False,
    encryption_key: str = "",
    progress: Progress = lambda _: None,
) -> ImportReport:
    """Bring everything of the PocketBase data dir ``source_dir`` into the bootstrapped ``app``.

    A Roost that already holds data is refused unless ``force``; then collections with the
    source's id (or name) are updated to the source's definition, records with the source's ids
    are replaced, and everything else already in Roost stays.
    """
    source_dir = Path(source_dir)
    if not is_pocketbase_dir(source_dir):
        raise ImportRefused(
            f"{source_dir} is not a PocketBase 0.23+ data dir (no data.db with PocketBase's _collections)"
        )
    if not force:
        reason = await _holds_data(app)
        if reason:
            raise ImportRefused(
                f"the Roost data is not empty ({reason}); import into a new --dir, "
                "or pass --force to merge (same ids are replaced, the rest is kept)"
            )
    report = ImportReport()
    with closing(connect(source_dir / "data.db")) as conn:
        settings, report.settings = read_settings(conn, encryption_key)
        if settings is not None:
            await _import_settings(app, settings, report)
        progress(f"settings: {report.settings}")
        sources = read_collections(conn)
        for src in sources:
            report.skipped += _drop_unknown_providers(src)
        await _import_collections(app, sources, force, report, progress)
        for src in sources:
            if src.type == "view" or (src.system and src.name not in SYSTEM_ROWS):
                continue
            target = app.collections.get(src.id) or app.collections.get(src.name)
            if target is None:
                continue
            report.records[src.name] = await _import_rows(app, conn, src, target, force, progress)
    report.files = await _import_files(app, source_dir / "storage", sources, progress)
    if settings is not None and _uses_s3(settings):
        report.skipped.append(
            "PocketBase kept its files in S3 (settings s3.enabled): they stay there, and Roost reads "
            "them only if its own storage points at the same bucket"
        )
    report.skipped.append(
        "request logs (auxiliary.db), pb_hooks and pb_migrations files, MFA and OTP codes in flight"
    )
    return report


def _drop_unknown_providers(src: SourceCollection) -> list[str]:
    """Leave out the OAuth2 providers Roost has no client for (their links are still kept)."""
    block = src.data.get("oauth2")
    if not isinstance(block, dict) or not isinstance(block.get("providers"), list):
        return []
    known: list[Any] = []
    dropped: list[Any] = []
    for entry in block["providers"]:
        name = entry.get("name") if isinstance(entry, dict) else None
        (known if name and oauth2_providers.get(str(name)) is not None else dropped).append(entry)
    if not dropped:
        return []
    src.data["oauth2"] = {**block, "providers": known}
    names = ", ".join(str(e.get("name") if isinstance(e, dict) else e) for e in dropped)
    return [
        f"the OAuth2 provider settings {names} of {src.name!r} (Roost has no client for them yet; "
        "the users' links to them are kept)"
    ]


async def _holds_data(app: App) -> str:
    for coll in app.collections.all():
        if coll.is_view:
            continue
        if not coll.system and coll.name != "users":
            return f"it has the collection {coll.name!r}"
        if coll.name in ("users", "_superusers"):
            count = await app.db.fetch_value(
                f"SELECT COUNT(*) FROM {quote_ident(coll.table, app.dialect)}"
            )
            if int(count or 0):
                return f"{coll.name} has {count} records"
    return ""


async def _import_settings(app: App, settings: dict[str, Any], report: ImportReport) -> None:
    try:
        await app.settings.update(settings)
    except RoostError as exc:
        report.settings = f"NOT imported: Roost refused them ({_describe(exc)})"


def _uses_s3(settings: dict[str, Any]) -> bool:
    s3 = settings.get("s3")
    return isinstance(s3, dict) and bool(s3.get("enabled"))


# ----- collections ------------------------------------------------------------------------------
async def _import_collections(
    app: App, sources: list[SourceCollection], force: bool, report: ImportReport, progress: Progress
) -> None:
    wanted = {s.id for s in sources if not s.system}
    if not force:
        # the fresh target's default ``users`` collection (empty) makes way for the source's one
        default_users = app.collections.get("users")
        if (
            default_users is not None
            and not default_users.system
            and default_users.id not in wanted
        ):
            await app.collections.delete(default_users)
    tables = [s for s in sources if not s.system and s.type != "view"]
    deferred: list[SourceCollection] = []
    for src in tables:
        known = {c.id for c in app.collections.all()}
        first = _without_missing_relations(src.data, known | {src.id})
        if first is not src.data:
            deferred.append(src)
        await _save_collection(app, first, src)
        progress(f"collection {src.name} ({src.type})")
        report.collections.append(src.name)
    for src in deferred:  # the relations to collections created after them
        await _save_collection(app, src.data, src)
    views = [s for s in sources if not s.system and s.type == "view"]
    while views:  # a view may read another view: create what can be, until nothing moves
        failed: list[tuple[SourceCollection, RoostError]] = []
        for src in views:
            try:
                await _save_collection(app, src.data, src)
            except RoostError as exc:
                failed.append((src, exc))
                continue
            progress(f"collection {src.name} (view)")
            report.collections.append(src.name)
        if len(failed) == len(views):
            src, error = failed[0]
            raise ImportRefused(
                f"the view collection {src.name!r} could not be created: {_describe(error)}"
            )
        views = [src for src, _ in failed]
    superusers = next((s for s in sources if s.system and s.name == "_superusers"), None)
    target = app.collections.get("_superusers")
    if superusers is not None and target is not None:
        options = {
            k: v
            for k, v in superusers.data.items()
            if k not in ("id", "name", "type", "fields", "indexes", *RULES)
        }
        await _save(app, target, options, superusers)


def _without_missing_relations(data: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """``data`` without the relation fields (and indexes) that need a collection not there yet."""
    fields = data.get("fields") or []
    missing = {
        f.get("name") for f in fields
        if isinstance(f, dict) and f.get("type") == "relation" and f.get("collectionId") not in known
    }  # fmt: skip
    if not missing:
        return data
    kept = [f for f in fields if not (isinstance(f, dict) and f.get("name") in missing)]
    indexes = [
        i for i in data.get("indexes") or [] if not any(str(name) in str(i) for name in missing)
    ]
    return {**data, "fields": kept, "indexes": indexes}


async def _save_collection(app: App, data: dict[str, Any], src: SourceCollection) -> None:
    existing = app.collections.get(src.id) or app.collections.get(src.name)
    if existing is None:
        try:
            await app.collections.create(data)
        except RoostError as exc:
            raise ImportRefused(
                f"the collection {src.name!r} ({src.id}) was refused: {_describe(exc)}"
            ) from exc
        return
    await _save(app, existing, data, src)


async def _save(
    app: App, existing: Collection, data: dict[str, Any], src: SourceCollection
) -> None:
    try:
        await app.collections.update(existing, data)
    except RoostError as exc:
        raise ImportRefused(
            f"the collection {src.name!r} ({src.id}) was refused: {_describe(exc)}"
        ) from exc


def _describe(exc: RoostError) -> str:
    details = "; ".join(f"{k}: {_message(v)}" for k, v in exc.data.items()) if exc.data else ""
    return f"{exc.message} {details}".strip()


def _message(value: Any) -> str:
    if isinstance(value, dict) and "message" in value:
        return str(value["message"])
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_message(v)}" for k, v in value.items())
    return str(getattr(value, "message", value))


# ----- records ----------------------------------------------------------------------------------
async def _import_rows(
    app: App,
    conn: sqlite3.Connection,
    src: SourceCollection,
    target: Collection,
    force: bool,
    progress: Progress,
) -> int:
    """Copy every row of ``src`` into ``target`` as stored (values decoded as SQLite holds them,
    encoded for the target database by the same field code the record pipeline uses)."""
    codec = codec_for(target, app.dialect)
    fields = list(target.fields)
    placeholders = ", ".join(codec.placeholder(f.name, f"v{i}") for i, f in enumerate(fields))
    insert = f"INSERT INTO {codec.table} ({codec.columns}) VALUES ({placeholders})"
    delete = f'DELETE FROM {codec.table} WHERE "id" = :id'
    total = conn.execute(f"SELECT COUNT(*) FROM {quote_ident(src.name, 'sqlite')}").fetchone()[0]
    count = 0
    batch: list[dict[str, Any]] = []
    ids: list[dict[str, Any]] = []

    async def flush() -> None:
        async with app.db.transaction() as tx:
            if force:
                await tx.execute(delete, ids)
            await tx.execute(insert, batch)
        batch.clear()
        ids.clear()

    try:
        for row in rows(conn, src.name):
            present = row.keys()
            values = {
                f.name: f.from_db(row[f.name]) if f.name in present else f.zero() for f in fields
            }
            batch.append({f"v{i}": f.to_db(values[f.name]) for i, f in enumerate(fields)})
            ids.append({"id": values["id"]})
            count += 1
            if len(batch) >= BATCH:
                await flush()
            if count % PROGRESS_EVERY == 0:
                progress(f"records {src.name}: {count}/{total}")
        if batch:
            await flush()
    except QueryError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImportRefused(f"the records of {src.name!r} could not be written: {first}") from exc
    await app.response_cache.invalidate([target], deletes=True)
    progress(f"records {src.name}: {count} done")
    return count


# ----- files ------------------------------------------------------------------------------------
async def _import_files(
    app: App, storage: Path, sources: list[SourceCollection], progress: Progress
) -> int:
    """Copy ``storage/<collectionId>/<recordId>/<file>`` of the known collections."""
    if not storage.is_dir():
        return 0
    ids = {s.id for s in sources}
    count = 0
    for coll_dir in sorted(storage.iterdir()):
        if coll_dir.name not in ids or not coll_dir.is_dir():
            continue  # backups, or leftovers of collections PocketBase no longer has
        for record_dir in sorted(coll_dir.iterdir()):
            if not record_dir.is_dir():
                continue
            for path in sorted(record_dir.iterdir()):
                # thumbnails live in thumbs_<file>/ subdirs and are made again on demand
                if not path.is_file() or path.is_symlink() or path.name.endswith(".attrs"):
                    continue
                with path.open("rb") as file:  # copied in chunks: a large file is never read whole
                    await app.storage.put_file(f"{coll_dir.name}/{record_dir.name}/{path.name}", file)
                count += 1
                if count % 1000 == 0:
                    progress(f"files: {count}")
    progress(f"files: {count} done")
    return count
