"""Register ⇄ value codecs for every Modbus point type and byte/word order.

pymodbus' converters only know big-endian bytes with either word order, so the four
layouts are done here with ``struct``. Byte order letters name where the value's
big-endian bytes A B C D land in the registers:

- ABCD: big-endian words in big-endian order (the Modbus default);
- CDAB: words reversed ("word swap"), bytes within a word big-endian;
- BADC: words in order, bytes within each word swapped ("byte swap");
- DCBA: fully little-endian.

For 64-bit values the same rule extends to four words (CDAB = the last word first).
A block of registers is decoded from its bytes once per read: ABCD/DCBA read the
big-endian byte image with ``>``/``<``, BADC/CDAB read the byte-swapped image with ``>``/``<``.
16-bit types therefore only distinguish "bytes swapped" (BADC, DCBA) from "not".
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twinbridge.adapters import float32
from twinbridge.adapters.modbus.config import MODBUS_TYPE_REGISTERS, ModbusPoint

_FORMATS = {
    "int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q",
    "float32": "f", "float64": "d",
}
_RANGES = {
    "int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1),
}
# (value read little-endian?, read from the byte-swapped image?)
_LAYOUT: dict[str, tuple[bool, bool]] = {
    "ABCD": (False, False), "DCBA": (True, False), "BADC": (False, True), "CDAB": (True, True),
}


def register_span(point: ModbusPoint) -> int:
    """Registers (or bits, for coils and discrete inputs) the point occupies."""
    if point.type == "string":
        return point.length or 1
    return MODBUS_TYPE_REGISTERS[point.type]


def registers_to_bytes(registers: Sequence[int], swapped: bool) -> bytes:
    """The byte image of a register block: big-endian words, or each word's bytes swapped."""
    return struct.pack(f"{'<' if swapped else '>'}{len(registers)}H", *registers)


def bytes_to_registers(data: bytes, swapped: bool) -> list[int]:
    return list(struct.unpack(f"{'<' if swapped else '>'}{len(data) // 2}H", data))


@dataclass(frozen=True, slots=True)
class Codec:
    """How one point's raw value sits in registers; ``decode`` reads a block's byte image.

    ``offset`` is the point's position in registers from the start of its read; the reader
    passes the big-endian image or the byte-swapped one according to ``swapped``.
    """

    kind: str
    registers: int
    swapped: bool
    little: bool
    bit: int
    number: struct.Struct | None
    float32: bool = False

    def decode(self, image: bytes, offset: int) -> Any:
        """The raw device value (int, float, bool or str) at ``offset`` registers into ``image``;
        a float32 as its shortest decimal (24.843904, not 24.843904495239258: see adapters.float32)."""
        number = self.number
        if number is not None:
            value = number.unpack_from(image, offset * 2)[0]
            return float32.shortest(value) if self.float32 else value
        start = offset * 2
        if self.kind == "bit":
            word = (image[start] << 8) | image[start + 1]
            return bool((word >> self.bit) & 1)
        if self.kind == "bool":
            return image[start] != 0 or image[start + 1] != 0
        data = image[start : start + self.registers * 2]
        if self.little:
            data = data[::-1]
        return data.rstrip(b"\x00 ").decode("utf-8")

    def encode(self, raw: Any) -> list[int]:
        """Registers that hold ``raw`` (the inverse of ``decode``); ValueError names what does not fit."""
        if self.kind == "bool":
            return [1 if raw else 0]
        if self.kind == "bit":
            raise ValueError("a bit is written with a mask, not as whole registers")
        if self.kind == "string":
            data = str(raw).encode("utf-8")
            size = self.registers * 2
            if len(data) > size:
                raise ValueError(f"{len(data)} bytes of text do not fit {self.registers} registers")
            data = data.ljust(size, b"\x00")
            if self.little:
                data = data[::-1]
            return bytes_to_registers(data, self.swapped)
        bounds = _RANGES.get(self.kind)
        if bounds is not None:
            if isinstance(raw, float):
                raw = round(raw)
            if not bounds[0] <= raw <= bounds[1]:
                raise ValueError(f"{raw} is outside the {self.kind} range {bounds[0]}..{bounds[1]}")
        assert self.number is not None
        try:
            return bytes_to_registers(self.number.pack(raw), self.swapped)
        except (struct.error, OverflowError) as error:
            raise ValueError(f"{raw!r} does not fit a {self.kind}: {error}") from None


def codec_for(point: ModbusPoint) -> Codec:
    """The codec of a register point (coils and discrete inputs are plain booleans, no codec)."""
    little, swapped = _LAYOUT[point.order]
    kind = point.type
    number = None
    fmt = _FORMATS.get(kind)
    if fmt is not None:
        number = struct.Struct(("<" if little else ">") + fmt)
    if kind in ("bool", "bit"):
        little, swapped = False, False
    return Codec(kind, register_span(point), swapped, little, point.bit or 0, number, kind == "float32")
