"""The Modbus TCP part of a plant file: a ``kind: modbus`` source and the ``modbus:`` point of a binding."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from twinbridge.adapters.config import SourceConfig, Strict

ModbusArea = Literal["coil", "discrete_input", "input_register", "holding_register"]
ModbusType = Literal[
    "bool", "bit", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"
]
ByteOrder = Literal["ABCD", "BADC", "CDAB", "DCBA"]


class ModbusPollGroup(Strict):
    interval_ms: int = Field(1000, ge=10, le=3_600_000)


class ModbusSource(SourceConfig):
    kind: Literal["modbus"] = "modbus"
    host: str = "127.0.0.1"
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=255, description="default unit id of the points")
    timeout_s: float = Field(1.0, gt=0)
    one_based: bool = Field(
        False,
        description="point addresses count from 1 as in many device manuals (address 1 is protocol "
        "address 0); 40001-style area prefixes are not used: the area is its own field",
    )
    coalesce_gap: int = Field(
        0, ge=0, le=100,
        description="unused registers/bits one read may span to join two points (0: only adjacent points)",
    )
    poll_groups: dict[str, ModbusPollGroup] = Field(default_factory=lambda: {"default": ModbusPollGroup()})


class ModbusPoint(Strict):
    area: ModbusArea = "holding_register"
    address: int = Field(ge=0, le=65535)
    unit: int | None = Field(None, ge=0, le=255)
    type: ModbusType = "uint16"
    order: ByteOrder = Field(
        "ABCD", description="byte/word order of multi-register values; ABCD is big-endian, CDAB swaps words"
    )
    length: int | None = Field(None, ge=1, le=125, description="registers of a string")
    bit: int | None = Field(None, ge=0, le=15, description="bit index for type 'bit'")
    scale: float = 1.0
    offset: float = 0.0
    deadband: float = Field(0.0, ge=0)
    poll_group: str = "default"

    @model_validator(mode="after")
    def _fits(self) -> ModbusPoint:
        bit_area = self.area in ("coil", "discrete_input")
        if bit_area and self.type != "bool":
            raise ValueError(f"a {self.area} holds one bit: type must be 'bool', not {self.type!r}")
        if self.type == "string" and self.length is None:
            raise ValueError("type 'string' needs 'length' (registers, two characters each)")
        if self.type != "string" and self.length is not None:
            raise ValueError(f"'length' only applies to type 'string', not {self.type!r}")
        if (self.type == "bit") != (self.bit is not None):
            raise ValueError("type 'bit' needs 'bit' (0-15), and 'bit' needs type 'bit'")
        span = self.length if self.type == "string" else MODBUS_TYPE_REGISTERS[self.type]
        if self.address + (span or 1) - 1 > 65535:
            raise ValueError(
                f"a {self.type} at address {self.address} spans {span} registers, past the last address 65535"
            )
        if self.scale == 0:
            raise ValueError("scale 0 would make every value 0 (and write-back impossible)")
        return self


MODBUS_TYPE_REGISTERS: dict[str, int] = {
    "bool": 1, "bit": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2,
    "int64": 4, "uint64": 4, "float32": 2, "float64": 4,
}


def check_binding(source: ModbusSource, point: ModbusPoint, writable: bool) -> None:
    """What only the pair source + point can tell (ValueError; the registry prefixes the binding)."""
    if point.poll_group not in source.poll_groups:
        raise ValueError(f"poll group {point.poll_group!r} is not declared")
    if source.one_based and point.address == 0:
        raise ValueError(f"address 0 does not exist, source {source.name!r} counts from 1")
    if writable and point.area not in ("holding_register", "coil"):
        raise ValueError(f"writable, but Modbus cannot write a {point.area}")
