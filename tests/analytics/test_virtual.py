"""Virtual properties on a real twin: recomputed on input changes, worst quality, clear errors."""

from __future__ import annotations

import math

import pytest
from basyx.aas import model

from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.analytics.expressions import ExpressionError
from twinbridge.analytics.virtual import VirtualPropertyMonitor

SM = "urn:test:line"


def _twin() -> Twin:
    twin = Twin()
    power = model.Property("Power", model.datatypes.Double, 10.0, semantic_id=model.ExternalReference(
        (model.Key(model.KeyTypes.GLOBAL_REFERENCE, "urn:power"),)))
    twin.create(model.Submodel(SM, id_short="Line", submodel_element=[
        power,
        model.SubmodelElementCollection("Output", value=[model.Property("Throughput", model.datatypes.Double, 4.0)]),
        model.Property("SpecificEnergy", model.datatypes.Double, 0.0),
        model.Property("Doubled", model.datatypes.Double, 0.0),
        model.Property("Name", model.datatypes.String, "x"),
    ]))
    return twin


async def test_specific_energy_follows_its_inputs_with_the_worst_quality() -> None:
    twin = _twin()
    monitor = VirtualPropertyMonitor(twin, SM, {"SpecificEnergy": 'sid("urn:power") / Output.Throughput',
                                                "Doubled": "SpecificEnergy * 2"})
    monitor.start()
    assert twin.element(SM, "SpecificEnergy").value == 2.5  # type: ignore[attr-defined]
    twin.update(twin.live(SM, "Output.Throughput"), 5.0, timestamp=100.0, quality=Quality.UNCERTAIN)
    await twin.bus.drained()
    assert twin.element(SM, "SpecificEnergy").value == 2.0  # type: ignore[attr-defined]
    assert twin.element(SM, "Doubled").value == 4.0  # type: ignore[attr-defined]
    handle = twin.live(SM, "Doubled")
    assert handle.quality is Quality.UNCERTAIN and handle.timestamp == 100.0
    twin.update(twin.live(SM, "Output.Throughput"), 0.0, timestamp=101.0)
    await twin.bus.drained()
    assert math.isnan(twin.element(SM, "SpecificEnergy").value)  # type: ignore[attr-defined]
    assert twin.live(SM, "SpecificEnergy").quality is Quality.BAD
    await monitor.stop()


@pytest.mark.parametrize(("definitions", "message"), [
    ({"SpecificEnergy": "Powr / 2"}, "virtual property 'SpecificEnergy': unknown name(s) Powr"),
    ({"SpecificEnergy": "Doubled", "Doubled": "SpecificEnergy"}, "cycle"),
    ({"Name": "Power"}, "virtual property 'Name': must be an existing xs:double/xs:float Property"),
])
def test_bad_definitions_are_refused_at_start(definitions: dict[str, str], message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        VirtualPropertyMonitor(_twin(), SM, definitions).start()
    assert message in str(caught.value)
