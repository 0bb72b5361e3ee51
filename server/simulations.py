"""Glue between the plant and the simulation room: lines from the plant description, results
as AAS submodels.

The simulation room knows nothing of plant files or hierarchies (it imports only ``aas``); here
the composition side walks the described plant — every ``line`` asset, its ``machine``
descendants in the order the plant file lists them — and pairs each machine with its
``simulation:`` block.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from basyx.aas import model

from twinbridge.aas.twin import Twin
from twinbridge.history.service import HistoryService
from twinbridge.history.store import SeriesKey
from twinbridge.server.api.simulations import simulation_router
from twinbridge.simulation.engine import LineModel, MachineModel
from twinbridge.simulation.estimate import StopEstimate, estimate_stops
from twinbridge.simulation.model import ScenarioError
from twinbridge.simulation.runner import SimulationJob, SimulationRunner
from twinbridge.simulation.spec import Scenario, SimulationSettings
from twinbridge.simulation.statistics import Interval
from twinbridge.submodels.description import Asset, PlantDescription

if TYPE_CHECKING:  # the plant file's schema imports this module for its cross-check
    from twinbridge.server.config import PlantFile

RESULT_SEMANTIC_ID = "urn:twinbridge:submodel:SimulationResult:1:0"
"""No IDTA template covers simulation results (IDTA 02005 describes simulation *models*), so
the result submodel and its elements carry twinbridge's own semanticIds."""
KPI_SEMANTIC_PREFIX = "urn:twinbridge:concept:simulation:kpi:"
MAX_POINTS = 1_000_000
"""Recorded samples of one running signal read for an estimate (a change-only signal stays far below)."""


def plant_lines(plant: PlantDescription | None, settings: SimulationSettings | None) -> dict[str, LineModel]:
    """Every line asset that has at least one simulated machine, in plant-file order."""
    if plant is None or settings is None or not settings.machines:
        return {}
    lines: dict[str, LineModel] = {}
    for asset in _walk(plant.assets):
        if asset.level == "line":
            machines = tuple(
                MachineModel(m.id_short, settings.machines[m.id_short])
                for m in _walk(asset.children) if m.level == "machine" and m.id_short in settings.machines
            )
            if machines:
                lines[asset.id_short] = LineModel(asset.id_short, machines)
    return lines


def machine_names(plant: PlantDescription) -> set[str]:
    return {asset.id_short for asset in _walk(plant.assets) if asset.level == "machine"}


def _walk(assets: list[Asset]) -> Iterator[Asset]:
    for asset in assets:
        yield asset
        yield from _walk(asset.children)


def result_submodel(job: SimulationJob, base_iri: str) -> model.Submodel:
    """The finished job as AAS data: scenario, and per line the figures with their intervals."""
    assert job.result is not None
    scenario = job.scenario
    elements: list[model.SubmodelElement] = [
        _text("ScenarioName", scenario.name),
        _text("Scenario", scenario.model_dump_json()),
        _number("Replications", float(scenario.replications)),
        _number("HorizonHours", scenario.horizon_h),
        _number("WarmupHours", scenario.warmup_h),
        _text("Maintenance", scenario.maintenance.kind),
    ]
    for section, key in (("Results", "scenario"), ("Baseline", "baseline"), ("DifferenceToBaseline", "difference")):
        part = job.result.get(key)
        if part is not None:
            lines = [_line(name, line) for name, line in part.items()]
            elements.append(model.SubmodelElementCollection(section, lines))
    return model.Submodel(
        f"{base_iri}simulation/{job.id}",
        id_short=f"SimulationResult_{job.id[:12]}",
        semantic_id=_reference(RESULT_SEMANTIC_ID),
        submodel_element=elements,
    )


def _line(name: str, line: dict[str, object]) -> model.SubmodelElementCollection:
    kpis = line["kpis"]
    machines = line["machines"]
    assert isinstance(kpis, dict) and isinstance(machines, dict)
    return model.SubmodelElementCollection(name, [
        _figures("Line", kpis),
        model.SubmodelElementCollection("Machines", [_figures(m, figures) for m, figures in machines.items()]),
    ])


def _figures(name: str, figures: dict[str, Interval]) -> model.SubmodelElementCollection:
    return model.SubmodelElementCollection(name, [
        model.SubmodelElementCollection(
            _id_short(kpi),
            [_number("Mean", value.mean), _number("Low95", value.low), _number("High95", value.high)],
            semantic_id=_reference(KPI_SEMANTIC_PREFIX + kpi),
        )
        for kpi, value in figures.items()
    ])


def _id_short(kpi: str) -> str:
    """``throughput_per_h`` → ``ThroughputPerH`` (idShorts may not contain every character of a name)."""
    return "".join(part[:1].upper() + part[1:] for part in kpi.split("_") if part)


def _number(id_short: str, value: float) -> model.Property:
    return model.Property(id_short, model.datatypes.Double, value=value)


def _text(id_short: str, value: str) -> model.Property:
    return model.Property(id_short, model.datatypes.String, value=value)


def _reference(iri: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


SignalOf = Callable[[str, str], tuple[str, str] | None]
"""(machine idShort, signal idShort) → (submodel id, idShortPath) of that live signal, if any."""


class SimulationService:
    """The server's simulation runner: started with the application, results stored in the twin,
    failure and repair times learned from the history when a scenario asks for it."""

    def __init__(self, twin: Twin, plant_file: PlantFile, prefix: str, history: HistoryService | None = None,
                 signal_of: SignalOf | None = None) -> None:
        settings = plant_file.simulation or SimulationSettings()
        self._twin = twin
        self._history = history
        self._signal_of = signal_of
        self._base_iri = plant_file.plant.base_iri if plant_file.plant is not None else "urn:twinbridge:"
        self.result_ids: dict[str, str] = {}
        self.runner = SimulationRunner(
            plant_lines(plant_file.plant, settings), workers=settings.workers, max_active=settings.max_active,
            on_finished=self._store,
        )
        self.router = simulation_router(self.runner, prefix, self.result_ids, self.estimates)

    async def estimates(self, scenario: Scenario) -> dict[str, StopEstimate]:
        """Stops of each simulated machine's running signal over the scenario's history window;
        machines with too few recorded stops keep the plant file's times."""
        historian = self._history.historian if self._history is not None else None
        if not scenario.estimate_from_history or historian is None or self._signal_of is None:
            return {}
        end_us = int(time.time() * 1e6)
        start_us = end_us - int(scenario.history_window_h * 3600e6)
        found: dict[str, StopEstimate] = {}
        for line in self.runner.lines.values():
            for machine in line.machines:
                target = self._signal_of(machine.name, machine.sim.running_signal)
                info = historian.store.find_series(SeriesKey(*target)) if target is not None else None
                if info is None:
                    continue
                points = await asyncio.to_thread(historian.store.read, info.id, start_us, end_us, MAX_POINTS)
                estimate = estimate_stops((points.t_us / 1e6).tolist(), (points.value != 0).tolist(), end_us / 1e6)
                if estimate is not None:
                    found[machine.name] = estimate
        return found

    async def start(self) -> None:
        """Nothing to start: the worker pool is created by the first job."""

    async def stop(self) -> None:
        await self.runner.close()

    async def _store(self, job: SimulationJob) -> None:
        submodel = result_submodel(job, self._base_iri)
        self._twin.create(submodel)
        await self._twin.persisted()
        self.result_ids[job.id] = submodel.id


def simulate_command(scenario_path: Path, plant_path: Path, out: Path | None, workers: int | None) -> int:
    """``twinbridge simulate``: the same jobs as the REST API, offline, printed as a table."""
    from twinbridge.server.config import load_plant_file, load_yaml_model

    plant_file = load_plant_file(plant_path)
    scenario = load_yaml_model(scenario_path, Scenario)
    settings = plant_file.simulation or SimulationSettings()

    async def run() -> SimulationJob:
        runner = SimulationRunner(plant_lines(plant_file.plant, settings), workers=workers or settings.workers)
        try:
            return await runner.run(scenario)
        finally:
            await runner.close()

    try:
        job = asyncio.run(run())
    except ScenarioError as error:
        print(f"twinbridge: {scenario_path}: {error}", file=sys.stderr)
        return 2
    if job.result is None:
        print(f"twinbridge: the simulation {job.status.value}: {job.error}", file=sys.stderr)
        return 1
    print(format_result(job))
    if out is not None:
        out.write_bytes(orjson.dumps(job.result, option=orjson.OPT_INDENT_2))
    return 0


_SHOWN = (("throughput_per_h", "throughput/h", 1), ("downtime_h", "downtime h", 1), ("failures", "failures", 1),
          ("maintenance_actions", "maint. actions", 1), ("energy_kwh", "energy kWh", 0), ("wip", "WIP", 1))


def format_result(job: SimulationJob) -> str:
    """Per line: scenario and baseline means ± 95 % half-widths and the paired difference."""
    assert job.result is not None
    scenario, baseline, difference = job.result["scenario"], job.result["baseline"], job.result["difference"]
    out = [f"scenario {job.scenario.name!r}: {job.scenario.replications} replications of "
           f"{job.scenario.horizon_h:g} h (warm-up {job.scenario.warmup_h:g} h), "
           f"maintenance {job.scenario.maintenance.kind}"]
    for line, figures in scenario.items():
        out.append(f"\n{line}" + ("" if baseline is None else "        scenario            baseline"
                                                            "            difference"))
        for key, label, digits in _SHOWN:
            cells = [_cell(figures["kpis"][key], digits)]
            if baseline is not None and line in baseline:
                cells += [_cell(baseline[line]["kpis"][key], digits), _cell(difference[line]["kpis"][key], digits)]
            out.append(f"  {label:<16}" + "".join(f"{c:<20}" for c in cells))
    return "\n".join(out)


def _cell(value: Interval, digits: int) -> str:
    return f"{value.mean:.{digits}f} ± {value.half_width:.{digits}f}"
