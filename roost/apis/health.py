"""Health routes. ``/api/health`` is the readiness check (the one PocketBase's SDK calls): 503
while the database is unreachable; an unreachable cross-process broker is reported in ``data``
with a 200, since every instance shares it and taking them all out of the load balancer would
turn a degraded cluster into a down one. ``/api/health/live`` is the
liveness check: 200 while the process answers at all, so a probe never restarts a worker
for an outage elsewhere."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.errors import RETRY_AFTER
from roost.apis.openapi.operation import Op, raw
from roost.apis.openapi.schema import INT, OBJ, STR, obj
from roost.apis.request import app_of, carries_credentials, request_info
from roost.apis.responses import json_response
from roost.apis.routing import route

UNAVAILABLE = "The database is temporarily unavailable. Please try again later."


async def health(request: Request) -> Response:
    # checked before the caller's auth, which needs the database too
    report = await app_of(request).readiness.check()
    problems = {name: {"code": "unreachable", "message": reason} for name, reason in report.problems.items()}
    if not report.ready:
        response = json_response(request, {"message": UNAVAILABLE, "code": 503, "data": problems}, status=503)
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response
    data: dict[str, object] = dict(problems)  # a degraded broker
    # a guest (no token, key or session cookie) is never a superuser: no RequestInfo to build
    info = await request_info(request) if carries_credentials(request.scope) else None
    if info is not None and info.is_superuser:
        data |= {"canBackup": app_of(request).backups.can_backup, "realIP": info.ip, "possibleProxyHeader": ""}
    return json_response(request, {"message": "API is healthy.", "code": 200, "data": data})


async def live(request: Request) -> Response:
    return json_response(request, {"message": "API is alive.", "code": 200, "data": {}})


HEALTH = obj(("message", "code", "data"), message=STR, code=INT, data=OBJ)
routes = [
    route("/api/health", health, ["GET", "HEAD"], openapi={
        "GET": Op("Health and readiness check", "system", result=HEALTH, errors=()),
        "HEAD": Op("Health and readiness check (headers only)", "system", responses=raw(200, "Healthy."), errors=()),
    }),
    route("/api/health/live", live, ["GET", "HEAD"], openapi={
        "GET": Op("Liveness check", "system", result=HEALTH, errors=()),
        "HEAD": Op("Liveness check (headers only)", "system", responses=raw(200, "Alive."), errors=()),
    }),
]  # fmt: skip
