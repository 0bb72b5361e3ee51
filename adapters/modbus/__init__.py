"""Modbus TCP southbound adapter (``kind: modbus``): polled points, coalesced reads, write-back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from twinbridge.adapters.config import Binding
from twinbridge.adapters.modbus.config import ModbusPoint, ModbusSource, check_binding
from twinbridge.adapters.registry import Adapter, AdapterKind

if TYPE_CHECKING:
    from twinbridge.aas.twin import Twin


def create(source: ModbusSource, bindings: Sequence[tuple[str, Binding]], twin: Twin) -> Adapter:
    # imported here: reading or validating a plant file does not need pymodbus
    from twinbridge.adapters.modbus.adapter import ModbusAdapter

    return ModbusAdapter(source, bindings, twin)


KIND = AdapterKind(kind="modbus", label="Modbus", source=ModbusSource, point=ModbusPoint, factory=create,
                   check=check_binding)
