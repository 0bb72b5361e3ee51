"""Failure and repair times estimated from a recorded running signal."""

from __future__ import annotations

import random

import pytest

from twinbridge.simulation.engine import HOUR, LineModel, MachineModel
from twinbridge.simulation.estimate import MIN_STOPS, estimate_stops, with_estimates
from twinbridge.simulation.spec import MachineSimulation


def recorded(mtbf_h: float, mttr_h: float, stops: int, seed: int = 5) -> tuple[list[float], list[bool], float]:
    """A running signal as a historian stores it: one sample per change."""
    rng = random.Random(seed)
    times, states, t = [], [], 0.0
    for _ in range(stops):
        times.append(t)
        states.append(True)
        t += rng.expovariate(1 / mtbf_h) * HOUR
        times.append(t)
        states.append(False)
        t += rng.expovariate(1 / mttr_h) * HOUR
    times.append(t)
    states.append(True)
    return times, states, t + 0.5 * HOUR


def test_the_estimates_converge_on_the_true_times() -> None:
    times, states, end = recorded(mtbf_h=12.0, mttr_h=1.5, stops=2000)
    estimate = estimate_stops(times, states, end)
    assert estimate is not None
    assert estimate.stops == 2000
    assert estimate.mtbf_h == pytest.approx(12.0, rel=0.05)
    assert estimate.mttr_h == pytest.approx(1.5, rel=0.05)
    assert estimate.mttr_cv == pytest.approx(1.0, rel=0.1)  # exponential repairs: cv 1


def test_a_censored_last_stop_and_repeated_samples_are_handled() -> None:
    times = [0.0, 3600.0, 3600.0 * 1.5, 3600.0 * 4, 3600.0 * 5, 3600.0 * 5.2, 3600.0 * 9, 3600.0 * 10]
    states = [True, True, False, True, False, True, True, False]
    estimate = estimate_stops(times, states, end_s=3600.0 * 12)
    assert estimate is not None
    assert estimate.stops == 3  # the last stop has not ended: it counts as a stop, not as a repair time
    assert estimate.running_h == pytest.approx(1.5 + 1 + 4.8)
    assert estimate.mttr_h == pytest.approx((2.5 + 0.2) / 2)
    assert estimate.mtbf_h == pytest.approx(7.3 / 3)


def test_too_few_stops_keep_the_plant_files_figures() -> None:
    times, states, end = recorded(mtbf_h=5.0, mttr_h=1.0, stops=MIN_STOPS - 1)
    assert estimate_stops(times, states, end) is None
    with pytest.raises(ValueError, match="time order"):
        estimate_stops([10.0, 5.0], [True, False], 20.0)


def test_estimated_machines_get_fitted_failures_and_the_others_stay() -> None:
    times, states, end = recorded(mtbf_h=12.0, mttr_h=1.5, stops=50)
    estimate = estimate_stops(times, states, end)
    assert estimate is not None
    line = LineModel("L", (MachineModel("A", MachineSimulation(cycle_time_s=10)),
                           MachineModel("B", MachineSimulation(cycle_time_s=12))))
    fitted = with_estimates({"L": line}, {"A": estimate})["L"]
    assert fitted.machines[0].sim.failures is not None
    assert fitted.machines[0].sim.failures.time_between_h.mean == pytest.approx(estimate.mtbf_h)
    assert fitted.machines[1] is line.machines[1]
