"""Fixtures of the OPC UA tests: a small plant twin, the server on a free port, asyncua clients."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from asyncua import Client
from basyx.aas import model
from basyx.aas.model import datatypes as xs

from tests.ports import free_port
from twinbridge.aas.operations import OperationRegistry
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.server.opcua import OpcUaServer, OpcUaSettings, OpcUaUser
from twinbridge.server.opcua.types import I4AAS_NAMESPACE, NAMESPACE

PLANT, LINE, MACHINE = "urn:twinbridge:test:aas:plant", "urn:twinbridge:test:aas:line", "urn:twinbridge:test:aas:m1"
OPERATIONAL = "urn:twinbridge:test:sm:m1:operational"
STRUCTURE = "urn:twinbridge:test:sm:plant:structure"
SPEED_SEMANTIC_ID = "0173-1#02-AAB381#003"



def _shell(identifier: str, id_short: str, asset: str, submodels: list[str]) -> model.AssetAdministrationShell:
    return model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id=asset), identifier, id_short=id_short,
        submodel={model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, sm),), model.Submodel)
                  for sm in submodels})


def _entity(id_short: str, asset: str, children: list[model.SubmodelElement]) -> model.Entity:
    return model.Entity(id_short, model.EntityType.SELF_MANAGED_ENTITY, statement=children, global_asset_id=asset)


def operational_submodel() -> model.Submodel:
    semantic = model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, SPEED_SEMANTIC_ID),))
    scale = model.Operation(
        "Scale",
        input_variable=[model.Property("x", xs.Double, 0.0)],
        output_variable=[model.Property("y", xs.Double, 0.0)],
    )
    return model.Submodel(OPERATIONAL, id_short="OperationalData", submodel_element=[
        model.Property("Speed", xs.Double, 12.5, semantic_id=semantic, category="VARIABLE"),
        model.Property("Count", xs.Int, 7),
        model.Property("Running", xs.Boolean, True),
        model.Property("Label", xs.String, "press"),
        model.Property("Huge", xs.Integer, 2**70),
        model.Property("Stamp", xs.DateTime, datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)),
        model.Property("Day", xs.Date, xs.Date(2026, 5, 17)),
        model.Range("Window", xs.Double, min=1.0, max=9.0),
        model.SubmodelElementCollection("Spindle", value=[model.Property("Torque", xs.Float, 3.5)]),
        model.SubmodelElementList("Temperatures", model.Property, value=[
            model.Property(None, xs.Double, 20.0), model.Property(None, xs.Double, 21.0)],
            value_type_list_element=xs.Double),
        scale,
    ])


def plant_twin() -> Twin:
    """Plant ▸ Line ▸ Machine, described by nested Entities in the plant's structure submodel."""
    twin = Twin()
    twin.create(operational_submodel())
    twin.create(model.Submodel(STRUCTURE, id_short="PlantStructure", submodel_element=[
        _entity("PlantNode", "urn:asset:plant", [
            _entity("LineNode", "urn:asset:line", [_entity("MachineNode", "urn:asset:m1", [])])])]))
    twin.create(_shell(PLANT, "Plant", "urn:asset:plant", [STRUCTURE]))
    twin.create(_shell(LINE, "Line", "urn:asset:line", []))
    twin.create(_shell(MACHINE, "Machine1", "urn:asset:m1", [OPERATIONAL]))
    return twin


USERS = [OpcUaUser(name="operator", password="op-secret", rights="readwrite"),
         OpcUaUser(name="viewer", password="view-secret", rights="read")]


# One server per test module: asyncua needs ~2.5 s to load its standard address space, so tests in
# a module share the server and each touches its own elements.
@pytest.fixture(scope="module")
def twin() -> Twin:
    return plant_twin()


@pytest.fixture(scope="module")
def settings() -> OpcUaSettings:
    return OpcUaSettings(host="127.0.0.1", port=free_port(), users=USERS)


async def _scale(inputs: dict[str, Any]) -> dict[str, Any]:
    return {"y": inputs["x"] * 2}


def operations() -> OperationRegistry:
    registry = OperationRegistry()
    registry.register(_scale, submodel_id=OPERATIONAL, path="Scale")
    return registry


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def opcua(twin: Twin, settings: OpcUaSettings,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpcUaServer]:
    server = OpcUaServer(twin, settings, tmp_path_factory.mktemp("opcua-data"), operations=operations())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(opcua: OpcUaServer) -> AsyncIterator[Client]:
    """An anonymous client (read-only)."""
    async with Client(opcua.endpoint_url, timeout=10) as connected:
        yield connected


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def operator(opcua: OpcUaServer) -> AsyncIterator[Client]:
    """A client logged in as a user with read/write rights."""
    connection = Client(opcua.endpoint_url, timeout=10)
    connection.set_user("operator")
    connection.set_password("op-secret")
    async with connection:
        yield connection


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rest(twin: Twin, opcua: OpcUaServer) -> AsyncIterator[httpx.AsyncClient]:
    """The REST API in the same event loop as the OPC UA server, over a real socket."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(twin, prefix="/api/v3.0"), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        yield http
    server.should_exit = True
    await task


async def ns_of(client: Client) -> int:
    return int(await client.get_namespace_index(NAMESPACE))


async def i4aas_of(client: Client) -> int:
    """The index of OPC 30270's namespace: the types, and the BrowseNames of fixed children."""
    return int(await client.get_namespace_index(I4AAS_NAMESPACE))
