"""Roll-ups follow their inputs live, through the twin's write path."""

from __future__ import annotations

import pytest

from tests.submodels.conftest import BASE, settle, shell_id
from tests.submodels.test_hierarchy import _add_part
from twinbridge.aas.errors import NotWritable
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import PlantModel
from twinbridge.submodels.rdf_mapping import TB, iri
from twinbridge.submodels.rollups import RollupEngine
from twinbridge.submodels.semantic import SemanticGraph

MACHINES = ("Line1/Cell1/Filler1", "Line1/Cell1/Capper1", "Line1/Cell2/Labeller1", "Line1/Cell2/Inspector1",
            "Line2/Cell3/Packer1", "Line2/Cell3/Palletizer1", "Line2/Cell3/Wrapper1", "Line2/Cell3/Conveyor1")


def _value(twin: Twin, plant: PlantModel, asset: str, signal: str) -> object:
    return twin.element(*plant.signal_target(shell_id(asset), signal)).value  # type: ignore[attr-defined]


def _set(twin: Twin, plant: PlantModel, asset: str, signal: str, value: float,
         quality: Quality = Quality.GOOD) -> None:
    twin.update(twin.live(*plant.signal_target(shell_id(asset), signal)), value, quality=quality)


async def test_power_rolls_up_cell_line_plant(twin: Twin, plant: PlantModel, rollups: RollupEngine) -> None:
    for index, machine in enumerate(MACHINES):
        _set(twin, plant, f"DemoPlant/{machine}", "Power", float(index + 1))
    await settle(twin)
    assert _value(twin, plant, "DemoPlant/Line1/Cell1", "TotalPower") == 3.0
    assert _value(twin, plant, "DemoPlant/Line1", "TotalPower") == 10.0
    assert _value(twin, plant, "DemoPlant", "TotalPower") == 36.0
    assert _value(twin, plant, "DemoPlant", "MachineCount") == 8
    _set(twin, plant, "DemoPlant/Line1/Cell1/Filler1", "Power", 11.0)
    await settle(twin)
    assert _value(twin, plant, "DemoPlant/Line1/Cell1", "TotalPower") == 13.0
    assert _value(twin, plant, "DemoPlant", "TotalPower") == 46.0
    handle = twin.live(*plant.signal_target(shell_id("DemoPlant"), "TotalPower"))
    assert handle.quality is Quality.GOOD and handle.timestamp is not None


async def test_mean_min_max_and_quality(twin: Twin, plant: PlantModel, rollups: RollupEngine) -> None:
    assert _value(twin, plant, "DemoPlant/Line1/Cell1", "Availability") == 100.0
    _set(twin, plant, "DemoPlant/Line1/Cell1/Capper1", "Availability", 80.0)
    for asset, temperature in (("Line1/Cell1/Filler1", 40.0), ("Line1/Cell1/Capper1", 55.5),
                               ("Line2/Cell3/Packer1/Packer1Motor", 21.0), ("Line2/Cell3/Packer1", 30.0)):
        _set(twin, plant, f"DemoPlant/{asset}", "Temperature", temperature)
    await settle(twin)
    assert _value(twin, plant, "DemoPlant/Line1/Cell1", "Availability") == 90.0
    assert _value(twin, plant, "DemoPlant/Line1", "Availability") == 95.0
    assert _value(twin, plant, "DemoPlant/Line1/Cell1", "MaxTemperature") == 55.5
    assert _value(twin, plant, "DemoPlant/Line2/Cell3", "MinTemperature") == 21.0
    min_handle = twin.live(*plant.signal_target(shell_id("DemoPlant/Line2/Cell3"), "MinTemperature"))
    assert min_handle.quality is Quality.UNCERTAIN  # some descendants have no temperature yet
    _set(twin, plant, "DemoPlant/Line1/Cell1/Capper1", "Availability", 10.0, Quality.BAD)
    await settle(twin)
    cell = twin.live(*plant.signal_target(shell_id("DemoPlant/Line1/Cell1"), "Availability"))
    assert cell.element.value == 100.0 and cell.quality is Quality.UNCERTAIN  # type: ignore[union-attr]


async def test_only_affected_rollups_are_recomputed(twin: Twin, plant: PlantModel, rollups: RollupEngine) -> None:
    await settle(twin)
    before = rollups.recomputed
    _set(twin, plant, "DemoPlant/Line2/Cell3/Wrapper1", "SpindleSpeed", 1200.0)
    await settle(twin)
    assert rollups.recomputed == before
    _set(twin, plant, "DemoPlant/Line2/Cell3/Wrapper1", "Power", 2.0)
    await settle(twin)
    # Cell3 TotalPower, MachineCount at the plant, then Line2 and plant TotalPower up the chain
    assert rollups.recomputed - before == 4


async def test_clients_cannot_overwrite_a_rollup(twin: Twin, plant: PlantModel, rollups: RollupEngine) -> None:
    handle = twin.live(*plant.signal_target(shell_id("DemoPlant/Line1"), "TotalPower"))
    with pytest.raises(NotWritable):
        await twin.write_value(handle, 99.0)


async def test_moving_a_machine_between_cells_moves_its_power(twin: Twin, plant: PlantModel, rollups: RollupEngine,
                                                              graph: SemanticGraph) -> None:
    _set(twin, plant, "DemoPlant/Line1/Cell1/Filler1", "Power", 1.0)
    _set(twin, plant, "DemoPlant/Line1/Cell2/Inspector1", "Power", 4.0)
    await settle(twin)
    assert _value(twin, plant, "DemoPlant/Line1/Cell1", "TotalPower") == 1.0
    twin.delete_element(f"{BASE}sm/DemoPlant/Line1/Cell2/HierarchicalStructures", "EntryNode.HasPart_Inspector1")
    twin.delete_element(f"{BASE}sm/DemoPlant/Line1/Cell2/Inspector1/HierarchicalStructures", "EntryNode.IsPartOf")
    _add_part(twin, "DemoPlant/Line1/Cell1", f"{BASE}asset/DemoPlant/Line1/Cell2/Inspector1", "Inspector1")
    await settle(twin)
    inspector = shell_id("DemoPlant/Line1/Cell2/Inspector1")
    assert rollups.rollups and inspector in [c for c in graph_children(graph, shell_id("DemoPlant/Line1/Cell1"))]
    assert _value(twin, plant, "DemoPlant/Line1/Cell1", "TotalPower") == 5.0
    cell2 = twin.live(*plant.signal_target(shell_id("DemoPlant/Line1/Cell2"), "TotalPower"))
    assert cell2.quality is Quality.BAD  # its remaining machine, Labeller1, has reported no power yet


def graph_children(graph: SemanticGraph, parent: str) -> list[str]:
    return [str(child) for child in graph.graph.objects(iri(parent), TB.hasPart)]
