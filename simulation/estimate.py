"""Failure and repair times learned from what really happened: a machine's recorded
running/stopped signal, read from history.

A stop is a change of the signal from running to stopped; the time between stops counts only
running time (failures are operation-dependent in the engine too). With exponential times
between stops the maximum-likelihood MTBF is the running time observed divided by the stops
seen, which stays right when the window cuts the last period short (right-censoring). The
repair time is the mean of the stops that ended inside the window, with its coefficient of
variation for a lognormal fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from twinbridge.simulation.distributions import Exponential, Lognormal
from twinbridge.simulation.engine import HOUR, LineModel, MachineModel
from twinbridge.simulation.spec import Failures, MachineSimulation

MIN_STOPS = 3
"""Fewer stops than this say too little: the plant file's distributions are kept."""


@dataclass(frozen=True, slots=True)
class StopEstimate:
    mtbf_h: float
    mttr_h: float
    mttr_cv: float
    stops: int
    """The sample size: stops observed in the window."""
    running_h: float
    stopped_h: float


def estimate_stops(times_s: Sequence[float], running: Sequence[bool], end_s: float) -> StopEstimate | None:
    """Estimate from the signal's samples in time order (a historian stores changes, but repeated
    equal samples are fine); None when the window holds fewer than ``MIN_STOPS`` stops."""
    if len(times_s) != len(running):
        raise ValueError("times and states differ in length")
    up = down = 0.0
    stops = 0
    repairs: list[float] = []
    stop_started: float | None = None
    for index, (t, state) in enumerate(zip(times_s, running, strict=True)):
        following = times_s[index + 1] if index + 1 < len(times_s) else end_s
        if following < t:
            raise ValueError("samples must be in time order")
        previous = running[index - 1] if index else None
        if previous is True and not state:
            stops += 1
            stop_started = t
        elif previous is False and state and stop_started is not None:
            repairs.append(t - stop_started)
            stop_started = None
        if state:
            up += following - t
        else:
            down += following - t
    if stops < MIN_STOPS or not repairs or up <= 0:
        return None
    mean = math.fsum(repairs) / len(repairs)
    cv = (math.sqrt(math.fsum((r - mean) ** 2 for r in repairs) / (len(repairs) - 1)) / mean
          if len(repairs) > 1 and mean > 0 else 0.5)
    return StopEstimate(mtbf_h=up / stops / HOUR, mttr_h=mean / HOUR, mttr_cv=max(cv, 0.05), stops=stops,
                        running_h=up / HOUR, stopped_h=down / HOUR)


def with_estimates(lines: Mapping[str, LineModel], estimates: Mapping[str, StopEstimate]) -> dict[str, LineModel]:
    """The lines with each estimated machine's failures replaced by the fitted distributions."""
    return {
        name: LineModel(name, tuple(
            MachineModel(m.name, _fitted(m.sim, estimates[m.name])) if m.name in estimates else m
            for m in line.machines
        ))
        for name, line in lines.items()
    }


def _fitted(sim: MachineSimulation, estimate: StopEstimate) -> MachineSimulation:
    predictable = sim.failures.predictable if sim.failures is not None else 0.8
    failures = Failures(time_between_h=Exponential(mean=estimate.mtbf_h),
                        time_to_repair_h=Lognormal(mean=estimate.mttr_h, cv=estimate.mttr_cv),
                        predictable=predictable)
    return sim.model_copy(update={"failures": failures})
