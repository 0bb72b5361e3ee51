"""The engine against queueing and reliability theory (fixed seeds: deterministic)."""

from __future__ import annotations

import itertools
import math

import pytest

from twinbridge.simulation.distributions import Exponential
from twinbridge.simulation.engine import HOUR, LineModel, MachineModel, RunSettings, run_line
from twinbridge.simulation.kpis import line_figures, summarise
from twinbridge.simulation.spec import Failures, MachineSimulation, Reactive
from twinbridge.simulation.statistics import Interval


def machine(name: str, cycle_s: float, *, exponential: bool = False, buffer_after: int = 10,
            mtbf_h: float | None = None, mttr_h: float | None = None) -> MachineModel:
    failures = None
    if mtbf_h is not None and mttr_h is not None:
        failures = Failures(time_between_h=Exponential(mean=mtbf_h), time_to_repair_h=Exponential(mean=mttr_h))
    return MachineModel(name, MachineSimulation(
        cycle_time_s=cycle_s, cycle_time=Exponential(mean=cycle_s) if exponential else None,
        buffer_after=buffer_after, failures=failures,
    ))


def simulate(line: LineModel, hours: float, replications: int, warmup_h: float = 1.0,
             seed: int = 7) -> dict[str, dict[str, Interval]]:
    settings = RunSettings(hours * HOUR, warmup_h * HOUR, Reactive(), None)
    runs = [{line.name: line_figures(run_line(line, settings, seed, r))} for r in range(replications)]
    summary = summarise(runs)[line.name]
    return {"line": summary["kpis"], **summary["machines"]}


def test_availability_of_one_machine_is_mtbf_over_mtbf_plus_mttr() -> None:
    mtbf, mttr = 10.0, 2.0
    result = simulate(LineModel("L", (machine("M", 60.0, mtbf_h=mtbf, mttr_h=mttr),)), hours=2000, replications=10)
    availability = result["M"]["availability"]
    expected = mtbf / (mtbf + mttr)
    assert availability.low <= expected <= availability.high, (availability, expected)
    assert availability.half_width < 0.02


def test_an_mm1_station_matches_the_analytic_queue_and_littles_law() -> None:
    # Machine A is the arrival process (exponential, never blocked: a buffer that cannot fill),
    # machine B the exponential server: an M/M/1 queue with rho = 0.5.
    arrival_s, service_s = 2.0, 1.0
    line = LineModel("L", (machine("A", arrival_s, exponential=True, buffer_after=1_000_000),
                           machine("B", service_s, exponential=True)))
    result = simulate(line, hours=40, replications=10, warmup_h=0.5)["line"]
    lam, mu = 1 / arrival_s, 1 / service_s
    rho = lam / mu
    lq, wq = rho * rho / (1 - rho), rho / (mu - lam)
    level, wait = result["level_after_A"].mean, result["wait_after_A_s"].mean
    rate = result["throughput_per_h"].mean / HOUR
    assert level == pytest.approx(lq, rel=0.02)
    assert wait == pytest.approx(wq, rel=0.02)
    assert level == pytest.approx(rate * wait, rel=0.02)  # Little's law, measured part by part
    assert rate == pytest.approx(lam, rel=0.02)


def two_station_throughput(mu1: float, mu2: float, buffer: int) -> float:
    """Exact throughput of two exponential stations with ``buffer`` places between them, blocking
    after service, an endless supply and an endless sink (Hillier & Boling 1967; Buzacott &
    Shanthikumar, *Stochastic Models of Manufacturing Systems*, 1993, §3.3): the parts between the
    stations (buffer, the second station and a part blocked at the first) form a birth-death
    chain on 0..K, K = buffer + 2, so TH = mu2 (1 - p0) with p0 = (1 - r) / (1 - r^(K+1)), r = mu1/mu2."""
    k = buffer + 2
    r = mu1 / mu2
    p0 = 1 / (k + 1) if math.isclose(r, 1.0) else (1 - r) / (1 - r ** (k + 1))
    return mu2 * (1 - p0)


@pytest.mark.parametrize(("cycle1", "cycle2", "buffer"), [(10.0, 10.0, 1), (10.0, 12.5, 3), (12.5, 10.0, 2)])
def test_a_two_station_line_matches_the_exact_finite_buffer_result(cycle1: float, cycle2: float, buffer: int) -> None:
    line = LineModel("L", (machine("A", cycle1, exponential=True, buffer_after=buffer),
                           machine("B", cycle2, exponential=True)))
    throughput = simulate(line, hours=200, replications=8)["line"]["throughput_per_h"]
    exact = two_station_throughput(1 / cycle1, 1 / cycle2, buffer) * HOUR
    assert throughput.mean == pytest.approx(exact, rel=0.02), (throughput, exact)


def test_throughput_grows_with_the_buffer_and_stays_below_the_slowest_station() -> None:
    means = []
    for buffer in (1, 2, 4, 8, 32):
        line = LineModel("L", (machine("A", 30.0, buffer_after=buffer, mtbf_h=2.0, mttr_h=0.25),
                               machine("B", 33.0, buffer_after=buffer, mtbf_h=3.0, mttr_h=0.3),
                               machine("C", 30.0, mtbf_h=2.0, mttr_h=0.25)))
        means.append(simulate(line, hours=300, replications=4)["line"]["throughput_per_h"].mean)
    # common random numbers: each buffer size sees the same failures, so the trend is not noise
    assert all(b >= a * 0.995 for a, b in itertools.pairwise(means)), means
    assert means[-1] > means[0] * 1.05, means
    slowest_isolated = HOUR / 33.0 * 3.0 / 3.3  # B alone: its cycle rate times its availability
    assert max(means) <= slowest_isolated * 1.01, (means, slowest_isolated)
