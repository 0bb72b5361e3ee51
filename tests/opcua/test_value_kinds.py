"""A value write of every element kind with a value reaches the monitored OPC UA node, and what
the mirror keeps in memory is only what clients watch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asyncua import Client, Node, ua
from basyx.aas import model
from basyx.aas.model import datatypes as xs

from tests.opcua.conftest import i4aas_of, ns_of
from twinbridge.aas.twin import Twin
from twinbridge.aas.values import BlobValue, FileValue, RangeValue
from twinbridge.server.opcua import OpcUaServer
from twinbridge.server.opcua.types import KeyElements, KeyType, aas_key

pytestmark = pytest.mark.asyncio(loop_scope="module")
SUBMODEL = "urn:twinbridge:test:sm:kinds"


def _reference(value: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, value),))


@pytest.fixture(scope="module")
def twin() -> Twin:
    twin = Twin()
    twin.create(model.Submodel(SUBMODEL, id_short="Kinds", submodel_element=[
        model.Property("Speed", xs.Double, 1.0),
        model.Range("Window", xs.Double, min=1.0, max=9.0),
        model.MultiLanguageProperty("Label", model.MultiLanguageTextType({"en": "press"})),
        model.ReferenceElement("Target", _reference("urn:first")),
        model.File("Manual", "text/plain", "/manual-1.txt"),
        model.Blob("Logo", "image/png", b"\x01"),
    ]))
    return twin


class Latest:
    """Keeps the latest notified value per node."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.changed = asyncio.Event()

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        self.values[node.nodeid.to_string()] = value
        self.changed.set()

    async def until(self, node: Node, expected: Any) -> None:
        key = node.nodeid.to_string()
        async with asyncio.timeout(10):
            while self.values.get(key) != expected:
                self.changed.clear()
                await self.changed.wait()


async def _node(client: Client, element: str, *children: str) -> Node:
    """An element's fixed child: OPC 30270's BrowseNames, except a Blob's Value, which is ours."""
    ns, i4aas = await ns_of(client), await i4aas_of(client)
    child_ns = ns if element == "Logo" else i4aas
    return await client.nodes.objects.get_child(
        [f"{ns}:AASEnvironment", f"{ns}:Kinds", f"{ns}:{element}", *(f"{child_ns}:{name}" for name in children)])


async def test_every_value_kind_reaches_its_monitored_node(twin: Twin, opcua: OpcUaServer, client: Client) -> None:
    nodes = {name: await _node(client, *name.split("/")) for name in (
        "Speed/Value", "Window/Min", "Window/Max", "Label/Value", "Target/Value/Keys", "Manual/Value",
        "Logo/Value")}
    latest = Latest()
    subscription = await client.create_subscription(10, latest)
    await subscription.subscribe_data_change(list(nodes.values()))
    await latest.until(nodes["Window/Max"], 9.0)
    live = {name: twin.live(SUBMODEL, name) for name in ("Speed", "Window", "Label", "Target", "Manual", "Logo")}
    await twin.write_value(live["Speed"], 2.5)
    await twin.write_value(live["Window"], RangeValue(2.0, 8.0))
    await twin.write_value(live["Label"], {"en": "stamp", "de": "Presse"})
    await twin.write_value(live["Target"], _reference("urn:second"))
    await twin.write_value(live["Manual"], FileValue("text/plain", "/manual-2.txt"))
    await twin.write_value(live["Logo"], BlobValue("image/png", b"\x02\x03"))
    await latest.until(nodes["Speed/Value"], 2.5)
    await latest.until(nodes["Window/Min"], 2.0)
    await latest.until(nodes["Window/Max"], 8.0)
    await latest.until(nodes["Target/Value/Keys"], [aas_key(KeyElements.GlobalReference, False, "urn:second",
                                                             KeyType.IRI)])
    await latest.until(nodes["Manual/Value"], "/manual-2.txt")
    await latest.until(nodes["Logo/Value"], b"\x02\x03")
    async with asyncio.timeout(10):
        while {text.Text for text in latest.values.get(nodes["Label/Value"].nodeid.to_string(), [])} \
                != {"stamp", "Presse"}:
            latest.changed.clear()
            await latest.changed.wait()
    watched = opcua.watched_values
    assert watched == len(nodes)
    await subscription.delete()
    async with asyncio.timeout(10):
        while opcua.watched_values:
            await asyncio.sleep(0.02)


async def test_only_shells_and_submodels_are_stored(twin: Twin, opcua: OpcUaServer, client: Client) -> None:
    """The memory guard: elements, values and fixed children are computed, never stored, so the
    address space grows by the folders plus one node per shell and submodel whatever their size."""
    assert opcua.stored_nodes == {"folders": 2, "shells": len(twin.shells), "submodels": len(twin.submodels)}
    value = await _node(client, "Speed", "Value")
    for _ in range(3):
        assert isinstance(await value.read_value(), float)
    assert opcua.watched_values == 0


async def test_a_removed_monitored_value_is_unpinned_and_reads_bad_node_id_unknown(
        twin: Twin, opcua: OpcUaServer, client: Client) -> None:
    """Its monitored items are told BadNodeIdUnknown as asyncua's DeleteNodes does (asyncua sends
    that status change with the subscription's next publish); the mirror forgets the value."""
    twin.add_element(SUBMODEL, None, model.Property("Doomed", xs.Double, 4.0))
    await twin.bus.drained()
    doomed = await _node(client, "Doomed", "Value")
    latest = Latest()
    subscription = await client.create_subscription(10, latest)
    await subscription.subscribe_data_change(doomed)
    await latest.until(doomed, 4.0)
    assert opcua.watched_values == 1
    twin.delete_element(SUBMODEL, "Doomed")
    await twin.bus.drained()
    assert opcua.watched_values == 0
    read = await client.uaclient.read_attributes([doomed.nodeid], ua.AttributeIds.Value)
    assert read[0].StatusCode.value == ua.StatusCodes.BadNodeIdUnknown
    await subscription.delete()
