"""The composed plant: one object the application starts and stops."""

from __future__ import annotations

import json

from tests.submodels.conftest import PLANT_FILE, settle, shell_id
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
