"""Key figures of one replication, and their intervals over many.

OEE follows its usual definition: availability (planned time not lost to failures and
maintenance) × performance (ideal cycle time × parts processed / operating time) × quality
(good / processed). Planned time is the shift calendar's working time in the window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twinbridge.simulation.statistics import Interval, interval, paired_difference

HOUR = 3600.0
Figures = dict[str, float]
"""Flat KPI name → value of one machine or line in one replication."""


def machine_figures(raw: Mapping[str, Any], window_s: float, planned_s: float) -> Figures:
    k = raw["stations"]
    down = raw["down_failure"] + raw["down_service"]
    capacity = k * planned_s
    processed = raw["good"] + raw["scrap"]
    operating = max(capacity - down, 0.0)
    availability = min(max(operating / capacity, 0.0), 1.0) if capacity else 0.0
    performance = min(raw["cycle_time_s"] * processed / operating, 1.0) if operating else 0.0
    quality = raw["good"] / processed if processed else 0.0
    power = raw["power_kw"]
    idle = max(k * window_s - raw["busy"] - down, 0.0)
    return {
        "throughput_per_h": raw["good"] / (window_s / HOUR),
        "good_parts": float(raw["good"]),
        "scrap_parts": float(raw["scrap"]),
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "oee": availability * performance * quality,
        "utilisation": raw["busy"] / (k * window_s),
        "energy_kwh": (power["running"] * raw["busy"] + power["down"] * down + power["idle"] * idle) / HOUR,
        "downtime_failure_h": raw["down_failure"] / HOUR,
        "downtime_maintenance_h": raw["down_service"] / HOUR,
        "blocked_h": raw["blocked"] / HOUR,
        "starved_h": raw["starved"] / HOUR,
        "failures": float(raw["failures"]),
        "maintenance_actions": float(raw["services"]),
    }


def line_figures(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Figures of a line and of each machine, from ``engine.run_line``'s raw output."""
    window, planned = raw["window_s"], raw["planned_s"]
    machines = {m["name"]: machine_figures(m, window, planned) for m in raw["machines"]}
    last = raw["machines"][-1]
    energy = sum(f["energy_kwh"] for f in machines.values())
    line: Figures = {
        "throughput_per_h": last["good"] / (window / HOUR),
        "good_parts": float(last["good"]),
        "wip": raw["wip"],
        "energy_kwh": energy,
        "energy_per_part_kwh": energy / last["good"] if last["good"] else 0.0,
        "downtime_h": sum(f["downtime_failure_h"] + f["downtime_maintenance_h"] for f in machines.values()),
        "failures": sum(f["failures"] for f in machines.values()),
        "maintenance_actions": sum(f["maintenance_actions"] for f in machines.values()),
    }
    for buffer in raw["buffers"]:
        # Mean time a part waits in the buffer after this machine (Little's law: level = rate × wait).
        line[f"wait_after_{buffer['after']}_s"] = buffer["waited_s"] / buffer["passed"] if buffer["passed"] else 0.0
        line[f"level_after_{buffer['after']}"] = buffer["mean_level"]
    return {"line": line, "machines": machines}


def summarise(replications: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per line and machine, each figure as an interval over the replications."""
    return _combine(replications, None)


def compare(scenario: Sequence[Mapping[str, Any]], baseline: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Scenario minus baseline, paired per replication, for every line and machine both have."""
    return _combine(scenario, baseline)


def _combine(runs: Sequence[Mapping[str, Any]], baseline: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for line_name in runs[0]:
        if baseline is not None and line_name not in baseline[0]:
            continue
        line: dict[str, Any] = {"kpis": _figures([r[line_name]["line"] for r in runs],
                                 None if baseline is None else [b[line_name]["line"] for b in baseline])}
        machines: dict[str, dict[str, Interval]] = {}
        for machine in runs[0][line_name]["machines"]:
            if baseline is not None and machine not in baseline[0][line_name]["machines"]:
                continue
            machines[machine] = _figures(
                [r[line_name]["machines"][machine] for r in runs],
                None if baseline is None else [b[line_name]["machines"][machine] for b in baseline],
            )
        line["machines"] = machines
        result[line_name] = line
    return result


def _figures(runs: Sequence[Figures], baseline: Sequence[Figures] | None) -> dict[str, Interval]:
    if baseline is None:
        return {name: interval([r[name] for r in runs]) for name in runs[0]}
    return {name: paired_difference([r[name] for r in runs], [b[name] for b in baseline]) for name in runs[0]}
