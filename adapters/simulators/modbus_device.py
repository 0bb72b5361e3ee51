"""A simulated Modbus TCP device: a few machine tools behind one gateway, for the demo and the tests.

Each machine answers on its own unit id (machine 1 = unit 1, ...) with the same register map,
returned as data by ``register_map()`` so a plant file or a test can bind to it. Addresses are
protocol addresses (0-based). Signals move on a timer: temperatures with noise, slow drift and
a lag behind the spindle load; the spindle speed follows its set-point while the run coil is
on; power, energy, part counter and operating hours follow the speed. The four temperatures
use the four byte/word orders, so a plant binding them exercises every layout.

Unit 1 register map (every unit repeats it):

| area | address | signal | type / order | unit |
|---|---|---|---|---|
| input_register | 0 | spindle_temperature | float32 ABCD | °C |
| input_register | 2 | motor_temperature | float32 CDAB | °C |
| input_register | 4 | bearing_temperature | float32 BADC | °C |
| input_register | 6 | coolant_temperature | float32 DCBA | °C |
| input_register | 8 | spindle_speed | uint16 | rpm |
| input_register | 9 | power | int32 ABCD | W |
| input_register | 11 | energy | float64 ABCD | kWh |
| input_register | 15 | part_counter | uint32 CDAB | parts |
| input_register | 17 | operating_seconds | uint64 ABCD | s |
| input_register | 21 | vibration | int16, scale 0.01 | mm/s |
| input_register | 22 | status (bit 0 running, bit 1 alarm, bit 2 door open) | uint16 / bit | — |
| input_register | 23 | cycle_time | uint16, scale 0.1 | s |
| input_register | 24 | serial_number | string, 8 registers | — |
| holding_register | 0 | speed_setpoint (writable) | uint16 | rpm |
| holding_register | 1 | temperature_limit (writable) | int16, scale 0.1 | °C |
| holding_register | 2 | feed_override (writable) | float32 ABCD | % |
| coil | 0 | run (writable) | bool | — |
| coil | 1 | coolant_pump (writable) | bool | — |
| discrete_input | 0..2 | running, alarm, door_open | bool | — |
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from dataclasses import dataclass
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from twinbridge.adapters.modbus.config import ByteOrder, ModbusArea, ModbusPoint, ModbusType
from twinbridge.adapters.modbus.registers import codec_for, registers_to_bytes

_FUNCTION = {"coil": 1, "discrete_input": 2, "holding_register": 3, "input_register": 4}


@dataclass(frozen=True, slots=True)
class SimulatedPoint:
    """One signal of the simulated device, with everything a binding needs to read it."""

    name: str
    machine: int
    signal: str
    area: ModbusArea
    address: int
    type: ModbusType
    unit: int
    order: ByteOrder = "ABCD"
    length: int | None = None
    bit: int | None = None
    scale: float = 1.0
    engineering_unit: str = ""
    writable: bool = False

    def modbus_point(self, poll_group: str = "default") -> ModbusPoint:
        """The binding's ``modbus:`` block that reads this signal (0-based addressing)."""
        return ModbusPoint(
            area=self.area, address=self.address, unit=self.unit, type=self.type, order=self.order,
            length=self.length, bit=self.bit, scale=self.scale, poll_group=poll_group,
        )


# signal, area, address, type, order, length, bit, scale, engineering unit, writable
_MAP: tuple[tuple[str, ModbusArea, int, ModbusType, ByteOrder, int | None, int | None, float, str, bool], ...] = (
    ("spindle_temperature", "input_register", 0, "float32", "ABCD", None, None, 1.0, "°C", False),
    ("motor_temperature", "input_register", 2, "float32", "CDAB", None, None, 1.0, "°C", False),
    ("bearing_temperature", "input_register", 4, "float32", "BADC", None, None, 1.0, "°C", False),
    ("coolant_temperature", "input_register", 6, "float32", "DCBA", None, None, 1.0, "°C", False),
    ("spindle_speed", "input_register", 8, "uint16", "ABCD", None, None, 1.0, "rpm", False),
    ("power", "input_register", 9, "int32", "ABCD", None, None, 1.0, "W", False),
    ("energy", "input_register", 11, "float64", "ABCD", None, None, 1.0, "kWh", False),
    ("part_counter", "input_register", 15, "uint32", "CDAB", None, None, 1.0, "", False),
    ("operating_seconds", "input_register", 17, "uint64", "ABCD", None, None, 1.0, "s", False),
    ("vibration", "input_register", 21, "int16", "ABCD", None, None, 0.01, "mm/s", False),
    ("status", "input_register", 22, "uint16", "ABCD", None, None, 1.0, "", False),
    ("status_running", "input_register", 22, "bit", "ABCD", None, 0, 1.0, "", False),
    ("status_alarm", "input_register", 22, "bit", "ABCD", None, 1, 1.0, "", False),
    ("cycle_time", "input_register", 23, "uint16", "ABCD", None, None, 0.1, "s", False),
    ("serial_number", "input_register", 24, "string", "ABCD", 8, None, 1.0, "", False),
    ("speed_setpoint", "holding_register", 0, "uint16", "ABCD", None, None, 1.0, "rpm", True),
    ("temperature_limit", "holding_register", 1, "int16", "ABCD", None, None, 0.1, "°C", True),
    ("feed_override", "holding_register", 2, "float32", "ABCD", None, None, 1.0, "%", True),
    ("run", "coil", 0, "bool", "ABCD", None, None, 1.0, "", True),
    ("coolant_pump", "coil", 1, "bool", "ABCD", None, None, 1.0, "", True),
    ("running", "discrete_input", 0, "bool", "ABCD", None, None, 1.0, "", False),
    ("alarm", "discrete_input", 1, "bool", "ABCD", None, None, 1.0, "", False),
    ("door_open", "discrete_input", 2, "bool", "ABCD", None, None, 1.0, "", False),
)
_INPUT_REGISTERS = 32
_HOLDING_REGISTERS = 8
_BITS = 16


def register_map(machines: int = 1) -> list[SimulatedPoint]:
    """Every signal of every machine; ``name`` is ``machine<N>.<signal>``."""
    return [
        SimulatedPoint(
            name=f"machine{machine}.{signal}", machine=machine, signal=signal, area=area, address=address,
            type=kind, unit=machine, order=order, length=length, bit=bit, scale=scale,
            engineering_unit=unit, writable=writable,
        )
        for machine in range(1, machines + 1)
        for signal, area, address, kind, order, length, bit, scale, unit, writable in _MAP
    ]


@dataclass(frozen=True)
class BearingWear:
    """A bearing that wears out, for the analytics demo: healthy for ``onset_s``, then vibration and
    bearing temperature climb (``mm/s`` and ``degC`` per second) with growing noise, and from
    ``fault_s`` an outer-race defect knocks (one impulse of ``impulse`` mm/s every ~``impulse_every_s``).
    With the defaults the vibration passes 4.5 mm/s (ISO 10816 zone D for a small machine) about
    seven minutes after the start: an anomaly, an alarm and a falling RUL within minutes."""

    onset_s: float = 60.0
    vibration_rate: float = 0.01
    temperature_rate: float = 0.02
    fault_s: float = 180.0
    impulse: float = 3.0
    impulse_every_s: float = 20.0


class Machine:
    """The physics of one machine tool, stepped by the device's timer."""

    def __init__(self, number: int, seed: int, wear: BearingWear | None = None) -> None:
        self.number = number
        self.wear = wear
        self._age = 0.0
        self.rng = random.Random(seed * 1000 + number)
        self.ambient = 21.0 + self.rng.uniform(-1.0, 1.0)
        self.drift = 0.0
        self.load_heat = 0.0
        self.values: dict[str, Any] = {
            "spindle_temperature": self.ambient, "motor_temperature": self.ambient,
            "bearing_temperature": self.ambient, "coolant_temperature": self.ambient - 2.0,
            "spindle_speed": 0, "power": 150, "energy": 0.0, "part_counter": 0, "operating_seconds": 0,
            "vibration": 0.0, "cycle_time": 42.0 + number, "serial_number": f"SIM-{number:04d}",
            "running": False, "alarm": False, "door_open": False,
            "speed_setpoint": 1200 + 300 * number, "temperature_limit": 70.0, "feed_override": 100.0,
            "run": True, "coolant_pump": True,
        }
        self.pinned: dict[str, Any] = {}
        self._cycle_elapsed = 0.0
        self._operating = 0.0

    def step(self, dt: float) -> None:
        v, rng = self.values, self.rng
        running = bool(v["run"]) and not v["door_open"]
        target = float(v["speed_setpoint"]) * float(v["feed_override"]) / 100.0 if running else 0.0
        speed = float(v["spindle_speed"])
        speed += (target - speed) * min(1.0, dt / 0.6)  # the drive ramps with a ~0.6 s time constant
        if target == 0.0 and speed < 5.0:
            speed = 0.0  # the brake holds a stopped spindle at zero
        speed = max(0.0, min(speed + rng.gauss(0.0, 2.0) if speed > 1 else speed, 65535.0))
        v["spindle_speed"] = round(speed)
        load = speed / 6000.0
        self.drift = max(-2.0, min(2.0, self.drift + rng.gauss(0.0, 0.02 * math.sqrt(dt))))
        self.load_heat += (35.0 * load - self.load_heat) * min(1.0, dt / 30.0)
        noise = rng.gauss
        v["spindle_temperature"] = self.ambient + self.drift + self.load_heat + noise(0.0, 0.05)
        v["motor_temperature"] = self.ambient + self.drift + 0.8 * self.load_heat + 3.0 + noise(0.0, 0.05)
        v["bearing_temperature"] = self.ambient + self.drift + 0.6 * self.load_heat + noise(0.0, 0.08)
        cooling = 6.0 if v["coolant_pump"] else 0.0
        v["coolant_temperature"] = self.ambient + 0.3 * self.load_heat - cooling * 0.3 + noise(0.0, 0.03)
        power = (1500.0 + 0.9 * speed if speed > 1 else 150.0) + noise(0.0, 15.0)
        v["power"] = round(power)
        v["energy"] = float(v["energy"]) + power * dt / 3_600_000.0
        vibration = 0.3 + 2.0 * load + abs(noise(0.0, 0.05))
        self._age += dt
        wear = self.wear
        if wear is not None and self._age > wear.onset_s:
            worn = self._age - wear.onset_s
            vibration += wear.vibration_rate * worn + abs(noise(0.0, 0.002 * worn))
            heat = wear.temperature_rate * worn  # the bearing heats, and the motor end with it
            v["bearing_temperature"] = float(v["bearing_temperature"]) + heat
            v["motor_temperature"] = float(v["motor_temperature"]) + 0.5 * heat
            if self._age > wear.fault_s and rng.random() < dt / wear.impulse_every_s:
                vibration += wear.impulse
        v["vibration"] = round(min(vibration, 327.0), 2)  # int16 at scale 0.01
        v["running"] = speed > 1
        v["alarm"] = float(v["spindle_temperature"]) > float(v["temperature_limit"])
        if v["running"]:
            self._operating += dt
            v["operating_seconds"] = int(self._operating)
            self._cycle_elapsed += dt
            if self._cycle_elapsed >= float(v["cycle_time"]):
                self._cycle_elapsed = 0.0
                v["part_counter"] = (int(v["part_counter"]) + 1) & 0xFFFFFFFF
        v.update(self.pinned)

    def signal(self, name: str) -> Any:
        values = self.values
        if name == "status":
            return int(bool(values["running"])) | int(bool(values["alarm"])) << 1 | int(bool(values["door_open"])) << 2
        if name.startswith("status_"):  # a bit of the status word
            return bool(values[name.removeprefix("status_")])
        return values[name]


class SimulatedModbusDevice:
    """A pymodbus TCP server whose registers follow ``machines`` simulated machine tools.

    ``port=0`` picks a free port (read ``port`` after ``start``). Stopping and starting again
    keeps the machines' state, so a test can take the device away and bring it back.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, machines: int = 1, period_s: float = 0.2, seed: int = 1,
        wear: dict[int, BearingWear] | None = None,
    ) -> None:
        """``wear``: machines (by number) whose bearing degrades (the analytics demo)."""
        self.host = host
        self.port = port
        self.period_s = period_s
        self.machines = [Machine(number, seed, (wear or {}).get(number)) for number in range(1, machines + 1)]
        self.points = register_map(machines)
        self._codecs = {p.name: codec_for(p.modbus_point()) for p in self.points if p.area.endswith("register")}
        self._server: ModbusTcpServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def register_map(self) -> list[SimulatedPoint]:
        return list(self.points)

    async def start(self) -> None:
        if self._server is not None:
            return
        devices = [SimDevice(id=m.number, simdata=self._blocks(m)) for m in self.machines]
        server = ModbusTcpServer(devices, address=(self.host, self.port))
        await server.serve_forever(background=True)
        if server.transport is None:
            raise OSError(f"the simulated Modbus device could not listen on {self.host}:{self.port}")
        self.port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._server = server
        self._task = asyncio.create_task(self._run(), name="simulated modbus device")

    async def stop(self) -> None:
        """Close the listener and every client connection; the machines keep their state."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server, self._server = self._server, None
        if server is not None:
            await self._read_writables(server)
            await server.shutdown()

    async def pin(self, name: str, value: Any) -> None:
        """Hold ``machine<N>.<signal>`` at ``value`` (None releases it) and publish it at once."""
        point = next((p for p in self.points if p.name == name), None)
        if point is None:
            raise KeyError(f"the simulated device has no signal {name!r}")
        machine = self.machines[point.machine - 1]
        if value is None:
            machine.pinned.pop(point.signal, None)
            return
        machine.pinned[point.signal] = value
        machine.values[point.signal] = value
        if self._server is not None:
            await self._publish(self._server, machine)

    def value(self, name: str) -> Any:
        """The engineering value the device currently serves for ``machine<N>.<signal>``."""
        point = next(p for p in self.points if p.name == name)
        return self.machines[point.machine - 1].signal(point.signal)

    # ------------------------------------------------------------------ internals
    async def _run(self) -> None:
        server = self._server
        assert server is not None
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.period_s)
            now = time.monotonic()
            await self._read_writables(server)
            for machine in self.machines:
                machine.step(now - last)
                await self._publish(server, machine)
            last = now

    def _registers(self, machine: Machine, area: ModbusArea, size: int) -> list[int]:
        registers = [0] * size
        for point in self.points:
            if point.machine != machine.number or point.area != area or point.type == "bit":
                continue
            value = machine.signal(point.signal)
            raw = value if point.type == "string" else value / point.scale if point.scale != 1.0 else value
            encoded = self._codecs[point.name].encode(raw)
            registers[point.address : point.address + len(encoded)] = encoded
        return registers

    def _bits(self, machine: Machine, area: ModbusArea) -> list[bool]:
        bits = [False] * _BITS
        for point in self.points:
            if point.machine == machine.number and point.area == area:
                bits[point.address] = bool(machine.signal(point.signal))
        return bits

    def _blocks(self, machine: Machine) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        return (
            [SimData(0, values=self._bits(machine, "coil"), datatype=DataType.BITS)],
            [SimData(0, values=self._bits(machine, "discrete_input"), datatype=DataType.BITS)],
            [SimData(0, values=self._registers(machine, "holding_register", _HOLDING_REGISTERS),
                     datatype=DataType.REGISTERS)],
            [SimData(0, values=self._registers(machine, "input_register", _INPUT_REGISTERS),
                     datatype=DataType.REGISTERS)],
        )

    async def _publish(self, server: ModbusTcpServer, machine: Machine) -> None:
        unit = machine.number
        await server.async_setValues(
            unit, _FUNCTION["input_register"], 0, self._registers(machine, "input_register", _INPUT_REGISTERS))
        await server.async_setValues(unit, _FUNCTION["discrete_input"], 0, self._bits(machine, "discrete_input"))

    async def _read_writables(self, server: ModbusTcpServer) -> None:
        """Take over what clients wrote to holding registers and coils before the next step."""
        for machine in self.machines:
            unit = machine.number
            registers = await server.async_getValues(unit, _FUNCTION["holding_register"], 0, _HOLDING_REGISTERS)
            coils = await server.async_getValues(unit, _FUNCTION["coil"], 0, _BITS)
            for point in self.points:
                if point.machine != unit or not point.writable or point.signal in machine.pinned:
                    continue
                if point.area == "coil":
                    machine.values[point.signal] = bool(coils[point.address])
                else:
                    codec = self._codecs[point.name]
                    image = registers_to_bytes([int(r) for r in registers], codec.swapped)
                    raw = codec.decode(image, point.address)
                    machine.values[point.signal] = raw * point.scale if point.scale != 1.0 else raw
