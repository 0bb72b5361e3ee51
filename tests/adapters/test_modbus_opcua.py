"""End to end: a Modbus register reaches an OPC UA client as the element's Value, with its quality."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from basyx.aas.model import datatypes

from tests.adapters.modbus_fixtures import DeviceServer, build_twin, device, press_speed
from tests.ports import free_port
from twinbridge.adapters.modbus.adapter import ModbusAdapter
from twinbridge.server.opcua import OpcUaServer, OpcUaSettings
from twinbridge.server.opcua.types import I4AAS_NAMESPACE, NAMESPACE

__all__ = ["device"]



async def test_device_value_and_quality_reach_opc_ua(device: DeviceServer, tmp_path: Path) -> None:
    interval = 0.5
    twin = build_twin({"Speed": datatypes.Int})
    source, binding = press_speed(device)
    await device.set("holding_register", 3, [1200])
    adapter = ModbusAdapter(source, [("bindings[0]", binding)], twin)
    opcua = OpcUaServer(twin, OpcUaSettings(host="127.0.0.1", port=free_port()), tmp_path)
    await opcua.start()
    await adapter.start()
    try:
        async with Client(opcua.endpoint_url, timeout=10) as client:
            ns = await client.get_namespace_index(NAMESPACE)
            i4aas = await client.get_namespace_index(I4AAS_NAMESPACE)
            node = await client.nodes.objects.get_child(
                [*(f"{ns}:{name}" for name in ("AASEnvironment", "Machine", "Signals", "Speed")), f"{i4aas}:Value"])

            async def read() -> tuple[Any, ua.StatusCode, Any]:
                """(value, status code, source timestamp) of the node."""
                data_value = (await client.uaclient.read_attributes([node.nodeid], ua.AttributeIds.Value))[0]
                assert data_value.StatusCode is not None
                value = data_value.Value.Value if data_value.Value is not None else None
                return value, data_value.StatusCode, data_value.SourceTimestamp

            deadline = time.monotonic() + 5
            while (await read())[0] != 1200:
                assert time.monotonic() < deadline, "the first value never reached OPC UA"
                await asyncio.sleep(0.05)
            await device.set("holding_register", 3, [1350])
            changed = time.monotonic()
            while (reading := await read())[0] != 1350:
                # one interval, plus an allowance for a machine shared with other test runs
                assert time.monotonic() - changed < interval + 1.0, "not visible within a poll interval"
                await asyncio.sleep(0.02)
            assert reading[1].is_good()
            assert reading[2] is not None  # the poll's source timestamp
            await device.stop()
            deadline = time.monotonic() + 5
            while not (await read())[1].is_bad():
                assert time.monotonic() < deadline, "a stopped device never showed Bad over OPC UA"
                await asyncio.sleep(0.05)
    finally:
        await adapter.stop()
        await opcua.stop()
