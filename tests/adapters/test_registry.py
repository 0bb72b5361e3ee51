"""A new protocol is one package + one config model registered by kind: the plant file accepts it
(errors with field paths and lines) and the application runs it, with no change to either.

The protocol here is a tiny line protocol over TCP (a device that sends ``<value>\\n``), served by
a real asyncio TCP server, and it runs under the shared connection supervisor like the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from tests.adapters.mqtt_fixtures import eventually, machine_twin
from tests.ports import free_port
from twinbridge.aas.live import LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.aas.serialization import collect, write_environment
from twinbridge.aas.twin import Twin
from twinbridge.adapters import registry
from twinbridge.adapters.binding import resolve_target
from twinbridge.adapters.config import Binding, SourceConfig, Strict
from twinbridge.adapters.registry import Adapter, AdapterKind
from twinbridge.adapters.supervisor import ConnectionSupervisor
from twinbridge.server.application import Application, Options
from twinbridge.server.config import ConfigError, parse_plant_file


class LineSource(SourceConfig):
    kind: Literal["lines"] = "lines"
    port: int = Field(ge=1, le=65535)


class LinePoint(Strict):
    scale: float = Field(1.0, gt=0)


class LineStats:
    def __init__(self) -> None:
        self.lines = 0

    def as_dict(self) -> dict[str, object]:
        return {"lines": self.lines}


class LineAdapter:
    """Every line the device sends is a value for each bound element (times the point's scale)."""

    def __init__(self, source: LineSource, bindings: Sequence[tuple[str, Binding]], twin: Twin) -> None:
        self.source, self.twin, self.stats = source, twin, LineStats()
        self.points: list[tuple[LiveElement, LinePoint]] = []
        for name, binding in bindings:
            point = binding.point("lines", LinePoint)
            assert point is not None
            handle = resolve_target(twin, binding.target, name)
            twin.bind(handle)
            self.points.append((handle, point))
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.connection = ConnectionSupervisor(f"line source {source.name!r}", self, source.backoff,
                                               on_up=lambda: None, on_down=self._all_bad)

    @property
    def connected(self) -> bool:
        return self.connection.connected

    async def start(self) -> None:
        await self.connection.start()

    async def stop(self) -> None:
        await self.connection.stop()
        self._all_bad("stopped")

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await self.connection.wait_connected(timeout)

    # the Link
    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.source.port)

    async def serve(self) -> str:
        assert self._reader is not None
        while line := await self._reader.readline():
            self.stats.lines += 1
            for handle, point in self.points:
                self.twin.update(handle, float(line) * point.scale, time.time(), Quality.GOOD)
        return "the device closed the connection"

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def _all_bad(self, reason: str) -> None:
        for handle, _ in self.points:
            self.twin.set_quality(handle, Quality.BAD)


def check_line_point(source: LineSource, point: LinePoint, writable: bool) -> None:
    if writable:
        raise ValueError(f"source {source.name!r} only sends values; a binding to it cannot be writable")


def create(source: LineSource, bindings: Sequence[tuple[str, Binding]], twin: Twin) -> Adapter:
    return LineAdapter(source, bindings, twin)


@pytest.fixture
def line_kind() -> Iterator[None]:
    registry.register(AdapterKind(kind="lines", label="line protocol", source=LineSource, point=LinePoint,
                                  factory=create, check=check_line_point))
    try:
        yield
    finally:
        registry.unregister("lines")


@pytest.fixture
async def line_device() -> AsyncIterator[int]:
    """A device that sends 21.5, then 22.5, … every 20 ms to each client; yields its port."""

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        value = 21.5
        try:
            while True:
                writer.write(f"{value}\n".encode())
                await writer.drain()
                value += 1.0
                await asyncio.sleep(0.02)
        except (ConnectionError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(talk, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


PLANT = """\
imports: [{model}]
server: {{auth: none}}
sources:
  - kind: lines
    name: furnace
    port: {port}
    backoff: {{initial_s: 0.05}}
bindings:
  - source: furnace
    target: {{shell: Machine, submodel: Signals, path: Temperature}}
    lines: {{scale: 2}}
"""


def test_the_plant_file_accepts_a_registered_kind_and_reports_its_errors_by_path(line_kind: None) -> None:
    plant_file = parse_plant_file(PLANT.format(model="m.json", port=7000))
    (source,) = plant_file.southbound.sources
    assert isinstance(source, LineSource) and source.port == 7000
    assert plant_file.southbound.bindings[0].point("lines", LinePoint) == LinePoint(scale=2)

    bad = PLANT.format(model="m.json", port=70000).replace("scale: 2", "scale: -1") + "    writable: true\n"
    bad += "  - {source: furnace, target: {shell: M, submodel: S, path: T}, modbus: {address: 1}}\n"
    bad += "  - {source: furnace, target: {shell: M, submodel: S, path: T}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_plant_file(bad, "plant.yaml")
    assert caught.value.problems == [
        "sources[0].port (line 6): Input should be less than or equal to 65535",
        "bindings[0].lines.scale (line 11): Input should be greater than 0",
        "bindings[2] (line 14): a binding needs exactly one of 'modbus' or 'mqtt' or 'lines' (found none)",
    ]
    with pytest.raises(ConfigError) as caught:
        parse_plant_file(PLANT.format(model="m.json", port=7000) + "    writable: true\n", "plant.yaml")
    assert caught.value.problems == [
        "bindings[0] (line 9): source 'furnace' only sends values; a binding to it cannot be writable"]
    with pytest.raises(ConfigError) as caught:
        parse_plant_file("sources: [{kind: serial, name: x}]\n", "plant.yaml")
    assert caught.value.problems == [
        "sources[0] (line 1): a source needs 'kind: modbus' or 'kind: mqtt' or 'kind: lines'"]


async def test_the_application_runs_a_registered_kind(line_kind: None, line_device: int, tmp_path: Path) -> None:
    model = tmp_path / "machine.json"
    model.write_bytes(write_environment(collect(machine_twin()), "json"))
    plant_file = parse_plant_file(PLANT.format(model=model, port=line_device), base_dir=tmp_path)
    application = Application(plant_file, Options(port=free_port(), opcua=False))
    await application.start()
    try:
        (adapter,) = [s for s in application.services if isinstance(s, LineAdapter)]
        await adapter.wait_connected(5)
        temperature = application.twin.live("urn:twinbridge:test:sm:mqtt-signals", "Temperature")
        await eventually(lambda: temperature.quality is Quality.GOOD and adapter.stats.lines >= 3)
        assert temperature.element.value >= 43.0  # type: ignore[union-attr]  # 21.5 · 2 and rising
    finally:
        await application.stop()
    assert temperature.quality is Quality.BAD
