"""What a hooks file imports: ``from roost.hooks import app``.

A file in the hooks directory (``roost_hooks`` beside the data dir) registers through ``app``
exactly as a program registers through its ``Roost`` instance::

    from roost.hooks import BadRequest, RecordEvent, RouteEvent, app

    @app.on_record_create("posts")
    async def default_status(e: RecordEvent) -> None:
        e.record["status"] = e.record.get("status") or "draft"
        await e.next()

    @app.route("GET", "/api/hello/{name}")
    async def hello(e: RouteEvent) -> dict[str, str]:
        return {"message": f"Hello {e.params['name']}"}

See ``docs/hooks.md``.
"""

from __future__ import annotations

from roost.core.errors import (
    BadRequest,
    FieldError,
    Forbidden,
    NotFound,
    RoostError,
    Unauthorized,
    ValidationFailed,
)
from roost.core.events import (
    CollectionEvent,
    RecordAuthRequestEvent,
    RecordEnrichEvent,
    RecordErrorEvent,
    RecordEvent,
    RecordRequestEvent,
    RequestInfo,
)
from roost.plugins.hooks_dir.loader import HooksFileApp, app
from roost.plugins.hooks_dir.routes import CallerRecords, RouteEvent

__all__ = [
    "BadRequest",
    "CallerRecords",
    "CollectionEvent",
    "FieldError",
    "Forbidden",
    "HooksFileApp",
    "NotFound",
    "RecordAuthRequestEvent",
    "RecordEnrichEvent",
    "RecordErrorEvent",
    "RecordEvent",
    "RecordRequestEvent",
    "RequestInfo",
    "RoostError",
    "RouteEvent",
    "Unauthorized",
    "ValidationFailed",
    "app",
]
