"""One bound Modbus point: its decoded value's way into the twin, and its failures' way into the log.

The value path is decode → scale/offset → deadband → converter → ``Twin.update``. Everything
a point needs is resolved at start-up so a poll cycle does no lookups.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from twinbridge.aas.live import LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.adapters.modbus.config import ModbusArea
from twinbridge.adapters.modbus.registers import Codec
from twinbridge.adapters.throttle import ThrottledLog

log = logging.getLogger("twinbridge.modbus")

BIT_AREAS: frozenset[str] = frozenset(("coil", "discrete_input"))


class Point:
    """A binding's point with its resolved handle, codec and converter."""

    __slots__ = (
        "address", "area", "codec", "convert", "deadband", "failing", "handle", "label", "last", "name",
        "offset", "scale", "scaled", "source", "span", "stored", "target", "throttle", "twin", "unit",
    )

    def __init__(
        self, *, name: str, target: str, source: str, unit: int, area: ModbusArea, address: int, span: int,
        codec: Codec | None, scale: float, offset: float, deadband: float,
        convert: Callable[[Any], Any], handle: LiveElement, twin: Twin, throttle: ThrottledLog, label: str = "",
    ) -> None:
        self.name = name
        self.target = target
        self.source = source
        self.unit = unit
        self.area = area
        self.address = address
        self.label = label or str(address)
        self.span = span
        self.codec = codec
        self.scale = scale
        self.offset = offset
        self.scaled = scale != 1.0 or offset != 0.0
        self.deadband = deadband
        self.convert = convert
        self.handle = handle
        self.twin = twin
        self.throttle = throttle
        self.last: Any = None
        self.stored: Any = None
        self.failing = False

    def where(self) -> str:
        return f"source {self.source!r} unit {self.unit} {self.area} {self.label} ({self.name} → {self.target})"

    def accept(self, raw: Any, timestamp: float) -> None:
        """A fresh raw value from the device: store it unless it is within the deadband."""
        value = raw
        if self.scaled and not isinstance(raw, (bool, str)):
            value = raw * self.scale + self.offset
        handle = self.handle
        last = self.last
        element = handle.element
        # skip only while the element still holds what this point stored (a client write or a
        # replaced submodel may have changed it since)
        if (last is not None and handle.quality is Quality.GOOD and element is not None
                and element.value == self.stored):  # type: ignore[attr-defined]
            if value == last:
                return
            if self.deadband and not isinstance(value, str) and abs(value - last) < self.deadband:
                return
        try:
            typed = self.convert(value)
        except (TypeError, ValueError, OverflowError) as error:
            self.fail(f"{value!r} does not fit the element: {error}", timestamp)
            return
        self.last = value
        self.stored = typed
        self.twin.update(handle, typed, timestamp, Quality.GOOD)
        if self.failing:
            self.failing = False
            self.throttle.forget(self)
            log.info("%s: reading again", self.where())

    def fail(self, reason: str, timestamp: float, *, quiet: bool = False) -> None:
        """Mark the value Bad (once) and log why, unless the source already logged for all its points."""
        self.last = None
        if self.handle.quality is not Quality.BAD:
            self.twin.set_quality(self.handle, Quality.BAD, timestamp)
        if not quiet:
            self.failing = True
            self.throttle.warning(self, f"{self.where()}: {reason}")
