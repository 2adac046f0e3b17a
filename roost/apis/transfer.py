"""Record export and import routes (a Roost extension): parse -> one core call -> stream or report."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from roost.apis.openapi.operation import C, Op, param
from roost.apis.openapi.schema import ANY, BOOL, INT, STR, arr, obj
from roost.apis.records import collection_or_404
from roost.apis.request import app_of, int_param, parse_go_bool, request_info
from roost.apis.responses import json_response
from roost.apis.routing import BODY_LIMIT, route
from roost.core.errors import BadRequest
from roost.core.records.export import DEFAULT_CHUNK, ExportQuery, export_records
from roost.core.records.imports import ImportOptions, import_records
from roost.core.records.transfer import MEDIA_TYPES, Row, RowReader, pick_format
from roost.core.schema.collection import Collection


async def export(request: Request) -> Response:
    coll = collection_or_404(request, "Missing collection context.")
    info = await request_info(request)
    params = request.query_params
    fmt = pick_format(params.get("format", ""))
    query = ExportQuery(fmt, params.get("filter", ""), params.get("sort", ""), params.get("fields", ""),
                        int_param(request, "chunk", DEFAULT_CHUNK))  # fmt: skip
    chunks = await export_records(app_of(request), coll, query, info)
    disposition = f'attachment; filename="{coll.name}.{fmt}"'
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[fmt], headers={"Content-Disposition": disposition})


async def import_(request: Request) -> Response:
    app = app_of(request)
    coll = collection_or_404(request)
    request.scope[BODY_LIMIT] = app.config.import_body_limit
    info = await request_info(request)
    params = request.query_params
    fmt = pick_format(params.get("format", ""), request.headers.get("content-type", ""))
    options = ImportOptions(
        chunk=int_param(request, "chunk", 500),
        skip=int_param(request, "skip", 0),
        mode=params.get("mode") or "create",
        continue_on_error=parse_go_bool(params.get("continueOnError")),
    )
    report = await import_records(app, coll, _rows(request, coll, fmt), info, options)
    if report.stopped:
        raise BadRequest(report.stopped, report.as_dict())
    return json_response(request, report.as_dict(), pick=False)


async def _rows(request: Request, coll: Collection, fmt: str) -> AsyncIterator[Row]:
    """Rows as the body arrives: one network chunk at a time, never the whole body."""
    reader = RowReader(coll, fmt)
    async for chunk in request.stream():
        for row in reader.feed(chunk):
            yield row
    for row in reader.finish():
        yield row


_FORMAT = param("format", {"enum": ["csv", "jsonl"]}, "`csv` or `jsonl` (JSON lines). Export default `jsonl`; "
                "import default from the Content-Type (`text/csv` is CSV, anything else JSON lines).")
_EXPORT_PARAMS = (
    _FORMAT,
    param("filter", STR, "Filter expression, ANDed with the collection's listRule."),
    param("sort", STR, "Sort expression (default: insertion order)."),
    param("fields", STR, "Comma list of the fields to export."),
    param("chunk", INT, "Records read per database page (default 500, at most 1000)."),
)
_IMPORT_PARAMS = (
    _FORMAT,
    param("mode", {"enum": ["create", "upsert"]}, "`create` (default), or `upsert`: rows whose `id` names a stored "
          "record update it (updateRule), the others are created."),
    param("chunk", INT, "Rows written per transaction (default 500, at most 5000)."),
    param("skip", INT, "Data rows to pass over first: resume a stopped import with `skip = nextRow - 1`."),
    param("continueOnError", BOOL, "Leave out only the failing rows instead of stopping at the first failing chunk."),
)
_ROW_ERROR = obj(("row", "code", "message", "data"), row=INT, code=STR, message=STR, data=ANY)
_REPORT = obj(
    ("rows", "skipped", "committed", "failed", "chunks", "nextRow", "errors"),
    rows=INT, skipped=INT, committed=INT, failed=INT, chunks=INT,
    nextRow={"type": ["integer", "null"], "description": "The first row not written; null when all were."},
    errors=arr(_ROW_ERROR),
)  # fmt: skip
_STREAM = {"type": "string", "description": "CSV with a header row, or one JSON record per line."}
routes = [
    route(C + "/export", export, ["GET"], tags=["list"], openapi=Op(
        "Export records", "records", errors=(400, 403, 404), params=_EXPORT_PARAMS, scope="records", rule="listRule",
        responses={"200": {"description": "The records, streamed.", "content": {
            "text/csv": {"schema": _STREAM}, "application/jsonl": {"schema": _STREAM}}}},
        description="Streams every record the caller may list, as `GET .../records` shows them (a Roost extension).")),
    route(C + "/import", import_, ["POST"], tags=["create"], openapi=Op(
        "Import records", "records", body=_STREAM, body_media=("text/csv", "application/jsonl"), result=_REPORT,
        errors=(400, 403, 404, 413), params=_IMPORT_PARAMS, scope="records", rule="createRule",
        description="Creates one record per row through the usual create pipeline, in transactions of `chunk` rows "
                    "(a Roost extension). A 400 after a failing chunk carries the same report in `data`.")),
]  # fmt: skip
