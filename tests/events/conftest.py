"""A twin served over real HTTP on the test's own event loop (the change bus is single-loop),
and an SSE reader that parses the stream as a client library would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import orjson
import pytest
import uvicorn
from basyx.aas import model
from fastapi import FastAPI

from tests.ports import free_port
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity
from twinbridge.server.events.settings import SseConfig
from twinbridge.server.events.sse import events_router

PREFIX = "/api/v3.0"
SUBMODEL_ID = "urn:twinbridge:test:sm:events"
OTHER_ID = "urn:twinbridge:test:sm:other"
SHELL_ID = "urn:twinbridge:test:shell:events"
SPEED_SEMANTIC = "urn:twinbridge:test:cd:speed"


def events_twin() -> Twin:
    twin = Twin()
    speed = model.Property("Speed", model.datatypes.Int, 1,
                           semantic_id=model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE,
                                                                          SPEED_SEMANTIC),)))
    motor = model.SubmodelElementCollection("Motor", [speed, model.Property("Current", model.datatypes.Double, 0.5)])
    twin.create(model.Submodel(SUBMODEL_ID, id_short="Drive",
                               submodel_element=[motor, model.Property("Setpoint", model.datatypes.Double, 1.0)]))
    twin.create(model.Submodel(OTHER_ID, id_short="Other",
                               submodel_element=[model.Property("Level", model.datatypes.Int, 0)]))
    return twin


@dataclass
class Served:
    twin: Twin
    base: str
    server: uvicorn.Server
    app: FastAPI
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def serve(twin: Twin, settings: SseConfig, security: ApiSecurity | None = None) -> Served:
    app = create_app(twin, prefix=PREFIX, security=security, extra_routers=[events_router(settings)])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    served = Served(twin, f"http://127.0.0.1:{port}{PREFIX}", server, app)
    served.tasks.append(asyncio.create_task(server.serve()))
    while not server.started:
        await asyncio.sleep(0.01)
    return served


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    running = await serve(events_twin(), SseConfig(heartbeat_s=0.2, capacity=50, send_timeout_s=0.5))
    try:
        yield running
    finally:
        running.server.should_exit = True
        for task in running.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)


@dataclass
class Frame:
    event: str | None = None
    id: str | None = None
    data: dict[str, object] | None = None
    comments: list[str] = field(default_factory=list)


class SseReader:
    """Reads ``text/event-stream`` frames (blank-line separated) from an httpx streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def frame(self, timeout: float = 5.0) -> Frame:
        return await asyncio.wait_for(self._frame(), timeout)

    async def _frame(self) -> Frame:
        frame = Frame()
        started = False
        async for line in self._lines:
            if not line:
                if started:
                    return frame
                continue
            started = True
            if line.startswith(":"):
                frame.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                frame.event = value
            elif name == "id":
                frame.id = value
            elif name == "data":
                frame.data = orjson.loads(value)
        raise EOFError("the stream ended")

    async def event(self, timeout: float = 5.0) -> Frame:
        """The next frame that carries an event (skipping comments and heartbeats)."""
        while True:
            frame = await self.frame(timeout)
            if frame.event is not None:
                return frame


@contextlib.asynccontextmanager
async def stream(http: httpx.AsyncClient, url: str, **params: object) -> AsyncIterator[SseReader]:
    async with http.stream("GET", url, params=params) as response:  # type: ignore[arg-type]
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SseReader(response)
        greeting = await reader.frame()  # the stream is subscribed once its greeting arrives
        assert greeting.comments
        yield reader
