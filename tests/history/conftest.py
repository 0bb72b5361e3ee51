"""A twin with a few live Properties, its HistoryService and the full REST API over real HTTP (uvicorn)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from basyx.aas import model

from tests.ports import free_port
from twinbridge.aas.store import open_store, store_url_for
from twinbridge.aas.twin import Twin
from twinbridge.history.service import HistoryService
from twinbridge.history.settings import HistorySettings
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity, ApiToken
from twinbridge.server.api.history import routers

SUBMODEL = "urn:test:sm:press"
TOKEN = "w" * 32
ADMIN = "a" * 32


def b64(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def press_submodel() -> model.Submodel:
    return model.Submodel(SUBMODEL, id_short="Press", submodel_element=[
        model.Property("Temperature", model.datatypes.Double, 20.0),
        model.Property("Count", model.datatypes.Int, 0),
        model.Property("State", model.datatypes.String, "idle"),
        model.Property("Setpoint", model.datatypes.Double, 1500.0),
    ])


@dataclass
class Served:
    twin: Twin
    service: HistoryService
    base: str
    http: httpx.AsyncClient

    def url(self, path: str, submodel: str = SUBMODEL) -> str:
        return f"{self.base}/history/submodels/{b64(submodel)}/submodel-elements/{path}"


async def serve(data: Path, settings: HistorySettings | None = None,
                extra: tuple[model.Submodel, ...] = ()) -> AsyncIterator[Served]:
    twin = Twin(open_store(store_url_for(data)))
    for submodel in (press_submodel(), *extra):
        if submodel.id not in twin.submodels:
            twin.create(submodel)
    port = free_port()
    service = HistoryService(twin, settings or HistorySettings(flush_interval_s=0.2), data,
                             f"http://127.0.0.1:{port}/api/v3.0/history")
    await service.start()
    security = ApiSecurity(mode="token", read_open=True, tokens=[
        ApiToken(token=TOKEN, role="write", name="operator-anna"), ApiToken(token=ADMIN, role="admin", name="admin")])
    app = create_app(twin, security=security, extra_routers=routers)
    app.state.history = service
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            yield Served(twin, service, f"http://127.0.0.1:{port}/api/v3.0", http)
    finally:
        server.should_exit = True
        await serving
        await service.stop()
        twin.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async for item in serve(tmp_path / "data"):
        yield item
