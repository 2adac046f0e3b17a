"""Record export (a Roost extension): every record the caller may list, streamed in chunks.

The export walks the list in keyset pages through the request level's list operation
(:func:`roost.core.records.requests.list_records`), so the list rule, the API key's ``list``
scope, ``on_records_list_request`` and the filter behave exactly as for ``GET .../records``; each
page is presented like a REST answer (hidden fields, e-mail visibility, ``on_record_enrich``,
``?fields=``). Only one page is held in memory at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost.core.events import RequestInfo
from roost.core.records import requests
from roost.core.records.codec import codec_for
from roost.core.records.present import present_records
from roost.core.records.queries import MAX_PER_PAGE, ListQuery
from roost.core.records.save import blank_record
from roost.core.records.transfer import CsvWriter, jsonl_rows
from roost.core.schema.collection import Collection
from roost.tools.picker import pick_each

if TYPE_CHECKING:
    from roost.core.base import App

DEFAULT_CHUNK = 500


@dataclass
class ExportQuery:
    format: str = "jsonl"
    filter: str = ""
    sort: str = ""
    fields: str = ""
    #: records per database page (at most the list's ``perPage`` limit)
    chunk: int = DEFAULT_CHUNK


async def export_records(app: App, coll: Collection, query: ExportQuery, info: RequestInfo) -> AsyncIterator[bytes]:
    """The export as an iterator of encoded chunks, one per page of records.

    The first page is read before this returns, so a refused rule, a bad filter or a bad sort
    raises here, before anything is sent.
    """
    chunk = max(1, min(query.chunk, MAX_PER_PAGE))
    page = ListQuery(per_page=chunk, sort=query.sort, filter=query.filter, skip_total=True, cursor="")
    first, cursor = await _page(app, coll, page, info, query.fields)
    return _stream(app, coll, query, info, page, first, cursor)


async def _page(app: App, coll: Collection, page: ListQuery, info: RequestInfo, fields: str) -> tuple[list[dict[str, Any]], str | None]:
    found = await requests.list_records(app, coll, page, info)
    return await present_records(app, coll, found.items, info, fields=fields), found.next_cursor


async def _stream(
    app: App,
    coll: Collection,
    query: ExportQuery,
    info: RequestInfo,
    page: ListQuery,
    records: list[dict[str, Any]],
    cursor: str | None,
) -> AsyncIterator[bytes]:
    writer = CsvWriter(coll, csv_columns(app, coll, info, query.fields, records)) if query.format == "csv" else None
    if writer is not None:
        yield writer.header().encode()
    while True:
        if records:
            yield writer.rows(records).encode() if writer is not None else jsonl_rows(records)
        if not cursor:
            return
        page.cursor = cursor
        records, cursor = await _page(app, coll, page, info, query.fields)


def csv_columns(app: App, coll: Collection, info: RequestInfo, fields: str, records: list[dict[str, Any]]) -> list[str]:
    """The header: every key a record of this collection shows this caller, in the REST order,
    then any key the first records carry besides (``on_record_enrich`` may add some)."""
    shape = codec_for(coll, app.dialect).export(blank_record(coll), show_hidden=info.is_superuser, show_email=True)
    columns = list(pick_each([shape], fields)[0]) if fields else list(shape)
    for record in records:
        columns.extend(key for key in record if key not in columns and key != "expand")
    return columns
