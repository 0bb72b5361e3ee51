"""Scenario changes, maintenance policies and shift calendars do what they say."""

from __future__ import annotations

from typing import Any

import pytest

from twinbridge.simulation.distributions import Exponential, Weibull
from twinbridge.simulation.engine import HOUR, Calendar, LineModel, MachineModel, RunSettings, run_line
from twinbridge.simulation.kpis import line_figures, summarise
from twinbridge.simulation.model import ScenarioError, scenario_lines
from twinbridge.simulation.runner import settings_of
from twinbridge.simulation.spec import (
    Failures,
    MachineChange,
    MachineSimulation,
    NewMachine,
    Predictive,
    Preventive,
    Reactive,
    Scenario,
    ShiftCalendar,
)

WEAR = Failures(time_between_h=Weibull(shape=3.0, scale=10.0), time_to_repair_h=Exponential(mean=2.0),
                predictable=1.0)
LINE = LineModel("L", (
    MachineModel("A", MachineSimulation(cycle_time_s=20, buffer_after=10, failures=WEAR)),
    MachineModel("B", MachineSimulation(cycle_time_s=30)),
    MachineModel("C", MachineSimulation(cycle_time_s=20)),
))


def figures(scenario: Scenario) -> dict[str, Any]:
    lines = scenario_lines({"L": LINE}, scenario)
    runs = [{line.name: line_figures(run_line(line, settings_of(scenario), scenario.seed, r)) for line in lines}
            for r in range(scenario.replications)]
    return summarise(runs)["L"]


def test_speeding_up_the_bottleneck_raises_throughput_up_to_the_next_bound() -> None:
    base = figures(Scenario(horizon_h=100, warmup_h=1, replications=2))
    faster = figures(Scenario(horizon_h=100, warmup_h=1, replications=2,
                              changes=[MachineChange(machine="B", speed_factor=1.5)]))
    before = base["kpis"]["throughput_per_h"].mean
    after = faster["kpis"]["throughput_per_h"].mean
    assert before <= 3600 / 30  # B's 30 s cycle bounds the line (A's failures starve it now and then)
    assert after > before * 1.1
    assert after <= 3600 / 20  # and then A's and C's 20 s cycles do


def test_removing_and_adding_machines() -> None:
    new = MachineSimulation(cycle_time_s=5)
    added = NewMachine(after="C", id_short="D", simulation=new)
    lines = scenario_lines({"L": LINE}, Scenario(remove=["B"], add=[added]))
    assert [m.name for m in lines[0].machines] == ["A", "C", "D"]
    with pytest.raises(ScenarioError, match=r"add\[0\].id_short"):
        scenario_lines({"L": LINE}, Scenario(add=[NewMachine(after="C", id_short="A", simulation=new)]))
    with pytest.raises(ScenarioError, match=r"remove"):
        scenario_lines({"L": LINE}, Scenario(remove=["A", "B", "C"]))
    with pytest.raises(ScenarioError, match=r"changes\[0\]: give cycle_time_s or speed_factor"):
        scenario_lines({"L": LINE}, Scenario(changes=[MachineChange(machine="A", speed_factor=2, cycle_time_s=3)]))


def test_servicing_a_wearing_machine_before_it_fails_removes_failures() -> None:
    reactive = figures(Scenario(horizon_h=400, replications=3, maintenance=Reactive()))
    preventive = figures(Scenario(horizon_h=400, replications=3, maintenance=Preventive(interval_h=4, duration_h=0.2)))
    predictive = figures(Scenario(horizon_h=400, replications=3,
                                  maintenance=Predictive(rul_threshold_h=0.5, duration_h=0.2)))
    failures = {name: f["machines"]["A"]["failures"].mean
                for name, f in (("reactive", reactive), ("preventive", preventive), ("predictive", predictive))}
    assert failures["predictive"] == 0  # every failure is seen coming (predictable: 1)
    assert failures["preventive"] < failures["reactive"] / 3  # Weibull shape 3: an early service beats wear
    downtime = {name: f["machines"]["A"]["downtime_failure_h"].mean + f["machines"]["A"]["downtime_maintenance_h"].mean
                for name, f in (("reactive", reactive), ("predictive", predictive))}
    assert downtime["predictive"] < downtime["reactive"]


def test_a_shift_calendar_limits_work_to_its_hours() -> None:
    calendar = Calendar(ShiftCalendar(shifts_per_day=2, hours_per_shift=8, days_per_week=5))
    assert calendar.planned(0, 7 * 24 * HOUR) == pytest.approx(5 * 16 * HOUR)
    assert calendar.working(10 * HOUR) and not calendar.working(17 * HOUR) and not calendar.working(5.5 * 24 * HOUR)
    assert calendar.next_start(17 * HOUR) == 24 * HOUR
    assert calendar.next_start(5.2 * 24 * HOUR) == 7 * 24 * HOUR  # Saturday → Monday
    week = RunSettings(7 * 24 * HOUR, 0.0, Reactive(), ShiftCalendar(shifts_per_day=2, hours_per_shift=8,
                                                                       days_per_week=5))
    raw = run_line(LineModel("L", (MachineModel("B", MachineSimulation(cycle_time_s=30)),)), week, 1, 0)
    # 80 working hours at 120 parts/h (a part started just before a shift ends still finishes)
    assert raw["machines"][0]["good"] == pytest.approx(80 * 120, abs=10)
    kpis = line_figures(raw)["machines"]["B"]
    assert kpis["availability"] == pytest.approx(1.0)
    assert kpis["performance"] == pytest.approx(1.0, abs=0.01)  # judged on planned, not calendar, time
