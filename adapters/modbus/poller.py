"""One Modbus TCP connection per source and its poll groups.

Each poll group is an independent loop on its own interval. A cycle that outlasts its
interval is counted as an overrun and the missed ticks are skipped, so a slow device never
piles up queued reads. A lost connection ends the session: the shared connection supervisor
turns every point of the source Bad at once and reconnects with backoff; the next successful
read makes them Good.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from twinbridge.aas.errors import WriteRejected
from twinbridge.adapters.modbus.compat_pymodbus import exception_name, open_client
from twinbridge.adapters.modbus.config import ModbusSource
from twinbridge.adapters.modbus.plan import ReadRequest, split
from twinbridge.adapters.modbus.points import BIT_AREAS, Point
from twinbridge.adapters.modbus.registers import registers_to_bytes
from twinbridge.adapters.supervisor import describe, stop_tasks
from twinbridge.adapters.throttle import ThrottledLog

log = logging.getLogger("twinbridge.modbus")


@dataclass(slots=True)
class GroupStats:
    interval_s: float
    cycles: int = 0
    overruns: int = 0
    last_cycle_s: float = 0.0
    requests_per_cycle: int = 0
    recent_cycles_s: deque[float] = field(default_factory=lambda: deque(maxlen=1024))
    """Durations of the latest cycles, for percentiles (bounded: a long run does not grow it)."""


@dataclass(slots=True)
class PollStats:
    """Counters of one source, for operators and the benchmark.

    ``requests``: reads answered; ``errors``: Modbus exception answers among them; ``connects`` /
    ``disconnects``: sessions opened and lost; ``writes``: writes the device answered.
    """

    requests: int = 0
    errors: int = 0
    connects: int = 0
    disconnects: int = 0
    writes: int = 0
    groups: dict[str, GroupStats] = field(default_factory=dict)

    @property
    def overruns(self) -> int:
        return sum(group.overruns for group in self.groups.values())

    def as_dict(self) -> dict[str, object]:
        """A plain-data view of the counters (for logs, health endpoints and the benchmark)."""
        return {
            "requests": self.requests, "errors": self.errors, "connects": self.connects,
            "disconnects": self.disconnects, "writes": self.writes, "overruns": self.overruns,
            "groups": {
                name: {"interval_s": g.interval_s, "cycles": g.cycles, "overruns": g.overruns,
                       "last_cycle_s": g.last_cycle_s, "requests_per_cycle": g.requests_per_cycle}
                for name, g in self.groups.items()
            },
        }


class ConnectionLost(Exception):
    """The device stopped answering; the supervisor reconnects."""


class ModbusPoller:
    """Polls ``groups`` (name → (interval in s, requests)) over one connection to ``source``.

    It is the source's supervised ``Link``: ``open`` connects, ``serve`` returns when a read or
    write finds the connection dead (with the reason), ``close`` drops the client. The poll loops
    run from ``start_polling`` to ``stop_polling`` and wait while there is no connection.
    """

    def __init__(
        self, source: ModbusSource, groups: dict[str, tuple[float, list[ReadRequest]]],
        points: Sequence[Point], throttle: ThrottledLog,
    ) -> None:
        self.source = source
        self.groups = groups
        self.points = points
        self.throttle = throttle
        self.stats = PollStats(groups={name: GroupStats(interval) for name, (interval, _) in groups.items()})
        self._client: AsyncModbusTcpClient | None = None
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # ---------------------------------------------------------------- poll loops
    def start_polling(self) -> None:
        if self._tasks:
            return
        self._stopping = False
        for group, (interval, requests) in self.groups.items():
            task = asyncio.create_task(self._poll(group, interval, requests), name=f"modbus {self.source.name} {group}")
            self._tasks.append(task)

    async def stop_polling(self) -> None:
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        await stop_tasks(tasks, f"Modbus source {self.source.name!r} polling")

    # ---------------------------------------------------------------- the link
    async def open(self) -> None:
        client = open_client(self.source.host, self.source.port, self.source.name, self.source.timeout_s)
        try:
            ok = await client.connect()
        except (OSError, ModbusException) as error:
            client.close()
            raise ConnectionError(describe(error)) from None
        if not ok:
            client.close()
            raise ConnectionError("the device did not accept the connection")
        self._client = client
        self.stats.connects += 1
        self._lost_reason = ""
        self._lost.clear()
        self._connected.set()

    async def serve(self) -> str:
        await self._lost.wait()
        self.stats.disconnects += 1
        return self._lost_reason

    async def close(self) -> None:
        self._connected.clear()
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _connection_lost(self, error: BaseException) -> ConnectionLost:
        # cleared here, not only by the supervisor, so no poll loop retries a dead client meanwhile
        self._connected.clear()
        if not self._lost.is_set():
            self._lost_reason = describe(error)
            self._lost.set()
        return ConnectionLost(str(error))

    # ---------------------------------------------------------------- polling
    async def _poll(self, group: str, interval: float, requests: list[ReadRequest]) -> None:
        stats = self.stats.groups[group]
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while not self._stopping:
            if not self._connected.is_set():
                await self._connected.wait()
                next_tick = loop.time()
            start = loop.time()
            try:
                for request in list(requests):
                    await self._read(request, requests)
            except ConnectionLost:
                continue
            now = loop.time()
            elapsed = now - start
            stats.cycles += 1
            stats.last_cycle_s = elapsed
            stats.recent_cycles_s.append(elapsed)
            stats.requests_per_cycle = len(requests)
            if elapsed > interval:
                stats.overruns += 1
                self.throttle.warning(
                    (self.source.name, group),
                    f"Modbus source {self.source.name!r} poll group {group!r}: a cycle took {elapsed:.3f} s, "
                    f"longer than its {interval:g} s interval; skipping the missed ticks",
                )
            # ticks stay on a fixed grid; a late cycle skips the ticks it missed instead of queueing them
            next_tick += interval
            if now >= next_tick:
                next_tick += interval * ((now - next_tick) // interval + 1)
            await asyncio.sleep(next_tick - now)

    async def _read(self, request: ReadRequest, requests: list[ReadRequest]) -> None:
        client = self._client
        if client is None:
            raise self._connection_lost(RuntimeError("not connected"))
        area = request.area
        try:
            if area == "holding_register":
                response = await client.read_holding_registers(
                    request.address, count=request.count, device_id=request.unit)
            elif area == "input_register":
                response = await client.read_input_registers(
                    request.address, count=request.count, device_id=request.unit)
            elif area == "coil":
                response = await client.read_coils(request.address, count=request.count, device_id=request.unit)
            else:
                response = await client.read_discrete_inputs(
                    request.address, count=request.count, device_id=request.unit)
        except (TimeoutError, ModbusException, OSError) as error:
            raise self._connection_lost(error) from None
        self.stats.requests += 1
        timestamp = time.time()
        if response.isError():
            self.stats.errors += 1
            reason = exception_name(getattr(response, "exception_code", None))
            index = next((i for i, r in enumerate(requests) if r is request), None)
            if index is not None and len(request.points) > 1:
                parts = split(request)
                if len(parts) > 1:
                    requests[index : index + 1] = parts
                    log.info(
                        "Modbus source %r unit %d answered %s to a read of %d %ss at %d; "
                        "reading its points one by one from now on",
                        self.source.name, request.unit, reason, request.count, area, request.address,
                    )
                    for part in parts:
                        await self._read(part, requests)
                    return
            for point, _ in request.points:
                point.fail(f"the device answered {reason}", timestamp)
            return
        if area in BIT_AREAS:
            self._apply_bits(request, response.bits, timestamp)
        else:
            self._apply_registers(request, response.registers, timestamp)

    def _apply_registers(self, request: ReadRequest, registers: Sequence[int], timestamp: float) -> None:
        if len(registers) < request.count:
            for point, _ in request.points:
                point.fail(f"short response: {len(registers)} of {request.count} registers", timestamp)
            return
        plain = registers_to_bytes(registers, False) if request.plain_image else b""
        swapped = registers_to_bytes(registers, True) if request.swapped_image else b""
        for point, offset in request.points:
            codec = point.codec
            assert codec is not None
            try:
                raw = codec.decode(swapped if codec.swapped else plain, offset)
            except (ValueError, UnicodeDecodeError) as error:
                point.fail(f"cannot decode a {codec.kind}: {error}", timestamp)
                continue
            point.accept(raw, timestamp)

    def _apply_bits(self, request: ReadRequest, bits: Sequence[bool], timestamp: float) -> None:
        if len(bits) < request.count:
            for point, _ in request.points:
                point.fail(f"short response: {len(bits)} of {request.count} bits", timestamp)
            return
        for point, offset in request.points:
            point.accept(bool(bits[offset]), timestamp)

    # ---------------------------------------------------------------- writing
    async def write(self, point: Point, payload: list[int] | bool | tuple[int, int]) -> None:
        """Send a write: registers, a coil state, or (and_mask, or_mask) for a bit in a register.

        Raises WriteRejected with the device's reason; the client's write is refused with it.
        """
        client = self._client
        if client is None or not self._connected.is_set():
            raise WriteRejected(f"{point.where()}: not connected, the write was not sent")
        unit = point.unit
        try:
            if isinstance(payload, bool):
                response = await client.write_coil(point.address, payload, device_id=unit)
            elif isinstance(payload, tuple):
                response = await client.mask_write_register(
                    address=point.address, and_mask=payload[0], or_mask=payload[1], device_id=unit)
            elif len(payload) == 1:
                response = await client.write_register(point.address, payload[0], device_id=unit)
            else:
                response = await client.write_registers(point.address, payload, device_id=unit)
        except (TimeoutError, ModbusException, OSError) as error:
            self._connection_lost(error)
            raise WriteRejected(f"{point.where()}: the write failed: {error}") from None
        self.stats.writes += 1
        if response.isError():
            reason = exception_name(getattr(response, "exception_code", None))
            raise WriteRejected(f"{point.where()}: the device refused the write with {reason}")
