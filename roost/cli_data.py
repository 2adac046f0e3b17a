"""``roost export records`` and ``roost import records``: records to and from CSV or JSON lines.

Both open the data dir (or ``--db-url``) directly and act with a superuser's rights, as the person
who holds the data dir has them; they go through the same core operations as the API, so every
field check and hook of a create applies. :mod:`roost.cli` registers them with its own helpers
(:class:`CliKit`), which keeps this module below it in the import graph.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click
import orjson

from roost.config import Config
from roost.core.app import App
from roost.core.errors import RoostError
from roost.core.events import RequestInfo
from roost.core.records.export import DEFAULT_CHUNK, ExportQuery, export_records
from roost.core.records.imports import ImportOptions, import_records
from roost.core.records.transfer import Row, RowReader, pick_format
from roost.core.schema.collection import Collection

READ_SIZE = 1 << 16


@dataclass(frozen=True)
class CliKit:
    """What the data commands borrow from :mod:`roost.cli`: config from flags, opening the app,
    one-line failures and the shared ``--dir``/``--db-url`` options."""

    config: Callable[..., Config]
    check_dir: Callable[[Config], None]
    open: Callable[[Config], Awaitable[App]]
    fail: Callable[[str], None]
    fail_on_error: Callable[[Exception], None]
    data_options: Callable[[Any], Any]


def operator_info(app: App) -> RequestInfo:
    """The caller of a data command: the operator, with a superuser's rights."""
    return RequestInfo(auth_collection=app.collections.get("_superusers"), method="POST", context="import")


def register(main: click.Group, import_group: click.Group, kit: CliKit) -> None:
    """Add ``export records`` to ``main`` and ``records`` to its ``import`` group."""
    group = click.Group(name="export", help="Write data out.")
    group.add_command(_export_command(kit))
    main.add_command(group)
    import_group.add_command(_import_command(kit))


def _export_command(kit: CliKit) -> click.Command:
    @click.command(name="records")
    @click.argument("collection")
    @click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None, help="default from --out's extension, else jsonl")
    @click.option("--filter", "filter_", default="", help="filter expression")
    @click.option("--sort", default="", help="sort expression (default insertion order)")
    @click.option("--fields", default="", help="comma list of the fields to export")
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="file to write (default stdout)")
    @kit.data_options
    def export(collection: str, fmt: str | None, filter_: str, sort: str, fields: str, out: Path | None, **options: Any) -> None:
        """Write every record of COLLECTION as CSV or JSON lines."""
        config = kit.config(**options)
        kit.check_dir(config)
        fmt = fmt or ("csv" if out is not None and out.suffix.lower() == ".csv" else "jsonl")
        query = ExportQuery(fmt, filter_, sort, fields, DEFAULT_CHUNK)
        if out is None:
            asyncio.run(_export(kit, config, collection, query, sys.stdout.buffer))
            return
        with out.open("wb") as target:
            count = asyncio.run(_export(kit, config, collection, query, target))
        click.echo(f"Wrote {count} bytes to {out}.", err=True)

    return export


def _import_command(kit: CliKit) -> click.Command:
    @click.command(name="records")
    @click.argument("collection")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None, help="default from FILE's extension")
    @click.option("--chunk", default=500, type=click.IntRange(1, 5000), help="rows per transaction")
    @click.option("--skip", default=0, type=click.IntRange(min=0), help="data rows to pass over (resume with nextRow - 1)")
    @click.option("--mode", type=click.Choice(["create", "upsert"]), default="create", help="upsert updates rows whose id exists")
    @click.option("--continue-on-error", is_flag=True, help="leave out failing rows instead of stopping at their chunk")
    @kit.data_options
    def import_(collection: str, file: Path, fmt: str | None, chunk: int, skip: int, mode: str,
                continue_on_error: bool, **options: Any) -> None:  # fmt: skip
        """Create records of COLLECTION from a CSV or JSON lines FILE, CHUNK rows per transaction."""
        config = kit.config(**options)
        kit.check_dir(config)
        fmt = pick_format(fmt or ("csv" if file.suffix.lower() == ".csv" else "jsonl"))
        options_ = ImportOptions(chunk, skip, mode, continue_on_error)
        report = asyncio.run(_import(kit, config, collection, file, fmt, options_))
        stopped = report.pop("stopped")
        click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        if stopped:
            kit.fail(f"{stopped} Resume with --skip {report['nextRow'] - 1}.")

    return import_


async def _opened(kit: CliKit, config: Config, name: str) -> tuple[App, Collection]:
    app = await kit.open(config)
    coll = app.collections.get(name)
    if coll is None:
        await app.close()
        kit.fail(f"no collection {name!r}.")
    assert coll is not None
    return app, coll


async def _export(kit: CliKit, config: Config, name: str, query: ExportQuery, target: IO[bytes]) -> int:
    app, coll = await _opened(kit, config, name)
    written = 0
    try:
        async for chunk in await export_records(app, coll, query, operator_info(app)):
            target.write(chunk)
            written += len(chunk)
    except RoostError as exc:
        kit.fail_on_error(exc)
    finally:
        await app.close()
    return written


async def _import(kit: CliKit, config: Config, name: str, file: Path, fmt: str, options: ImportOptions) -> dict[str, Any]:
    app, coll = await _opened(kit, config, name)
    try:
        report = await import_records(app, coll, _rows(file, coll, fmt), operator_info(app), options)
        return {**report.as_dict(), "stopped": report.stopped}
    except RoostError as exc:
        kit.fail_on_error(exc)
        raise
    finally:
        await app.close()


async def _rows(file: Path, coll: Collection, fmt: str) -> AsyncIterator[Row]:
    reader = RowReader(coll, fmt)
    with file.open("rb") as source:
        while chunk := source.read(READ_SIZE):
            for row in reader.feed(chunk):
                yield row
    for row in reader.finish():
        yield row
