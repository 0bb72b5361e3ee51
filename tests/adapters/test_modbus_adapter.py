"""The Modbus adapter against a real pymodbus device server on a free port."""

from __future__ import annotations

import asyncio
import math
import struct
from typing import Any

import pytest
from basyx.aas.model import datatypes

from tests.adapters.modbus_fixtures import SUBMODEL_ID, DeviceServer, build_twin, device, eventually
from tests.adapters.test_modbus_registers import FORMATS, ORDERS, layout
from twinbridge.aas.errors import NotWritable, WriteRejected
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.adapters import float32
from twinbridge.adapters.binding import BindingError
from twinbridge.adapters.config import Backoff, Binding, ElementTarget
from twinbridge.adapters.modbus.adapter import ModbusAdapter
from twinbridge.adapters.modbus.config import ModbusPoint, ModbusPollGroup, ModbusSource

__all__ = ["device"]

VALUE_TYPES: dict[str, type] = {
    "int16": datatypes.Short, "uint16": datatypes.UnsignedShort, "int32": datatypes.Int,
    "uint32": datatypes.UnsignedInt, "int64": datatypes.Long, "uint64": datatypes.UnsignedLong,
    "float32": datatypes.Float, "float64": datatypes.Double,
}
VALUES: dict[str, Any] = {
    "int16": -32768, "uint16": 65535, "int32": -2_000_000_001, "uint32": 4_000_000_001,
    "int64": -9_000_000_000_000_000_001, "uint64": 18_000_000_000_000_000_001,
    "float32": -273.15, "float64": 6.02214076e23,
}


def source(port: int, interval_ms: int = 50, **extra: Any) -> ModbusSource:
    groups = extra.pop("poll_groups", {"default": ModbusPollGroup(interval_ms=interval_ms)})
    return ModbusSource(name="press", port=port, timeout_s=0.5, poll_groups=groups,
                        backoff=Backoff(initial_s=0.05, max_s=0.2), **extra)


def binding(path: str, writable: bool = False, **point: Any) -> Binding:
    return Binding(source="press", target=ElementTarget(shell="Machine", submodel="Signals", path=path),
                   writable=writable, modbus=ModbusPoint(**point))


def named(bindings: list[Binding]) -> list[tuple[str, Binding]]:
    return [(f"bindings[{i}]", b) for i, b in enumerate(bindings)]


def value(twin: Twin, path: str) -> Any:
    return twin.element(SUBMODEL_ID, path).value  # type: ignore[attr-defined]


def quality(twin: Twin, path: str) -> Quality:
    return twin.live(SUBMODEL_ID, path).quality


async def test_every_type_and_order_decodes_exactly(device: DeviceServer) -> None:
    properties: dict[str, type] = {}
    bindings: list[Binding] = []
    address = 0
    expected: dict[str, Any] = {}
    for kind, fmt in FORMATS.items():
        for order in ORDERS:
            name = f"{kind}_{order}"
            big = struct.pack(">" + fmt, VALUES[kind])
            await device.set("holding_register", address, layout(big, order))
            properties[name] = VALUE_TYPES[kind]
            bindings.append(binding(name, address=address, type=kind, order=order))
            expected[name] = struct.unpack(">" + fmt, big)[0]
            if kind == "float32":  # the shortest decimal that reads back as the same float32
                expected[name] = float32.shortest(expected[name])
            address += len(big) // 2
        address += 3  # a hole between types: the plan must not read across it
    for order in ORDERS:
        name = f"string_{order}"
        await device.set("input_register", 20 + 4 * ORDERS.index(order), layout(b"Press-07", order))
        properties[name] = datatypes.String
        bindings.append(binding(name, area="input_register", address=20 + 4 * ORDERS.index(order),
                                type="string", length=4, order=order))
        expected[name] = "Press-07"
    await device.set("holding_register", 300, [0b1000_0000_0000_0010, 7])
    await device.set("holding_register", 302, [(-123) & 0xFFFF])
    await device.set("coil", 5, [True])
    await device.set("discrete_input", 9, [True], unit=2)
    extras: dict[str, tuple[type, dict[str, Any], Any]] = {
        "bit1": (datatypes.Boolean, {"address": 300, "type": "bit", "bit": 1}, True),
        "bit15": (datatypes.Boolean, {"address": 300, "type": "bit", "bit": 15}, True),
        "bit0": (datatypes.Boolean, {"address": 300, "type": "bit", "bit": 0}, False),
        "register_bool": (datatypes.Boolean, {"address": 301, "type": "bool"}, True),
        "scaled": (datatypes.Double, {"address": 302, "type": "int16", "scale": 0.1, "offset": 5}, -7.3),
        "coil": (datatypes.Boolean, {"area": "coil", "address": 5, "type": "bool"}, True),
        "input_unit2": (datatypes.Boolean, {"area": "discrete_input", "address": 9, "type": "bool", "unit": 2}, True),
        "as_text": (datatypes.String, {"address": 301}, "7"),
    }
    for name, (value_type, point, result) in extras.items():
        properties[name] = value_type
        bindings.append(binding(name, **point))
        expected[name] = result
    twin = build_twin(properties)
    adapter = ModbusAdapter(source(device.port), named(bindings), twin)
    await adapter.start()
    try:
        await eventually(lambda: all(quality(twin, name) is Quality.GOOD for name in properties))
        for name, wanted in expected.items():
            got = value(twin, name)
            if name == "scaled":
                assert got == pytest.approx(wanted)
            else:
                assert got == wanted, name
                assert type(got) is properties[name] or isinstance(got, properties[name]), name
    finally:
        await adapter.stop()


async def test_coalescing_issues_the_expected_requests() -> None:
    points: list[dict[str, Any]] = [{"address": a, "type": "uint64"} for a in range(0, 128, 4)]  # 0..127
    points += [
        {"address": 7, "type": "bit", "bit": 3}, {"address": 7},  # inside the run: no extra read
        {"address": 300},  # a hole wider than the gap: a new read
        {"area": "input_register", "address": 0}, {"area": "input_register", "address": 1},
        {"address": 0, "unit": 2},  # another unit: its own read
    ]
    points += [{"area": "coil", "address": a, "type": "bool"} for a in range(0, 2001, 100)]  # 0..2000
    properties = {f"p{i}": datatypes.Boolean if p.get("type") in ("bit", "bool") else datatypes.Double
                  for i, p in enumerate(points)}
    device = DeviceServer(units=(1, 2), size=2048)
    await device.start()
    twin = build_twin(properties)
    bindings = [binding(f"p{i}", **point) for i, point in enumerate(points)]
    adapter = ModbusAdapter(source(device.port, interval_ms=60_000, coalesce_gap=99), named(bindings), twin)
    await adapter.start()
    try:
        await eventually(lambda: adapter.stats.groups["default"].cycles >= 1)
        assert all(quality(twin, name) is Quality.GOOD for name in properties)
    finally:
        await adapter.stop()
        await device.stop()
    assert sorted(device.reads()) == sorted([
        (3, 1, 0, 124), (3, 1, 124, 4),  # 128 registers do not fit the 125-register limit
        (3, 1, 300, 1), (4, 1, 0, 2), (3, 2, 0, 1),
        (1, 1, 0, 1901), (1, 1, 2000, 1),  # nor 2001 bits the 2000-bit limit
    ])
    assert adapter.stats.requests == 7


async def test_a_gap_setting_joins_nearby_points(device: DeviceServer) -> None:
    twin = build_twin({"a": datatypes.Int, "b": datatypes.Int, "c": datatypes.Int})
    bindings = [binding("a", address=10), binding("b", address=15), binding("c", address=40)]
    adapter = ModbusAdapter(source(device.port, interval_ms=60_000, coalesce_gap=8), named(bindings), twin)
    await adapter.start()
    try:
        await eventually(lambda: adapter.stats.groups["default"].cycles >= 1)
    finally:
        await adapter.stop()
    assert sorted(device.reads()) == [(3, 1, 10, 6), (3, 1, 40, 1)]


async def test_poll_groups_run_on_their_own_intervals(device: DeviceServer) -> None:
    twin = build_twin({"fast": datatypes.Int, "slow": datatypes.Int})
    groups = {"fast": ModbusPollGroup(interval_ms=20), "slow": ModbusPollGroup(interval_ms=60_000)}
    bindings = [binding("fast", address=1, poll_group="fast"), binding("slow", address=2, poll_group="slow")]
    adapter = ModbusAdapter(source(device.port, poll_groups=groups), named(bindings), twin)
    await adapter.start()
    try:
        await eventually(lambda: adapter.stats.groups["fast"].cycles >= 5 and adapter.stats.groups["slow"].cycles >= 1)
        assert adapter.stats.groups["slow"].cycles == 1
        assert [r for r in device.reads() if r[2] == 2] == [(3, 1, 2, 1)]
    finally:
        await adapter.stop()


async def test_exception_responses_and_bad_values_stay_per_point() -> None:
    server = DeviceServer(invalid=[("holding_register", 5)])
    await server.start()
    try:
        await server.set("holding_register", 4, [11])
        await server.set("holding_register", 6, [13, 40_000])
        twin = build_twin({"a": datatypes.Int, "hole": datatypes.Int, "c": datatypes.Int,
                           "too_big": datatypes.Byte})
        bindings = [binding("a", address=4), binding("hole", address=5), binding("c", address=6),
                    binding("too_big", address=7)]
        adapter = ModbusAdapter(source(server.port), named(bindings), twin)
        await adapter.start()
        try:
            await eventually(lambda: quality(twin, "c") is Quality.GOOD)
            await eventually(lambda: adapter.stats.groups["default"].cycles >= 3)
            assert (value(twin, "a"), value(twin, "c")) == (11, 13)
            assert quality(twin, "a") is Quality.GOOD
            assert quality(twin, "hole") is Quality.BAD
            assert quality(twin, "too_big") is Quality.BAD
            assert value(twin, "too_big") is None  # nothing was stored
            # the joined read was refused once, then the device only sees per-point reads
            reads = server.reads()
            assert reads[0] == (3, 1, 4, 4)
            assert (3, 1, 4, 4) not in reads[1:]
            assert {(3, 1, 4, 1), (3, 1, 5, 1), (3, 1, 6, 1), (3, 1, 7, 1)} <= set(reads[1:])
            assert adapter.stats.errors >= 1
        finally:
            await adapter.stop()
    finally:
        await server.stop()


async def test_write_back_changes_the_device(device: DeviceServer) -> None:
    twin = build_twin({
        "speed": datatypes.Double, "limit": datatypes.Float, "count": datatypes.Int, "run": datatypes.Boolean,
        "flag": datatypes.Boolean, "name": datatypes.String, "measured": datatypes.Int,
    })
    await device.set("holding_register", 20, [0b0000_0000_0000_0001])
    bindings = [
        binding("speed", True, address=0, type="uint16", scale=0.5, offset=10),
        binding("limit", True, address=2, type="float32", order="CDAB"),
        binding("count", True, address=4, type="int32", order="BADC"),
        binding("run", True, area="coil", address=3, type="bool"),
        binding("flag", True, address=20, type="bit", bit=4),
        binding("name", True, address=30, type="string", length=3),
        binding("measured", address=40),
    ]
    adapter = ModbusAdapter(source(device.port), named(bindings), twin)
    await adapter.start()
    try:
        await eventually(lambda: all(h.quality is Quality.GOOD for h in (p.handle for p in adapter.points)))

        def handle(path: str) -> Any:
            return twin.live(SUBMODEL_ID, path)

        await twin.write_value(handle("speed"), 1510.0)
        assert await device.get("holding_register", 0) == [3000]
        await twin.write_value(handle("limit"), -1.5)
        assert await device.get("holding_register", 2, 2) == layout(struct.pack(">f", -1.5), "CDAB")
        await twin.write_value(handle("count"), -70_000)
        assert await device.get("holding_register", 4, 2) == layout(struct.pack(">i", -70_000), "BADC")
        await twin.write_value(handle("run"), True)
        assert await device.get("coil", 3) == [True]
        await twin.write_value(handle("flag"), True)
        assert await device.get("holding_register", 20) == [0b0000_0000_0001_0001]  # bit 0 kept
        await twin.write_value(handle("name"), "ok!")
        assert await device.get("holding_register", 30, 3) == [0x6F6B, 0x2100, 0]
        assert value(twin, "speed") == 1510.0

        with pytest.raises(WriteRejected, match=r"outside the uint16 range"):
            await twin.write_value(handle("speed"), 1e6)
        assert await device.get("holding_register", 0) == [3000]  # unchanged
        with pytest.raises(WriteRejected, match="do not fit 3 registers"):
            await twin.write_value(handle("name"), "far too long")
        with pytest.raises(NotWritable):
            await twin.write_value(handle("measured"), 5)
        await eventually(lambda: value(twin, "flag") is True and value(twin, "run") is True)
    finally:
        await adapter.stop()


async def test_device_stop_turns_bad_and_restart_recovers(device: DeviceServer) -> None:
    interval = 0.5
    twin = build_twin({"temperature": datatypes.Float, "count": datatypes.Int})
    await device.set("holding_register", 0, layout(struct.pack(">f", 21.5), "ABCD"))
    bindings = [binding("temperature", type="float32", address=0), binding("count", address=9)]
    adapter = ModbusAdapter(source(device.port, interval_ms=int(interval * 1000)), named(bindings), twin)
    await adapter.start()
    try:
        await eventually(lambda: quality(twin, "temperature") is Quality.GOOD)
        assert value(twin, "temperature") == 21.5
        await device.stop()
        await eventually(lambda: quality(twin, "temperature") is Quality.BAD and quality(twin, "count") is Quality.BAD,
                         timeout=2 * interval)
        assert value(twin, "temperature") == 21.5  # kept, but no longer claimed Good
        await asyncio.sleep(0.3)  # a few failed reconnects with backoff
        await device.start()  # same port
        await device.set("holding_register", 0, layout(struct.pack(">f", 22.25), "ABCD"))
        await eventually(lambda: quality(twin, "temperature") is Quality.GOOD, timeout=10)
        await eventually(lambda: value(twin, "temperature") == 22.25)
        assert adapter.stats.connects >= 2 and adapter.stats.disconnects >= 1
    finally:
        await adapter.stop()


async def test_unreachable_device_at_start_is_bad_not_a_crash() -> None:
    server = DeviceServer()
    await server.start()
    port = server.port
    await server.stop()  # the port is now closed
    twin = build_twin({"x": datatypes.Int})
    adapter = ModbusAdapter(source(port), named([binding("x", address=0)]), twin)
    assert quality(twin, "x") is Quality.UNCERTAIN  # bound, no value yet
    await adapter.start()
    try:
        await eventually(lambda: quality(twin, "x") is Quality.BAD)
        with pytest.raises(WriteRejected, match="not connected"):
            await adapter.poller.write(adapter.points[0], [1])
    finally:
        await adapter.stop()


async def test_deadband_and_one_based_addresses(device: DeviceServer) -> None:
    twin = build_twin({"level": datatypes.Double})
    await device.set("holding_register", 9, [1000])
    bindings = [binding("level", address=10, deadband=5.0, scale=0.1)]  # one-based 10 = protocol 9
    adapter = ModbusAdapter(source(device.port, interval_ms=20, one_based=True), named(bindings), twin)
    await adapter.start()
    try:
        await eventually(lambda: value(twin, "level") == 100.0)
        await device.set("holding_register", 9, [1040])  # +4.0: inside the deadband
        cycles = adapter.stats.groups["default"].cycles
        await eventually(lambda: adapter.stats.groups["default"].cycles >= cycles + 3)
        assert value(twin, "level") == 100.0
        await device.set("holding_register", 9, [1060])  # +6.0: reported
        await eventually(lambda: value(twin, "level") == pytest.approx(106.0))
    finally:
        await adapter.stop()


async def test_overruns_skip_ticks_instead_of_piling_up(device: DeviceServer) -> None:
    twin = build_twin({f"p{i}": datatypes.Int for i in range(150)})
    bindings = [binding(f"p{i}", address=3 * i) for i in range(150)]  # 150 separate reads per cycle
    adapter = ModbusAdapter(source(device.port, interval_ms=10), named(bindings), twin)
    loop = asyncio.get_running_loop()
    await adapter.start()
    started = loop.time()
    try:
        await eventually(lambda: adapter.stats.groups["default"].cycles >= 3, timeout=20)
    finally:
        await adapter.stop()
    elapsed = loop.time() - started
    group = adapter.stats.groups["default"]
    assert group.overruns >= 1 and group.last_cycle_s > 0.010
    # every cycle read all 150 points once: no queued extra cycles
    assert len(device.reads()) <= 150 * (group.cycles + 1)
    assert group.cycles <= math.ceil(elapsed / 0.010) + 1


def test_binding_errors_name_the_binding() -> None:
    twin = build_twin({"x": datatypes.Int})
    cases = [
        (binding("nope", address=0), r"bindings\[1\]: .*'nope'"),
        (binding("x", True, area="input_register", address=0), r"bindings\[1\]: writable, but Modbus cannot"),
        (binding("x", address=0, poll_group="fast"), r"bindings\[1\]: poll group 'fast' is not declared"),
        (binding("x", address=0, type="string", length=2), r"bindings\[1\]: a string point needs a string"),
        (Binding(source="other", target=ElementTarget(shell="Machine", submodel="Signals", path="x"),
                 modbus=ModbusPoint(address=0)), r"bindings\[1\]: belongs to source 'other'"),
    ]
    for bad, message in cases:
        with pytest.raises(BindingError, match=message):
            ModbusAdapter(source(1502), named([binding("x", address=1), bad]), twin)
    with pytest.raises(BindingError, match=r"bindings\[0\]: address 0 does not exist"):
        ModbusAdapter(source(1502, one_based=True), named([binding("x", address=0)]), twin)
    assert not twin.is_bound(twin.live(SUBMODEL_ID, "x"))  # a failed start-up binds nothing


async def test_the_device_has_the_last_word_after_a_write(device: DeviceServer) -> None:
    twin = build_twin({"setpoint": datatypes.Int})
    await device.set("holding_register", 0, [100])
    adapter = ModbusAdapter(source(device.port, interval_ms=20), named([binding("setpoint", True, address=0)]), twin)
    await adapter.start()
    try:
        await eventually(lambda: value(twin, "setpoint") == 100)
        await twin.write_value(twin.live(SUBMODEL_ID, "setpoint"), 200)
        await device.set("holding_register", 0, [100])  # the device clamps it back
        await eventually(lambda: value(twin, "setpoint") == 100)
        assert await device.get("holding_register", 0) == [100]
    finally:
        await adapter.stop()
    assert quality(twin, "setpoint") is Quality.BAD  # no longer kept current
    assert value(twin, "setpoint") == 100
