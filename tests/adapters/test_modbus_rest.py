"""End to end: a register changed in a Modbus device shows over REST ``$value`` within a poll interval."""

from __future__ import annotations

import asyncio
import base64
import socket
import time

import httpx
import uvicorn
from basyx.aas.model import datatypes

from tests.adapters.modbus_fixtures import SUBMODEL_ID, DeviceServer, build_twin, device, eventually, press_speed
from twinbridge.adapters.modbus.adapter import ModbusAdapter
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity

__all__ = ["device"]


async def test_device_value_reaches_rest_value_within_a_poll_interval(device: DeviceServer) -> None:
    interval = 0.5
    twin = build_twin({"Speed": datatypes.Int})
    source, binding = press_speed(device)
    await device.set("holding_register", 3, [1200])
    adapter = ModbusAdapter(source, [("bindings[0]", binding)], twin)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(twin, security=ApiSecurity(mode="none")),
                                           log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    submodel = base64.urlsafe_b64encode(SUBMODEL_ID.encode()).decode().rstrip("=")
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/api/v3.0/submodels/{submodel}/submodel-elements/Speed/$value"
    await adapter.start()
    try:
        await eventually(lambda: server.started)
        async with httpx.AsyncClient() as http:
            async def speed() -> int | None:
                response = await http.get(url)
                assert response.status_code == 200, response.text
                return response.json()["Speed"]  # type: ignore[no-any-return]

            deadline = time.monotonic() + 5
            while await speed() != 1200:
                assert time.monotonic() < deadline, "the first value never arrived"
                await asyncio.sleep(0.05)
            await device.set("holding_register", 3, [1350])
            changed = time.monotonic()
            while await speed() != 1350:
                # one interval, plus an allowance for a machine shared with other test runs
                assert time.monotonic() - changed < interval + 1.0, "not visible within a poll interval"
                await asyncio.sleep(0.02)
            response = await http.get(url)
            assert response.headers["X-Twinbridge-Quality"] == "Good"
            await device.stop()
            deadline = time.monotonic() + 5
            while (await http.get(url)).headers["X-Twinbridge-Quality"] != "Bad":
                assert time.monotonic() < deadline, "a stopped device never showed Bad over REST"
                await asyncio.sleep(0.05)
    finally:
        await adapter.stop()
        server.should_exit = True
        await serving
        sock.close()
