"""Cron job routes (superusers only): list the jobs, run one now."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from roost.apis.guards import require_superuser
from roost.apis.openapi.operation import Op
from roost.apis.openapi.schema import STR, arr, obj
from roost.apis.request import app_of
from roost.apis.responses import json_response, no_content
from roost.apis.routing import route

_JOB = obj(("id", "expression"), id=STR, expression=STR)


async def list_crons(request: Request) -> Response:
    await require_superuser(request)
    jobs = app_of(request).cron.jobs()
    return json_response(request, [{"id": job.id, "expression": job.expression} for job in jobs])


async def run_cron(request: Request) -> Response:
    await require_superuser(request)
    app_of(request).cron.trigger(request.path_params["id"])
    return no_content()


routes = [
    route("/api/crons", list_crons, ["GET"],
          openapi=Op("List cron jobs", "crons", access="superuser", result=arr(_JOB), errors=(401, 403))),
    route("/api/crons/{id}", run_cron, ["POST"],
          openapi=Op("Run a cron job now (in the background)", "crons", access="superuser", errors=(401, 403, 404))),
]  # fmt: skip
