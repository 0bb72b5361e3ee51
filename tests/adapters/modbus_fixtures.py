"""Real peers for the Modbus tests: a pymodbus device server that records what it is asked, and a twin.

Import the fixtures into a test module (``from tests.adapters.modbus_fixtures import device``)
so pytest finds them; ``tests/adapters/conftest.py`` is shared with the MQTT tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping

import pytest
from basyx.aas import model
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from twinbridge.aas.twin import Twin
from twinbridge.adapters.config import Backoff, Binding, ElementTarget
from twinbridge.adapters.modbus.config import ModbusPoint, ModbusPollGroup, ModbusSource

FUNCTION = {"coil": 1, "discrete_input": 2, "holding_register": 3, "input_register": 4}
SHELL_ID = "urn:twinbridge:test:shell:machine"
SUBMODEL_ID = "urn:twinbridge:test:sm:signals"


class DeviceServer:
    """A pymodbus TCP server with ``size`` registers and bits per area on each unit in ``units``.

    ``requests`` lists every request PDU it received as (function code, unit, address, count),
    so tests count coalescing at the device, not by trusting the adapter. ``invalid`` holds
    (area, address) cells that answer ILLEGAL ADDRESS.
    """

    def __init__(self, units: Iterable[int] = (1,), size: int = 512,
                 invalid: Iterable[tuple[str, int]] = ()) -> None:
        self.units = list(units)
        self.size = size
        self.invalid = set(invalid)
        self.port = 0
        self.requests: list[tuple[int, int, int, int]] = []
        self._server: ModbusTcpServer | None = None
        self._saved: dict[tuple[int, str], list[int] | list[bool]] = {}

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self.requests.append((pdu.function_code, pdu.dev_id, pdu.address, pdu.count))
        return pdu

    def _block(self, unit: int, area: str) -> list[SimData]:
        bits = area in ("coil", "discrete_input")
        saved = self._saved.get((unit, area))
        holes = sorted(address for a, address in self.invalid if a == area)
        values: list[int] | list[bool] = saved if saved is not None else (
            [False] * self.size if bits else [0] * self.size)
        datatype = DataType.BITS if bits else DataType.REGISTERS
        blocks: list[SimData] = []
        start = 0
        for hole in [*holes, self.size]:
            if hole > start:
                blocks.append(SimData(start, values=list(values[start:hole]), datatype=datatype))  # type: ignore[arg-type]
            start = hole + 1
        return blocks

    async def start(self) -> None:
        devices = [
            SimDevice(id=unit, simdata=tuple(self._block(unit, area) for area in FUNCTION))  # type: ignore[arg-type]
            for unit in self.units
        ]
        server = ModbusTcpServer(devices, address=("127.0.0.1", self.port), trace_pdu=self._trace)
        await server.serve_forever(background=True)
        assert server.transport is not None, f"cannot listen on port {self.port}"
        self.port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._server = server

    async def stop(self) -> None:
        """Close the server (and its client connections), keeping the register contents for a restart."""
        server, self._server = self._server, None
        if server is None:
            return
        for unit in self.units:
            for area in FUNCTION:
                self._saved[(unit, area)] = await self._read(server, unit, area, 0, self.size)
        await server.shutdown()

    async def _read(self, server: ModbusTcpServer, unit: int, area: str, address: int,
                    count: int) -> list[int] | list[bool]:
        values: list[int] | list[bool] = []
        for cell in range(address, address + count):
            if (area, cell) in self.invalid:
                values.append(0)  # type: ignore[arg-type]
            else:
                values.extend(await server.async_getValues(unit, FUNCTION[area], cell, 1))  # type: ignore[arg-type]
        return values

    async def set(self, area: str, address: int, values: list[int] | list[bool], unit: int = 1) -> None:
        assert self._server is not None
        await self._server.async_setValues(unit, FUNCTION[area], address, values)

    async def get(self, area: str, address: int, count: int = 1, unit: int = 1) -> list[int] | list[bool]:
        assert self._server is not None
        return await self._server.async_getValues(unit, FUNCTION[area], address, count)

    def reads(self) -> list[tuple[int, int, int, int]]:
        return [r for r in self.requests if r[0] in (1, 2, 3, 4)]


@pytest.fixture
async def device() -> AsyncIterator[DeviceServer]:
    server = DeviceServer(units=(1, 2))
    await server.start()
    yield server
    await server.stop()


def build_twin(properties: Mapping[str, type]) -> Twin:
    """A twin with shell ``Machine`` and submodel ``Signals`` holding one Property per name."""
    twin = Twin()
    submodel = model.Submodel(
        SUBMODEL_ID, id_short="Signals",
        submodel_element=[model.Property(name, value_type) for name, value_type in properties.items()],
    )
    shell = model.AssetAdministrationShell(
        model.AssetInformation(global_asset_id="urn:twinbridge:test:asset:machine"), SHELL_ID,
        id_short="Machine", submodel={model.ModelReference.from_referable(submodel)},
    )
    twin.create(submodel)
    twin.create(shell)
    return twin


async def eventually(check: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> None:
    """Wait until ``check()`` holds; fail with the timeout, not a hang (no timing assertion on load)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


def press_speed(device: DeviceServer, interval_ms: int = 500) -> tuple[ModbusSource, Binding]:
    """A 'press' source on ``device`` whose holding register 3 feeds Machine/Signals/Speed."""
    groups = {"default": ModbusPollGroup(interval_ms=interval_ms)}
    source = ModbusSource(name="press", port=device.port, poll_groups=groups, backoff=Backoff(initial_s=0.05))
    binding = Binding(source="press", target=ElementTarget(shell="Machine", submodel="Signals", path="Speed"),
                      modbus=ModbusPoint(address=3))
    return source, binding
