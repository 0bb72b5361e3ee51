"""The simulated plant device, read through the real adapter: its register map is what it serves."""

from __future__ import annotations

from typing import Any

import pytest
from basyx.aas.model import datatypes

from tests.adapters.modbus_fixtures import SUBMODEL_ID, build_twin, eventually
from twinbridge.aas.quality import Quality
from twinbridge.adapters.config import Backoff, Binding, ElementTarget
from twinbridge.adapters.modbus.adapter import ModbusAdapter
from twinbridge.adapters.modbus.config import ModbusPollGroup, ModbusSource
from twinbridge.adapters.simulators.modbus_device import SimulatedModbusDevice, SimulatedPoint, register_map

VALUE_TYPES: dict[str, type] = {
    "float32": datatypes.Float, "float64": datatypes.Double, "uint16": datatypes.Int, "int16": datatypes.Int,
    "int32": datatypes.Int, "uint32": datatypes.Long, "uint64": datatypes.UnsignedLong,
    "bool": datatypes.Boolean, "bit": datatypes.Boolean, "string": datatypes.String,
}


def path(point: SimulatedPoint) -> str:
    return f"m{point.machine}_{point.signal}"


def value_type(point: SimulatedPoint) -> type:
    return datatypes.Double if point.scale != 1.0 else VALUE_TYPES[point.type]


def plant(device: SimulatedModbusDevice, interval_ms: int = 50) -> tuple[Any, ModbusAdapter]:
    points = device.register_map()
    twin = build_twin({path(p): value_type(p) for p in points})
    groups = {"default": ModbusPollGroup(interval_ms=interval_ms)}
    source = ModbusSource(name="sim", port=device.port, poll_groups=groups, backoff=Backoff(initial_s=0.05, max_s=0.2))
    bindings = [
        (f"bindings[{i}]", Binding(source="sim", writable=p.writable, modbus=p.modbus_point(),
                                   target=ElementTarget(shell="Machine", submodel="Signals", path=path(p))))
        for i, p in enumerate(points)
    ]
    return twin, ModbusAdapter(source, bindings, twin)


def test_register_map_is_documented_data() -> None:
    points = register_map(machines=2)
    assert len({p.name for p in points}) == len(points)
    assert {p.unit for p in points} == {1, 2}
    floats = [p for p in points if p.type == "float32" and p.area == "input_register" and p.machine == 1]
    assert sorted(p.order for p in floats) == ["ABCD", "BADC", "CDAB", "DCBA"]
    assert {p.area for p in points if p.writable} == {"holding_register", "coil"}


async def test_every_signal_reads_back_as_served() -> None:
    device = SimulatedModbusDevice(machines=2, period_s=3600)  # frozen: no step during the test
    await device.start()
    twin, adapter = plant(device)
    await adapter.start()
    try:
        await eventually(lambda: all(h.quality is Quality.GOOD for h in (p.handle for p in adapter.points)))
        for point in device.register_map():
            got = twin.element(SUBMODEL_ID, path(point)).value
            served = device.value(point.name)
            if point.type == "float32":
                assert got == pytest.approx(served, rel=1e-6), point.name
            elif point.scale != 1.0:
                assert got == pytest.approx(served, abs=point.scale / 2), point.name
            else:
                assert got == served, point.name
        await device.pin("machine2.spindle_temperature", 81.5)
        await eventually(lambda: twin.element(SUBMODEL_ID, "m2_spindle_temperature").value == 81.5)
    finally:
        await adapter.stop()
        await device.stop()


async def test_signals_move_and_follow_write_back() -> None:
    device = SimulatedModbusDevice(machines=1, period_s=0.05)
    await device.start()
    twin, adapter = plant(device)
    await adapter.start()

    def value(name: str) -> Any:
        return twin.element(SUBMODEL_ID, name).value

    try:
        await eventually(lambda: (value("m1_spindle_speed") or 0) > 100)
        first_energy = value("m1_energy")
        await eventually(lambda: value("m1_energy") > first_energy)
        await twin.write_value(twin.live(SUBMODEL_ID, "m1_run"), False)
        await eventually(lambda: value("m1_running") is False and value("m1_spindle_speed") == 0, timeout=15)
        assert value("m1_status_running") is False
        await twin.write_value(twin.live(SUBMODEL_ID, "m1_speed_setpoint"), 900)
        await twin.write_value(twin.live(SUBMODEL_ID, "m1_run"), True)
        await eventually(lambda: device.value("machine1.speed_setpoint") == 900)
        await eventually(lambda: value("m1_spindle_speed") > 100)
        await device.stop()
        await eventually(lambda: twin.live(SUBMODEL_ID, "m1_power").quality is Quality.BAD)
        await device.start()
        await eventually(lambda: twin.live(SUBMODEL_ID, "m1_power").quality is Quality.GOOD, timeout=10)
        assert device.value("machine1.speed_setpoint") == 900  # state survived the restart
    finally:
        await adapter.stop()
        await device.stop()
