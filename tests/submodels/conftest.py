"""Fixtures: the example plant built into a twin, its hierarchy, roll-ups, graph, and an HTTP server."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

from twinbridge.aas.twin import Twin
from twinbridge.server.analytics_config import AnalyticsSettings, watched_signals
from twinbridge.server.api import hierarchy as hierarchy_api
from twinbridge.server.api import sparql as sparql_api
from twinbridge.server.api.app import create_app
from twinbridge.submodels.builder import PlantModel, build_environment
from twinbridge.submodels.description import PlantDescription
from twinbridge.submodels.hierarchy import PlantHierarchy
from twinbridge.submodels.rollups import RollupEngine
from twinbridge.submodels.semantic import SemanticGraph
from twinbridge.submodels.templates.predictive_maintenance import WatchedSignal

PLANT_FILE = Path(__file__).with_name("plant.yaml")
BASE = "https://example.com/twinbridge/"


def shell_id(path: str) -> str:
    return f"{BASE}aas/{path}"


def encode(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


@pytest.fixture(scope="session")
def raw_description() -> dict[str, object]:
    data = yaml.safe_load(PLANT_FILE.read_text())
    assert isinstance(data, dict)
    plant = data["plant"]
    assert isinstance(plant, dict)
    return plant


def watched(path: Path) -> list[WatchedSignal]:
    """The analytics signals of a plant file, as the server hands them to the builder."""
    data = yaml.safe_load(path.read_text())
    return watched_signals(AnalyticsSettings.model_validate(data["analytics"]) if "analytics" in data else None)


@pytest.fixture
def description(raw_description: dict[str, object]) -> PlantDescription:
    return PlantDescription.model_validate(raw_description)


@pytest.fixture
def plant(description: PlantDescription) -> PlantModel:
    return build_environment(description, PLANT_FILE.parent, watched(PLANT_FILE))


@pytest.fixture
def twin(plant: PlantModel) -> Twin:
    twin = Twin()
    plant.load_into(twin)
    return twin


@pytest.fixture
def hierarchy(twin: Twin) -> PlantHierarchy:
    return PlantHierarchy.from_twin(twin)


@pytest.fixture
async def rollups(twin: Twin, hierarchy: PlantHierarchy, plant: PlantModel) -> AsyncIterator[RollupEngine]:
    engine = RollupEngine(twin, hierarchy, plant)
    await engine.start()
    yield engine
    await engine.stop()


@pytest.fixture
async def graph(twin: Twin, hierarchy: PlantHierarchy) -> AsyncIterator[SemanticGraph]:
    semantic = SemanticGraph(twin, hierarchy)
    await semantic.start()
    yield semantic
    await semantic.stop()


async def settle(twin: Twin) -> None:
    """Wait until every bus consumer has handled everything published so far."""
    await asyncio.wait_for(twin.bus.drained(), 10)


@pytest.fixture
async def client(twin: Twin, hierarchy: PlantHierarchy, graph: SemanticGraph,
                 rollups: RollupEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The Part 2 app plus the hierarchy and SPARQL routers, served by uvicorn on a free port."""
    app = create_app(twin, extra_routers=[hierarchy_api.router, sparql_api.router], semantic_graph=graph)
    app.state.hierarchy = hierarchy
    app.state.semantic_graph = graph
    app.state.sparql_timeout_s = 2.0
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v3.0", timeout=10) as http:
        yield http
    server.should_exit = True
    await task
    sock.close()
