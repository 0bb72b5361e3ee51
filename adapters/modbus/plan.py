"""Coalescing points into as few Modbus read requests as the protocol allows.

Points of one poll group are grouped by unit and area, sorted by address, and joined while
the joined span stays within the protocol limit (125 registers or 2000 bits per request)
and the hole between them is at most ``gap``. A device that answers a joined read with an
exception (a hole it does not implement, say) gets that request split into one read per
point, so one bad address cannot blank its neighbours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from twinbridge.adapters.modbus.config import ModbusArea
from twinbridge.adapters.modbus.points import BIT_AREAS, Point

MAX_REGISTERS = 125
MAX_BITS = 2000


@dataclass(slots=True, eq=False)
class ReadRequest:
    """One read: ``points`` pairs each point with its offset (registers or bits) from ``address``."""

    unit: int
    area: ModbusArea
    address: int
    count: int
    points: list[tuple[Point, int]] = field(default_factory=list)
    plain_image: bool = False
    swapped_image: bool = False

    def add(self, point: Point) -> None:
        self.points.append((point, point.address - self.address))
        self.count = max(self.count, point.address + point.span - self.address)
        codec = point.codec
        if codec is not None:
            if codec.swapped:
                self.swapped_image = True
            else:
                self.plain_image = True


def limit_of(area: ModbusArea) -> int:
    return MAX_BITS if area in BIT_AREAS else MAX_REGISTERS


def plan_reads(points: Iterable[Point], gap: int = 0) -> list[ReadRequest]:
    """The fewest requests covering ``points`` (one poll group) within the protocol limits."""
    by_key: dict[tuple[int, str], list[Point]] = {}
    for point in points:
        by_key.setdefault((point.unit, point.area), []).append(point)
    requests: list[ReadRequest] = []
    for (unit, area), members in sorted(by_key.items()):
        limit = limit_of(area)  # type: ignore[arg-type]
        members.sort(key=lambda p: (p.address, p.span))
        current: ReadRequest | None = None
        for point in members:
            end = point.address + point.span
            if (
                current is None
                or point.address > current.address + current.count + gap
                or max(end, current.address + current.count) - current.address > limit
            ):
                current = ReadRequest(unit, point.area, point.address, 0)
                requests.append(current)
            current.add(point)
    return requests


def split(request: ReadRequest) -> list[ReadRequest]:
    """One request per distinct address span of ``request`` (points sharing a span stay together)."""
    parts: dict[tuple[int, int], ReadRequest] = {}
    for point, _ in request.points:
        key = (point.address, point.span)
        part = parts.get(key)
        if part is None:
            part = parts[key] = ReadRequest(request.unit, request.area, point.address, 0)
        part.add(point)
    return list(parts.values())
