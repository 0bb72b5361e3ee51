"""What-if simulations over REST: ``POST /simulations`` starts a job (202), ``GET`` follows it,
``DELETE`` cancels it.

Jobs run in worker processes (see ``simulation.runner``); these routes only validate, start
and read, so the event loop stays free while replications run.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from twinbridge.aas.errors import LimitExceeded
from twinbridge.server.api.auth import ReadAccess, WriteAccess
from twinbridge.server.api.bodies import json_response
from twinbridge.server.api.ids import encode_id
from twinbridge.server.api.results import ApiError, xs_datetime
from twinbridge.simulation.runner import SimulationJob, SimulationRunner
from twinbridge.simulation.spec import Scenario

MAX_BODY = 1 << 20
"""A scenario is a few hundred bytes; a megabyte is plenty and answers 413 above."""


def job_json(job: SimulationJob, prefix: str, result_id: str | None) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status.value,
        "progress": job.done / job.total if job.total else 1.0,
        "replicationsDone": job.done,
        "replicationsTotal": job.total,
        "created": xs_datetime(job.created),
        "finished": xs_datetime(job.finished) if job.finished is not None else None,
        "error": job.error,
        "scenario": job.scenario.model_dump(mode="json"),
        "parameters": job.parameters,
        "result": job.result,
        "resultSubmodel": f"{prefix}/submodels/{encode_id(result_id)}" if result_id else None,
    }


def simulation_router(runner: SimulationRunner, prefix: str, result_ids: dict[str, str]) -> APIRouter:
    """``result_ids`` maps a job id to the id of its result submodel once it is stored."""
    router = APIRouter(tags=["Simulation"])

    def render(job: SimulationJob, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return json_response(job_json(job, prefix, result_ids.get(job.id)), status, headers)

    @router.post("/simulations", status_code=202, dependencies=[WriteAccess],
                 responses={400: {"description": "the scenario is invalid; the Result names the field"},
                            413: {"description": "the body is larger than 1 MiB"},
                            429: {"description": "as many jobs run as the server allows"}})
    async def start(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            raise ApiError(413, f"a scenario body may be at most {MAX_BODY} bytes")
        try:
            scenario = Scenario.model_validate(orjson.loads(body or b"{}"))
        except orjson.JSONDecodeError as error:
            raise ApiError(400, f"the body is not JSON: {error}") from None
        except ValidationError as error:
            raise ApiError(400, "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'scenario'}: {e['msg']}" for e in error.errors()
            )) from None
        try:
            job = runner.submit(scenario)
        except LimitExceeded as error:
            raise ApiError(429, str(error)) from None
        return render(job, 202, {"Location": f"{prefix}/simulations/{job.id}"})

    @router.get("/simulations", dependencies=[ReadAccess])
    async def list_jobs() -> Response:
        jobs = sorted(runner.jobs.values(), key=lambda j: j.created, reverse=True)
        return json_response({"result": [
            {k: v for k, v in job_json(j, prefix, result_ids.get(j.id)).items() if k != "result"} for j in jobs
        ]})

    @router.get("/simulations/{job_id}", dependencies=[ReadAccess])
    async def read(job_id: str) -> Response:
        return render(runner.get(job_id))

    @router.delete("/simulations/{job_id}", status_code=204, dependencies=[WriteAccess])
    async def cancel(job_id: str) -> Response:
        """Cancels a running job (it stays readable as ``cancelled``); forgets a finished one."""
        job = runner.get(job_id)
        if job.active:
            runner.cancel(job_id)
        else:
            del runner.jobs[job_id]
        return Response(status_code=204)

    return router
