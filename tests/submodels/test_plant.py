"""The composed plant: one object the application starts and stops."""

from __future__ import annotations

import json

from tests.submodels.conftest import PLANT_FILE, settle, shell_id
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.submodels.description import PlantDescription
from twinbridge.submodels.plant import Plant


async def test_a_plant_loads_starts_follows_and_stops(description: PlantDescription) -> None:
    twin = Twin()
    plant = Plant(twin, description, PLANT_FILE.parent)
    assert len(twin.shells) == 21 and plant.hierarchy.roots() == [shell_id("DemoPlant")]
    await plant.start()
    power = twin.live(*plant.signal_target(shell_id("DemoPlant/Line2/Cell3/Conveyor1"), "Power"))
    twin.update(power, 3.25)
    await settle(twin)
    total = twin.element(*plant.signal_target(shell_id("DemoPlant/Line2"), "TotalPower"))
    assert total.value == 3.25  # type: ignore[attr-defined]
    _, body = plant.graph.query('ASK { ?p Referable:idShort "TotalPower" ; Property:value "3.25"^^xsd:double }', 2.0)
    assert json.loads(body)["boolean"] is True
    await plant.stop()
    twin.update(power, 5.0)
    await settle(twin)
    assert total.value == 3.25  # type: ignore[attr-defined]
    again = Plant(twin, description, PLANT_FILE.parent)
    assert len(twin.shells) == 21 and again.hierarchy.shells() == plant.hierarchy.shells()


async def test_a_restart_with_an_unchanged_description_restores_instead_of_building(
        description: PlantDescription) -> None:
    twin = Twin()
    first = Plant(twin, description, PLANT_FILE.parent)
    saved = first.model.to_document()
    assert not first.restored and first.model.shells == []  # the twin holds the objects, not the plant
    again = Plant(twin, description, PLANT_FILE.parent, replace=False, saved=saved)
    assert again.restored and again.written == 0 and again.shell_count == 21
    assert again.hierarchy.shells() == first.hierarchy.shells()
    assert again.model.rollups == first.model.rollups
    await again.start()
    power = twin.live(*again.signal_target(shell_id("DemoPlant/Line2/Cell3/Conveyor1"), "Power"))
    twin.update(power, 4.5)
    await settle(twin)
    assert twin.element(*again.signal_target(shell_id("DemoPlant/Line2"), "TotalPower")).value == 4.5  # type: ignore[attr-defined]
    await again.stop()
    nameplate = next(identifier for identifier in twin.submodels if identifier.endswith("/Nameplate"))
    twin.delete(ObjectKind.SUBMODEL, nameplate)
    rebuilt = Plant(twin, description, PLANT_FILE.parent, replace=False, saved=saved)
    assert not rebuilt.restored and rebuilt.written == 1 and nameplate in twin.submodels
    assert Plant(twin, description, PLANT_FILE.parent, replace=False, saved=b"{not json").restored is False
