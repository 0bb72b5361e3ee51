"""Codec: every type × byte/word order against layouts computed from their definition."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from pydantic import ValidationError

from twinbridge.adapters import float32
from twinbridge.adapters.modbus.config import ModbusPoint
from twinbridge.adapters.modbus.registers import codec_for, registers_to_bytes
from twinbridge.adapters.registry import validate_southbound

FORMATS = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q",
           "float32": "f", "float64": "d"}
SAMPLES: dict[str, list[Any]] = {
    "int16": [-12345, -32768, 32767], "uint16": [0, 54321, 65535],
    "int32": [-123456789, -(2**31), 2**31 - 1], "uint32": [3_000_000_000, 2**32 - 1],
    "int64": [-(2**63), 2**63 - 1, -1_234_567_890_123], "uint64": [2**64 - 1, 12_345_678_901_234_567_890],
    "float32": [123.456, -0.0015, 3.4e38], "float64": [math.pi, -1e-300, 6.02214076e23],
}
ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


def layout(big_endian: bytes, order: str) -> list[int]:
    """Registers of a value in ``order``, straight from the definition of the letters."""
    words = [big_endian[i : i + 2] for i in range(0, len(big_endian), 2)]
    if order in ("CDAB", "DCBA"):
        words.reverse()
    if order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    return [int.from_bytes(w, "big") for w in words]


def decode(point: ModbusPoint, registers: list[int]) -> object:
    codec = codec_for(point)
    return codec.decode(registers_to_bytes(registers, codec.swapped), 0)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("kind", list(FORMATS))
def test_every_number_type_and_order_round_trips_exactly(kind: str, order: str) -> None:
    point = ModbusPoint(address=0, type=kind, order=order)  # type: ignore[arg-type]
    for value in SAMPLES[kind]:
        big = struct.pack(">" + FORMATS[kind], value)
        expected = struct.unpack(">" + FORMATS[kind], big)[0]  # float32 rounding, exact otherwise
        if kind == "float32":  # as its shortest decimal, which reads back as the same float32
            expected = float32.shortest(expected)
            assert struct.unpack(">f", struct.pack(">f", expected)) == struct.unpack(">f", big)
        registers = layout(big, order)
        assert decode(point, registers) == expected
        assert codec_for(point).encode(value) == registers


def test_published_float32_layouts() -> None:
    # 123.456 as IEEE-754 single is 0x42F6E979
    expected = {"ABCD": [0x42F6, 0xE979], "CDAB": [0xE979, 0x42F6],
                "BADC": [0xF642, 0x79E9], "DCBA": [0x79E9, 0xF642]}
    for order, registers in expected.items():
        point = ModbusPoint(address=0, type="float32", order=order)  # type: ignore[arg-type]
        assert codec_for(point).encode(123.456) == registers
        assert decode(point, registers) == 123.456  # the shortest decimal, not 123.45600128173828


@pytest.mark.parametrize("order", ORDERS)
def test_strings_in_every_order(order: str) -> None:
    point = ModbusPoint(address=0, type="string", length=4, order=order)  # type: ignore[arg-type]
    registers = layout(b"SIM-0001", order)
    assert decode(point, registers) == "SIM-0001"
    assert codec_for(point).encode("SIM-0001") == registers
    padded = ModbusPoint(address=0, type="string", length=6, order=order)  # type: ignore[arg-type]
    assert decode(padded, codec_for(padded).encode("AB")) == "AB"


def test_bits_and_register_booleans() -> None:
    word = [0b1010_0000_0000_0101]
    for bit, expected in [(0, True), (1, False), (2, True), (13, True), (15, True), (14, False)]:
        assert decode(ModbusPoint(address=0, type="bit", bit=bit), word) is expected
    assert decode(ModbusPoint(address=0, type="bool"), [0]) is False
    assert decode(ModbusPoint(address=0, type="bool"), [0x0100]) is True


def test_values_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="outside the int16 range"):
        codec_for(ModbusPoint(address=0, type="int16")).encode(40000)
    with pytest.raises(ValueError, match="outside the uint32 range"):
        codec_for(ModbusPoint(address=0, type="uint32")).encode(-1)
    with pytest.raises(ValueError, match="does not fit a float32"):
        codec_for(ModbusPoint(address=0, type="float32")).encode(1e300)
    with pytest.raises(ValueError, match="do not fit 2 registers"):
        codec_for(ModbusPoint(address=0, type="string", length=2)).encode("too long")
    with pytest.raises(UnicodeDecodeError):
        decode(ModbusPoint(address=0, type="string", length=1), [0xFFFE])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"address": 65534, "type": "float64"}, "past the last address 65535"),
        ({"address": 0, "type": "string"}, "needs 'length'"),
        ({"address": 0, "type": "bit"}, "needs 'bit'"),
        ({"address": 0, "type": "uint16", "bit": 3}, "needs type 'bit'"),
        ({"address": 0, "area": "coil", "type": "int16"}, "type must be 'bool'"),
        ({"address": 0, "type": "int16", "length": 2}, "only applies to type 'string'"),
        ({"address": 70000}, "less than or equal to 65535"),
        ({"address": 0, "order": "ABDC"}, "ABCD"),
        ({"address": 0, "registers": 2}, "Extra inputs are not permitted"),
        ({"address": 0, "scale": 0}, "scale 0"),
    ],
)
def test_point_configuration_errors_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModbusPoint(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "point", "writable", "message"),
    [
        ({"one_based": True}, {"address": 0}, False, r"bindings\[0\]: address 0 does not exist"),
        ({}, {"area": "input_register", "address": 3}, True, r"bindings\[0\]: writable, but Modbus cannot write"),
        ({}, {"address": 3, "poll_group": "fast"}, False, r"bindings\[0\]: poll group 'fast' is not declared"),
        ({"colour": "red"}, {"address": 3}, False, "Extra inputs are not permitted"),
    ],
)
def test_plant_file_errors_name_the_binding(source: dict[str, Any], point: dict[str, Any], writable: bool,
                                             message: str) -> None:
    document = {
        "sources": [{"kind": "modbus", "name": "press", **source}],
        "bindings": [{"source": "press", "writable": writable, "modbus": point,
                      "target": {"shell": "Press", "submodel": "Signals", "path": "Speed"}}],
    }
    with pytest.raises(ValidationError, match=message):
        validate_southbound(document)
