"""Lines of a scenario: the plant's lines with the scenario's changes applied.

Every change is checked against the lines before anything runs, and an error names the
scenario field (``changes[2].machine``) so a 400 says exactly what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping

from twinbridge.aas.errors import InvalidInput
from twinbridge.simulation.engine import LineModel, MachineModel
from twinbridge.simulation.spec import MachineChange, MachineSimulation, Scenario


class ScenarioError(InvalidInput):
    """A scenario names something the plant does not have, or changes it impossibly."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def scenario_lines(lines: Mapping[str, LineModel], scenario: Scenario) -> list[LineModel]:
    """The lines to simulate, each with the scenario's changes applied."""
    if not lines:
        raise ScenarioError("line", "the plant has no line with simulated machines (add a simulation: block)")
    if scenario.line is not None and scenario.line not in lines:
        raise ScenarioError("line", f"no simulated line {scenario.line!r}; known: {sorted(lines)}")
    chosen = [lines[scenario.line]] if scenario.line is not None else list(lines.values())
    machines = {m.name: [line.name for line in chosen if m in line.machines] for line in chosen for m in line.machines}
    for index, change in enumerate(scenario.changes):
        _known(machines, change.machine, f"changes[{index}].machine")
        if change.cycle_time_s is not None and change.speed_factor is not None:
            raise ScenarioError(f"changes[{index}]", "give cycle_time_s or speed_factor, not both")
    for index, name in enumerate(scenario.remove):
        _known(machines, name, f"remove[{index}]")
    for index, new in enumerate(scenario.add):
        _known(machines, new.after, f"add[{index}].after")
        if new.id_short in machines:
            raise ScenarioError(f"add[{index}].id_short", f"a machine {new.id_short!r} already exists")
    return [_changed(line, scenario) for line in chosen]


def _known(machines: Mapping[str, list[str]], name: str, field: str) -> None:
    if name not in machines:
        raise ScenarioError(field, f"no simulated machine {name!r}; known: {sorted(machines)}")


def _changed(line: LineModel, scenario: Scenario) -> LineModel:
    changes: dict[str, list[MachineChange]] = {}
    for change in scenario.changes:
        changes.setdefault(change.machine, []).append(change)
    result: list[MachineModel] = []
    for machine in line.machines:
        if machine.name not in scenario.remove:
            sim = machine.sim
            for change in changes.get(machine.name, ()):
                sim = _apply(sim, change)
            result.append(MachineModel(machine.name, sim))
        result.extend(MachineModel(new.id_short, new.simulation) for new in scenario.add if new.after == machine.name)
    if not result:
        raise ScenarioError("remove", f"removing every machine leaves line {line.name!r} empty")
    return LineModel(line.name, tuple(result))


def _apply(sim: MachineSimulation, change: MachineChange) -> MachineSimulation:
    update: dict[str, object] = {}
    factor = None
    if change.speed_factor is not None:
        factor = 1.0 / change.speed_factor
    elif change.cycle_time_s is not None:
        factor = change.cycle_time_s / sim.cycle_time_s
    if factor is not None:
        update["cycle_time_s"] = sim.cycle_time_s * factor
        if sim.cycle_time is not None:
            update["cycle_time"] = sim.cycle_time.scaled(factor)
    for name in ("buffer_after", "stations", "scrap_rate"):
        value = getattr(change, name)
        if value is not None:
            update[name] = value
    return sim.model_copy(update=update)
