"""``batch(requests: [...])``: REST's ``/api/batch`` as one mutation, run by the same core service.

The items are REST's (``{method, url, headers, body}``), so one transaction, the limits, ``PUT``'s
upsert, the per-item rules and hooks, and the error of a failed item (``batch_request_failed``
under ``requests.<index>``, nothing stored) are exactly REST's. An item's body may hold uploads
(the multipart request spec), which go to the item's file fields as REST's
``requests.<index>.<field>`` parts do.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from roost.apis.batch import batch_failure
from roost.apis.graphql.resolvers import Info, context
from roost.apis.graphql.uploads import split_uploads
from roost.apis.middleware.ratelimit import check_batch_item
from roost.core.records import batch as core_batch
from roost.core.records.files import Upload


async def batch(_root: Any, gi: Info, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    app, info = context(gi).app, context(gi).info
    core_batch.require_enabled(app)
    items: list[Any] = []
    uploads: dict[int, dict[str, list[Upload]]] = {}
    for index, item in enumerate(requests):
        body, files = split_uploads(item.get("body") or {})
        items.append({**item, "body": body})
        if files:
            uploads[index] = files
    core_batch.validate_items(app, items)
    try:
        results = await core_batch.run_batch(
            app, info, items, uploads, check=partial(check_batch_item, app)
        )
    except core_batch.BatchItemFailed as exc:
        raise batch_failure(exc.index, exc.error) from exc
    return [{"status": r.status, "body": r.body} for r in results]
