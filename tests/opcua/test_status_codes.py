"""Each error of the twin reaches an OPC UA client as the StatusCode of the one table."""

from __future__ import annotations

from typing import Any

import pytest
from asyncua import Client, ua
from basyx.aas import model
from basyx.aas.model import datatypes as xs

from tests.opcua.conftest import i4aas_of, ns_of
from twinbridge.aas import errors
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.status_codes import STATUS_OF_ERROR, status_of

pytestmark = pytest.mark.asyncio(loop_scope="module")
SUBMODEL = "urn:twinbridge:test:sm:refusals"


class Unlisted(errors.WriteRejected):
    """An error class without its own row: it answers with its base class's code."""


REFUSALS: list[type[errors.TwinError]] = [*STATUS_OF_ERROR, Unlisted]


def _device(error: type[Exception]) -> Any:
    async def write(value: Any) -> None:
        raise error(f"the device refused {value!r}")
    return write


@pytest.fixture(scope="module")
def twin() -> Twin:
    """One Property per error class, each fed by a device whose write-back raises that class."""
    twin = Twin()
    elements = [model.Property(cls.__name__, xs.Double, 1.0) for cls in REFUSALS]
    elements.append(model.Property("Broken", xs.Double, 1.0))
    twin.create(model.Submodel(SUBMODEL, id_short="Refusals", submodel_element=elements))
    for cls in REFUSALS:
        twin.bind(twin.live(SUBMODEL, cls.__name__), _device(cls))
    twin.bind(twin.live(SUBMODEL, "Broken"), _device(ConnectionResetError))
    return twin


async def _write(client: Client, name: str) -> int:
    ns, i4aas = await ns_of(client), await i4aas_of(client)
    node = await client.nodes.objects.get_child([f"{ns}:AASEnvironment", f"{ns}:Refusals", f"{ns}:{name}",
                                                 f"{i4aas}:Value"])
    item = ua.WriteValue(NodeId=node.nodeid, AttributeId=ua.AttributeIds.Value,
                         Value=ua.DataValue(ua.Variant(2.0, ua.VariantType.Double)))
    return int((await client.uaclient.write(ua.WriteParameters(NodesToWrite=[item])))[0].value)


async def test_every_error_class_answers_with_its_row(operator: Client, twin: Twin) -> None:
    answered = {cls: await _write(operator, cls.__name__) for cls in REFUSALS}
    assert answered == {cls: status_of(cls("x")).value for cls in REFUSALS}
    assert answered[errors.NotWritable] == ua.StatusCodes.BadNotWritable
    assert answered[errors.NotFound] == ua.StatusCodes.BadNodeIdUnknown
    assert answered[errors.WriteRejected] == ua.StatusCodes.BadTypeMismatch
    assert answered[Unlisted] == ua.StatusCodes.BadTypeMismatch
    assert twin.element(SUBMODEL, "NotWritable").value == 1.0  # type: ignore[attr-defined]


async def test_a_device_failure_outside_the_vocabulary_is_bad_device_failure(operator: Client) -> None:
    assert await _write(operator, "Broken") == ua.StatusCodes.BadDeviceFailure
