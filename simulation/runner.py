"""Scenario jobs: replications in worker processes, progress, cancellation, a bounded queue.

Replications are independent, so each is one task for a process pool (SimPy holds the GIL:
threads would not run two at once, and the server's event loop would feel every one). The
pool uses ``spawn``: forking a server that runs an OPC UA stack, a store writer and
adapter threads can copy a held lock into the child.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import functools
import itertools
import logging
import multiprocessing
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twinbridge.aas.errors import LimitExceeded, NotFound
from twinbridge.simulation.engine import HOUR, LineModel, RunSettings, run_line
from twinbridge.simulation.estimate import StopEstimate, with_estimates
from twinbridge.simulation.kpis import compare, line_figures, summarise
from twinbridge.simulation.model import scenario_lines
from twinbridge.simulation.spec import Scenario

log = logging.getLogger(__name__)


class JobStatus(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


def replicate(lines: list[LineModel], settings: RunSettings, seed: int, replication: int) -> dict[str, Any]:
    """One replication of every line: the worker's task (module level, so it pickles)."""
    return {line.name: line_figures(run_line(line, settings, seed, replication)) for line in lines}


def settings_of(scenario: Scenario) -> RunSettings:
    return RunSettings(scenario.horizon_h * HOUR, scenario.warmup_h * HOUR, scenario.maintenance, scenario.shifts)


@dataclass
class SimulationJob:
    id: str
    scenario: Scenario
    total: int
    status: JobStatus = JobStatus.QUEUED
    done: int = 0
    created: float = field(default_factory=time.time)
    finished: float | None = None
    error: str | None = None
    result: dict[str, Any] | None = None
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per machine: where its failure and repair times came from, and with what sample size."""
    _futures: list[asyncio.Future[Any]] = field(default_factory=list, repr=False)

    @property
    def active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)


Finished = Callable[[SimulationJob], Awaitable[None]]
"""Called once a job is done (the server stores its result as a submodel)."""


class SimulationRunner:
    """Runs scenario jobs against the plant's lines; keeps the last ``keep`` jobs for reading."""

    def __init__(self, lines: Mapping[str, LineModel], *, workers: int | None = None, max_active: int = 4,
                 keep: int = 100, on_finished: Finished | None = None) -> None:
        self.lines = dict(lines)
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.max_active = max_active
        self.keep = keep
        self.jobs: dict[str, SimulationJob] = {}
        self._on_finished = on_finished
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, scenario: Scenario, estimates: Mapping[str, StopEstimate] | None = None) -> SimulationJob:
        """Check the scenario against the plant and start it; errors name the scenario field.

        ``estimates`` (machine idShort → times learned from history) replace those machines'
        failure and repair times from the plant file, in the scenario and its baseline alike.
        """
        plant = with_estimates(self.lines, estimates) if estimates else self.lines
        lines = scenario_lines(plant, scenario)
        active = sum(job.active for job in self.jobs.values())
        if active >= self.max_active:
            raise LimitExceeded(f"{active} simulations are running (limit {self.max_active}); try again later")
        job = SimulationJob(id=uuid.uuid4().hex, scenario=scenario,
                            total=scenario.replications * (2 if scenario.compare else 1),
                            parameters=_parameters(plant, estimates or {}))
        self.jobs[job.id] = job
        self._forget_old()
        task = asyncio.get_running_loop().create_task(self._run(job, plant, lines), name=f"simulation {job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, job_id: str) -> SimulationJob:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise NotFound(f"no simulation with id {job_id!r}") from None

    def cancel(self, job_id: str) -> SimulationJob:
        """Stop a job: replications not started yet never run; running ones finish (≤ seconds)."""
        job = self.get(job_id)
        if job.active:
            job.status = JobStatus.CANCELLED
            job.finished = time.time()
            for future in job._futures:
                future.cancel()
        return job

    async def run(self, scenario: Scenario) -> SimulationJob:
        """Submit and wait (the CLI and tests)."""
        job = self.submit(scenario)
        while job.active:
            await asyncio.sleep(0.05)
        return job

    async def close(self) -> None:
        for job in self.jobs.values():
            if job.active:
                self.cancel(job.id)
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # ------------------------------------------------------------------ internal
    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._pool

    async def _run(self, job: SimulationJob, plant: Mapping[str, LineModel], lines: list[LineModel]) -> None:
        scenario = job.scenario
        loop = asyncio.get_running_loop()
        pool = self._executor()
        runs = [(lines, settings_of(scenario))]
        if scenario.compare:
            runs.append((scenario_lines(plant, scenario.baseline()), settings_of(scenario.baseline())))
        job.status = JobStatus.RUNNING
        # Interleave scenario and baseline replication by replication, so progress is even and a
        # cancelled job has both halves equally far.
        order = list(itertools.product(range(scenario.replications), range(len(runs))))
        futures = [loop.run_in_executor(pool, replicate, runs[r][0], runs[r][1], scenario.seed, i) for i, r in order]
        job._futures = futures
        for future in futures:
            future.add_done_callback(functools.partial(_count, job))
        try:
            outcomes = await asyncio.gather(*futures)
        except asyncio.CancelledError:
            if job.status is JobStatus.CANCELLED:
                return
            raise
        except Exception as error:  # a replication raised: the job fails with the reason, the server goes on
            if job.active:
                job.status, job.error, job.finished = JobStatus.FAILED, f"{type(error).__name__}: {error}", time.time()
            return
        if not job.active:
            return
        by_run: list[list[dict[str, Any]]] = [[] for _ in runs]
        for (_, r), outcome in zip(order, outcomes, strict=True):
            by_run[r].append(outcome)
        job.result = {
            "scenario": summarise(by_run[0]),
            "baseline": summarise(by_run[1]) if scenario.compare else None,
            "difference": compare(by_run[0], by_run[1]) if scenario.compare else None,
        }
        if self._on_finished is not None:
            # before DONE: a client that sees "done" must find the stored result submodel
            try:
                await self._on_finished(job)
            except Exception as error:  # the figures are still there; say why they were not stored
                log.exception("storing the result of simulation %s failed", job.id)
                job.error = f"the result could not be stored: {error}"
        job.status, job.finished = JobStatus.DONE, time.time()

    def _forget_old(self) -> None:
        finished = [job for job in self.jobs.values() if not job.active]
        for job in sorted(finished, key=lambda j: j.created)[: max(0, len(self.jobs) - self.keep)]:
            del self.jobs[job.id]


def _parameters(lines: Mapping[str, LineModel], estimates: Mapping[str, StopEstimate]) -> dict[str, dict[str, Any]]:
    report: dict[str, dict[str, Any]] = {}
    for line in lines.values():
        for machine in line.machines:
            estimate = estimates.get(machine.name)
            failures = machine.sim.failures
            if estimate is not None:
                report[machine.name] = {"source": "history", "mtbf_h": estimate.mtbf_h, "mttr_h": estimate.mttr_h,
                                        "stops": estimate.stops, "running_h": estimate.running_h}
            elif failures is not None:
                report[machine.name] = {"source": "plant file", "mtbf_h": failures.time_between_h.mean,
                                        "mttr_h": failures.time_to_repair_h.mean, "stops": None}
            else:
                report[machine.name] = {"source": "plant file", "mtbf_h": None, "mttr_h": None, "stops": None}
    return report


def _count(job: SimulationJob, future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        job.done += 1
