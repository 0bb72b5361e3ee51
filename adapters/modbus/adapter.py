"""The Modbus TCP adapter of one source: bindings resolved at start-up, polled, written back.

Addresses: a point's ``address`` is the protocol address (0-based, as on the wire) unless the
source sets ``one_based``, in which case address 1 is protocol address 0 (the numbering of
many device manuals). The area is always its own field; 40001-style prefixes are not used.

Bad input is caught before anything runs: a binding whose target does not resolve, whose
poll group is undeclared, whose span leaves the address space, or which is writable on a
read-only area (input registers, discrete inputs) raises ``BindingError`` naming the binding.
At run time a value that cannot be decoded or converted turns Bad (keeping its last value)
with a rate-limited log line naming source, unit, address and binding; the rest of the source
keeps polling. A Modbus exception answer to a coalesced read splits that read into per-point
reads, so only the offending point turns Bad.

Quality: Uncertain from binding until the first read; Good on every stored read; Bad for every
point of the source as soon as the connection is lost or cannot be made (the last value stays,
flagged Bad; the reason is in ``connection.reason``), Good again on the first successful read
after reconnecting. Reconnection is the shared ``ConnectionSupervisor``'s. A device that stops
answering without closing the connection turns Bad after ``timeout_s``. An unchanged value (or
one within the deadband) is not stored again, so it produces no change event.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from twinbridge.aas.errors import WriteRejected
from twinbridge.aas.live import DeviceWriter
from twinbridge.aas.twin import Twin
from twinbridge.adapters.binding import BindingError, resolve_target
from twinbridge.adapters.coerce import converter_for
from twinbridge.adapters.config import Binding
from twinbridge.adapters.modbus.config import ModbusPoint, ModbusSource
from twinbridge.adapters.modbus.plan import ReadRequest, plan_reads
from twinbridge.adapters.modbus.points import BIT_AREAS, Point, log
from twinbridge.adapters.modbus.poller import ModbusPoller, PollStats
from twinbridge.adapters.modbus.registers import codec_for, register_span
from twinbridge.adapters.supervisor import ConnectionSupervisor
from twinbridge.adapters.throttle import ThrottledLog

WRITABLE_AREAS = frozenset(("holding_register", "coil"))
_INTEGER_TYPES = frozenset(("int16", "uint16", "int32", "uint32", "int64", "uint64"))


class ModbusAdapter:
    """Feeds the twin from one Modbus TCP source; ``bindings`` are (name, binding) pairs."""

    def __init__(self, source: ModbusSource, bindings: Sequence[tuple[str, Binding]], twin: Twin) -> None:
        self.source = source
        self.twin = twin
        self.throttle = ThrottledLog(log, interval_s=60.0)
        self.points: list[Point] = []
        by_group: dict[str, list[Point]] = {}
        writable: list[bool] = []
        for name, binding in bindings:
            spec = binding.point("modbus", ModbusPoint)
            point = self._point(name, binding, spec)
            self.points.append(point)
            writable.append(binding.writable)
            assert spec is not None  # checked by _point
            by_group.setdefault(spec.poll_group, []).append(point)
        groups: dict[str, tuple[float, list[ReadRequest]]] = {
            group: (source.poll_groups[group].interval_ms / 1000.0, plan_reads(members, source.coalesce_gap))
            for group, members in by_group.items()
        }
        self.poller = ModbusPoller(source, groups, self.points, self.throttle)
        self._supervisor = ConnectionSupervisor(
            f"Modbus source {source.name!r} at {source.host}:{source.port}", self.poller, source.backoff,
            on_up=lambda: None, on_down=self._all_bad,
        )
        for point, can_write in zip(self.points, writable, strict=True):
            twin.bind(point.handle, self._writer(point) if can_write else None)

    @property
    def stats(self) -> PollStats:
        """Requests, errors, overruns and cycle times of this source (live counters)."""
        return self.poller.stats

    @property
    def connection(self) -> ConnectionSupervisor:
        return self._supervisor

    @property
    def connected(self) -> bool:
        return self._supervisor.connected

    async def start(self) -> None:
        self.poller.start_polling()
        await self._supervisor.start()

    async def stop(self) -> None:
        """Stop polling; the points' values stay but turn Bad, since nothing keeps them current."""
        await self.poller.stop_polling()
        await self._supervisor.stop()
        now = time.time()
        for point in self.points:
            point.fail("the adapter stopped", now, quiet=True)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await self._supervisor.wait_connected(timeout)

    def _all_bad(self, reason: str) -> None:
        """The device is unreachable: every point turns Bad at once (the supervisor logged why)."""
        now = time.time()
        for point in self.points:
            point.fail(reason, now, quiet=True)

    # ------------------------------------------------------------------ set-up
    def _point(self, name: str, binding: Binding, spec: ModbusPoint | None) -> Point:
        source = self.source
        if binding.source != source.name:
            raise BindingError(f"{name}: belongs to source {binding.source!r}, not {source.name!r}")
        if spec is None:
            raise BindingError(f"{name}: source {source.name!r} is Modbus, the binding needs 'modbus'")
        if spec.poll_group not in source.poll_groups:
            raise BindingError(f"{name}: poll group {spec.poll_group!r} is not declared by {source.name!r}")
        address = spec.address - 1 if source.one_based else spec.address
        span = register_span(spec)
        if address < 0:
            raise BindingError(f"{name}: address 0 does not exist, source {source.name!r} counts from 1")
        if address + span - 1 > 65535:
            raise BindingError(f"{name}: a {spec.type} at {spec.address} runs past the last address")
        if binding.writable and spec.area not in WRITABLE_AREAS:
            raise BindingError(f"{name}: writable, but Modbus cannot write a {spec.area}")
        handle = resolve_target(self.twin, binding.target, name)
        value_type = handle.value_type
        assert value_type is not None  # resolve_target only returns Properties
        if spec.type == "string" and not issubclass(value_type, str):
            raise BindingError(f"{name}: a string point needs a string Property, {binding.target.path!r} "
                               f"is {value_type.__name__}")
        target = f"{binding.target.shell}/{binding.target.submodel}/{binding.target.path}"
        return Point(
            name=name, target=target, source=source.name, unit=spec.unit if spec.unit is not None else source.unit,
            area=spec.area, address=address, span=span,
            codec=None if spec.area in BIT_AREAS else codec_for(spec),
            scale=spec.scale, offset=spec.offset, deadband=spec.deadband,
            convert=converter_for(value_type), handle=handle, twin=self.twin, throttle=self.throttle,
            label=f"{spec.address} (protocol address {address})" if source.one_based else str(address),
        )

    def _writer(self, point: Point) -> DeviceWriter:
        """The DeviceWriter of a writable point: the inverse of its read path."""
        poller = self.poller
        codec = point.codec

        async def write(value: Any) -> None:
            if value is None:
                raise WriteRejected(f"{point.where()}: cannot write an empty value to a device")
            if codec is None:
                await poller.write(point, bool(value))
                return
            if codec.kind == "bit":
                mask = 1 << codec.bit
                await poller.write(point, (0xFFFF & ~mask, mask if value else 0))
                return
            await poller.write(point, encode_value(point, value))

        return write


def encode_value(point: Point, value: Any) -> list[int]:
    """Registers for an engineering ``value``: undo scale and offset, then encode; WriteRejected if it won't fit."""
    codec = point.codec
    assert codec is not None
    raw: Any = value
    try:
        if codec.kind not in ("string", "bool"):
            if point.scaled:
                raw = (float(value) - point.offset) / point.scale
            if codec.kind in _INTEGER_TYPES:
                if isinstance(raw, float):
                    if not math.isfinite(raw):
                        raise ValueError(f"{raw} is not a number a register can hold")
                    raw = round(raw)
                raw = int(raw)
            else:
                raw = float(raw)
        return codec.encode(raw)
    except (TypeError, ValueError) as error:
        raise WriteRejected(f"{point.where()}: {value!r} cannot be written as a {codec.kind}: {error}") from None
