"""AWS Lambda entry point: Roost's stateless REST API behind API Gateway (HTTP or REST API) or an ALB.

    Handler: roost.lambda_handler.handler        (pip install 'roost[lambda]')

Configuration comes from the same ``ROOST_*`` variables as ``roost serve``. ``ROOST_DB_URL`` must
name PostgreSQL (or MySQL): an embedded SQLite file would live in one container's ``/tmp`` and
vanish with it. Apply migrations from outside (``roost migrate up``), store files in S3.

A Lambda container is frozen between invocations and never holds a connection open for a
client, so what needs a long-lived process is switched off here and stated once in the log:

- realtime (``/api/realtime`` SSE and WebSocket) answers 501 in PocketBase's error shape. Record
  events are still published on the broker, so with ``ROOST_REDIS_URL`` shared with a container
  deployment, subscribers connected there receive writes made through Lambda;
- background jobs (cron, the durable job queue's worker, plugins' jobs) do not start. Jobs
  queued here wait in the database for a server instance's worker;
- request logs and queued mails, written in the background by a server, are flushed before each
  invocation returns.

Collection and settings changes made elsewhere reach a warm container through the broker, and a
cheap fingerprint query before each invocation catches those sent while it was frozen.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import Receive, Scope, Send

from roost.app import Roost
from roost.config import Config
from roost.core.events import SettingsReloadEvent
from roost.core.hooks import trigger_logged
from roost.core.jobs import Jobs

if TYPE_CHECKING:
    from mangum import Mangum

log = logging.getLogger("roost.lambda")

REALTIME_PATH = "/api/realtime"
REALTIME_REFUSED = (
    "Realtime subscriptions are not available on AWS Lambda. Connect the realtime client to a "
    "Roost server (container or VM) that shares this deployment's database and broker."
)
#: changes when a collection or a setting is created, changed or deleted
_FINGERPRINT_SQL = (
    "SELECT (SELECT COUNT(*) FROM _collections) || ':' || COALESCE((SELECT MAX(updated) FROM _collections), '')"
    " || ':' || (SELECT COUNT(*) FROM _params) || ':' || COALESCE((SELECT MAX(updated) FROM _params), '')"
)


class LambdaConfigError(RuntimeError):
    """The configuration cannot work on Lambda (raised at the cold start, so the first
    invocation fails with this message in the function's log)."""


class _NoBackgroundJobs(Jobs):
    """The app's jobs, registered as usual but never started: a frozen container cannot run them."""

    def __init__(self, replaced: Jobs) -> None:
        super().__init__()
        self._jobs = dict(replaced._jobs)

    def start(self) -> None:
        if self._jobs:
            log.info("background jobs do not run on AWS Lambda (%s); run a Roost server instance "
                     "on the same database for cron and queued jobs", ", ".join(sorted(self._jobs)))


class LambdaASGI:
    """Roost's ASGI app with realtime refused and background output flushed per request."""

    def __init__(self, server: Roost) -> None:
        self.server = server
        self._fingerprint: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path.rstrip("/") == REALTIME_PATH or path.startswith(REALTIME_PATH + "/")):
            await _refuse(send)
            return
        if self.server.asgi.started:
            await self._reload_if_changed()
        try:
            await self.server.asgi(scope, receive, send)
        finally:
            app = self.server.app
            await app.logs.flush()
            await app.mail.join()
        if self._fingerprint is None:
            self._fingerprint = await self._current_fingerprint()

    async def _current_fingerprint(self) -> str:
        return str(await self.server.app.db.fetch_value(_FINGERPRINT_SQL))

    async def _reload_if_changed(self) -> None:
        current = await self._current_fingerprint()
        if self._fingerprint is not None and current != self._fingerprint:
            app = self.server.app
            await app.collections.load()
            await app.settings.load()
            await trigger_logged(app.hooks.on_settings_reload, SettingsReloadEvent(app=app))
        self._fingerprint = current


async def _refuse(send: Send) -> None:
    body = orjson.dumps({"status": 501, "message": REALTIME_REFUSED, "data": {}})
    await send({"type": "http.response.start", "status": 501, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})


def lambda_config(config: Config | None = None) -> Config:
    """``config`` (or the environment) checked for Lambda: a server database, data under /tmp."""
    config = config or Config()
    if not config.db_url:
        raise LambdaConfigError(
            "Roost on AWS Lambda needs ROOST_DB_URL (postgresql://...): the embedded SQLite file "
            "would live in one container's /tmp and be lost with it")
    if "ROOST_DATA_DIR" not in os.environ and config.data_dir == Config().data_dir:
        # the function's code directory is read-only; /tmp is the only writable place
        config = config.model_copy(update={"data_dir": Path("/tmp/roost_data")})
    return config


class LambdaHandler:
    """A Lambda handler serving one Roost: ``handler = LambdaHandler(Roost(...))``.

    Invocations of one container run one at a time on one event loop that lives as long as the
    container, so the database pool and broker connection are reused while the container is warm.
    """

    def __init__(self, server: Roost) -> None:
        server.app.jobs = _NoBackgroundJobs(server.app.jobs)
        self.server = server
        self.asgi = LambdaASGI(server)
        self.loop = asyncio.new_event_loop()
        self._mangum: Mangum | None = None

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        asyncio.set_event_loop(self.loop)
        if self._mangum is None:
            from mangum import Mangum  # the optional 'lambda' extra

            # lifespan off: the app starts on the first request and stays up while warm
            self._mangum = Mangum(self.asgi, lifespan="off")
        return dict(self._mangum(event, context))

    def close(self) -> None:
        """Stop the app and close its loop (tests; Lambda itself just freezes the container)."""
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.stop())
        self.loop.close()
        asyncio.set_event_loop(None)


_default: LambdaHandler | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The function's entry point, built at the first invocation from ``ROOST_*`` variables."""
    global _default
    if _default is None:
        _default = LambdaHandler(Roost(lambda_config()))
    return _default(event, context)
