"""``Objects/Plant``: shells organized by the asset hierarchy, pointing at the same nodes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from asyncua import Client, Node, ua
from basyx.aas import model

from tests.opcua.conftest import LINE, MACHINE, PLANT, STRUCTURE, i4aas_of, ns_of, plant_twin
from tests.ports import free_port
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua import OpcUaServer, OpcUaSettings
from twinbridge.server.opcua.plant_view import EntityHierarchy

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _organized(node: Node) -> list[Node]:
    return list(await node.get_children(refs=ua.ObjectIds.Organizes))


async def _names(nodes: list[Node]) -> list[str]:
    return [(await node.read_browse_name()).Name for node in nodes]


async def test_plant_line_machine_from_entity_data_reuses_the_environment_nodes(client: Client) -> None:
    ns = await ns_of(client)
    plant_folder = await client.nodes.objects.get_child(f"{ns}:Plant")
    roots = await _organized(plant_folder)
    assert await _names(roots) == ["Plant"]
    lines = await _organized(roots[0])
    assert await _names(lines) == ["Line"]
    machines = await _organized(lines[0])
    assert await _names(machines) == ["Machine1"]
    in_environment = await client.nodes.objects.get_child([f"{ns}:AASEnvironment", f"{ns}:Machine1"])
    assert machines[0].nodeid == in_environment.nodeid
    value = await machines[0].get_child([f"{ns}:OperationalData", f"{ns}:Speed", f"{await i4aas_of(client)}:Value"])
    assert isinstance(await value.read_value(), float)


async def test_the_view_is_rebuilt_when_a_shell_goes(twin: Twin, client: Client) -> None:
    ns = await ns_of(client)
    twin.delete(ObjectKind.SHELL, LINE)
    plant_folder = await client.nodes.objects.get_child(f"{ns}:Plant")
    deadline = time.monotonic() + 10
    while True:
        plant = (await _organized(plant_folder))[0]
        if await _names(await _organized(plant)) == ["Machine1"]:
            break
        assert time.monotonic() < deadline, "the Plant view did not follow the deleted shell"
        await asyncio.sleep(0.05)


async def test_without_entities_the_hierarchy_is_flat() -> None:
    twin = plant_twin()
    twin.delete(ObjectKind.SUBMODEL, STRUCTURE)
    hierarchy = EntityHierarchy(twin)
    assert hierarchy.roots() == [PLANT, LINE, MACHINE]
    assert hierarchy.children(PLANT) == []


class MachineFirst:
    """A hierarchy model that puts the machine on top (to show the given model wins)."""

    def roots(self) -> list[str]:
        return [MACHINE]

    def children(self, shell_id: str) -> list[str]:
        return [PLANT] if shell_id == MACHINE else []

    def level(self, shell_id: str) -> str | None:
        return "machine" if shell_id == MACHINE else None


async def test_a_given_hierarchy_model_is_used(tmp_path: Path) -> None:
    server = OpcUaServer(plant_twin(), OpcUaSettings(host="127.0.0.1", port=free_port()), tmp_path,
                         hierarchy=MachineFirst())
    await server.start()
    try:
        async with Client(server.endpoint_url, timeout=10) as client:
            ns = await ns_of(client)
            roots = await _organized(await client.nodes.objects.get_child(f"{ns}:Plant"))
            assert await _names(roots) == ["Machine1", "Line"]  # Line is not placed: directly under Plant
            assert await _names(await _organized(roots[0])) == ["Plant"]
    finally:
        await server.stop()


async def test_part_of_relationships_between_flat_entities_give_the_edges() -> None:
    twin = plant_twin()
    twin.delete(ObjectKind.SUBMODEL, STRUCTURE)

    def entity_ref(id_short: str) -> model.ModelReference[model.Entity]:
        return model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, "urn:bom"),
                                     model.Key(model.KeyTypes.ENTITY, id_short)), model.Entity)

    twin.create(model.Submodel("urn:bom", id_short="BillOfMaterial", submodel_element=[
        model.Entity("MachineNode", model.EntityType.SELF_MANAGED_ENTITY, global_asset_id="urn:asset:m1"),
        model.Entity("LineNode", model.EntityType.SELF_MANAGED_ENTITY, global_asset_id="urn:asset:line"),
        model.RelationshipElement("IsPartOf", entity_ref("MachineNode"), entity_ref("LineNode")),
    ]))
    twin.modify(ObjectKind.SHELL, MACHINE, lambda shell: shell.submodel.add(
        model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, "urn:bom"),), model.Submodel)))
    hierarchy = EntityHierarchy(twin)
    assert hierarchy.children(LINE) == [MACHINE]
    assert hierarchy.children(MACHINE) == []
    assert hierarchy.roots() == [PLANT, LINE]
