"""``GET /api/metrics``: the Prometheus scrape endpoint.

Readable by superusers and by ``Authorization: Bearer <token>`` with the ``--metricsToken``
(``ROOST_METRICS_TOKEN``) or the ``roostMetrics.token`` setting; 404 while metrics are off
(``--no-metrics``, or ``roostMetrics.enabled`` false in the settings).
"""

from __future__ import annotations

import asyncio
import hmac

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.guards import require_superuser
from roost.apis.openapi.operation import Op, raw
from roost.apis.request import app_of
from roost.apis.routing import route
from roost.core.app import App
from roost.core.errors import NotFound
from roost.tools.metrics import render


def _options(app: App) -> dict[str, object]:
    options = app.settings.data.get("roostMetrics")
    return options if isinstance(options, dict) else {}


def _bearer_allowed(request: Request, app: App) -> bool:
    header = request.headers.get("authorization", "").strip()
    if header[:7].lower() != "bearer ":
        return False
    given = header[7:].strip().encode()
    tokens = (app.config.metrics_token, _options(app).get("token"))
    return any(isinstance(t, str) and t and hmac.compare_digest(given, t.encode()) for t in tokens)


async def scrape(request: Request) -> Response:
    app = app_of(request)
    if not app.metrics.enabled or _options(app).get("enabled") is False:
        raise NotFound()
    if not _bearer_allowed(request, app):
        await require_superuser(request)
    app.metrics.fold()  # this process's requests up to now (folded here, on the serving thread)
    body, content_type = await asyncio.to_thread(render, app.metrics, request.headers.get("accept", ""))
    return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})


routes = [
    route("/api/metrics", scrape, ["GET"], openapi=Op(
        "Prometheus metrics", "system", access="superuser",
        description="Also readable with `Authorization: Bearer <metrics token>`; 404 while metrics are off.",
        responses=raw(200, "Metrics in Prometheus's text exposition format.", "text/plain", {"type": "string"}),
        errors=(401, 403, 404),
    )),
]  # fmt: skip
