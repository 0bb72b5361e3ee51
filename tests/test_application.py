"""The composed demo plant: simulated devices → adapters → twin → REST, OPC UA and roll-ups, in one loop."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asyncua import Client, ua

from tests.ports import free_port
from tests.serving import serving
from twinbridge.server.application import Application, Options
from twinbridge.server.cli import EXAMPLE_PLANT
from twinbridge.server.config import load_plant_file
from twinbridge.server.demo import DemoDevices
from twinbridge.server.opcua.types import I4AAS_NAMESPACE, NAMESPACE

LIVE = "Segments.LiveValues.Records.Current"
BASE = "https://example.com/twinbridge/sm/DemoPlant"



def _b64(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def _value_url(base: str, submodel: str, signal: str) -> str:
    return f"{base}/submodels/{_b64(f'{BASE}/{submodel}/OperationalData')}/submodel-elements/{LIVE}.{signal}/$value"


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[Application, str]]:
    plant_file = load_plant_file(EXAMPLE_PLANT)
    ports: list[int] = []
    while len(ports) < 4:  # four different ones: the kernel may hand the same free port out twice
        port = free_port()
        if port not in ports:
            ports.append(port)
    modbus = plant_file.southbound.sources[0]
    plant_file = plant_file.with_sources({modbus.name: modbus.model_copy(update={"port": ports[0]})})
    options = Options(host="127.0.0.1", port=ports[1], data=tmp_path / "data", token="t" * 32,
                      opcua_port=ports[2], demo=True, mqtt_port=ports[3])
    async with serving(Application(plant_file, options)) as application:
        yield application, f"http://127.0.0.1:{options.port}/api/v3.0"


async def _eventually(probe: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await probe():  # type: ignore[operator]
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def test_live_values_flow_from_both_protocols_to_rest_and_roll_ups(demo: tuple[Application, str]) -> None:
    _, base = demo
    async with httpx.AsyncClient(timeout=5) as http:
        async def fed(submodel: str, signal: str) -> bool:
            response = await http.get(_value_url(base, submodel, signal))
            return response.status_code == 200 and response.headers.get("X-Twinbridge-Quality") == "Good"

        for machine in ("Line1/Cell1/Filler1", "Line2/Cell3/Palletizer1", "Line2/Cell3/Wrapper1"):
            await _eventually(lambda m=machine: fed(m, "Temperature"))  # type: ignore[misc]
        line = (await http.get(f"{base}/submodels/{_b64(f'{BASE}/Line1/OperationalData')}/$value")).json()
        assert line["Segments"]["LiveValues"]["Records"]["Current"]["TotalPower"] > 0


async def test_a_rest_write_reaches_the_modbus_device(demo: tuple[Application, str]) -> None:
    application, base = demo
    url = _value_url(base, "Line1/Cell1/Filler1", "SpeedSetpoint")
    headers = {"Authorization": "Bearer " + "t" * 32}
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.patch(url, json=1234, headers={})).status_code == 401
        response = await http.patch(url, json=1234, headers=headers)
        assert response.status_code == 204, response.text
        assert (await http.get(url)).json() == {"SpeedSetpoint": 1234.0}
        devices = next(s for s in application.services if isinstance(s, DemoDevices))
        device = devices.modbus
        assert device is not None

        async def device_took_it() -> bool:
            return bool(device.value("machine1.speed_setpoint") == 1234)

        await _eventually(device_took_it)
        read_only = _value_url(base, "Line1/Cell1/Filler1", "Temperature")
        refused = await http.patch(read_only, json=1.0, headers=headers)
        assert refused.status_code == 403
        assert "no write-back" in refused.json()["messages"][0]["text"]


async def test_opcua_mirrors_the_same_live_value(demo: tuple[Application, str]) -> None:
    application, base = demo
    endpoint = next(s.endpoint_url for s in application.services if hasattr(s, "endpoint_url"))
    async with Client(endpoint.replace("0.0.0.0", "127.0.0.1")) as client, httpx.AsyncClient() as http:
        objects = client.nodes.objects
        namespace = await client.get_namespace_index(NAMESPACE)
        i4aas = await client.get_namespace_index(I4AAS_NAMESPACE)
        path = ["AASEnvironment", "Filler1", "OperationalData", "Segments", "LiveValues", "Records", "Current",
                "Temperature"]
        node = await objects.get_child([*(f"{namespace}:{name}" for name in path), f"{i4aas}:Value"])

        async def same() -> bool:
            data_value = await node.read_data_value()
            rest = (await http.get(_value_url(base, "Line1/Cell1/Filler1", "Temperature"))).json()["Temperature"]
            return bool(data_value.StatusCode.is_good() and abs(data_value.Value.Value - rest) < 5.0)

        await _eventually(same)
        assert (await node.read_data_type_as_variant_type()) == ua.VariantType.Double


async def test_the_demo_prints_what_a_first_hour_needs_and_answers_browsers(
        capsys: pytest.CaptureFixture[str], demo: tuple[Application, str]) -> None:
    """Broker URL, OPC UA endpoint bound like REST and a demo user that may write, CORS for any origin."""
    application, base = demo
    banner = capsys.readouterr().out
    assert f"embedded MQTT broker: mqtt://127.0.0.1:{application.options.mqtt_port}" in banner
    assert f"OPC UA endpoint: opc.tcp://127.0.0.1:{application.options.opcua_port}/" in banner
    user = application.demo_user
    assert user is not None and user.rights == "readwrite"
    # secrets reach a terminal once, never a captured output or log (this one is not a terminal)
    stored = application.data_dir / "opcua-demo-password" if application.data_dir else None
    assert f"OPC UA demo user (may write): demo / (generated, stored in {stored}; not shown)" in banner
    assert user.password not in banner and "t" * 32 not in banner
    assert "admin token: (given with --token; not shown)" in banner
    endpoint = next(s.endpoint_url for s in application.services if hasattr(s, "endpoint_url"))
    client = Client(endpoint)
    client.set_user(user.name)
    client.set_password(user.password)
    async with client:
        assert await client.nodes.objects.read_browse_name()
    async with httpx.AsyncClient(timeout=5) as http:
        preflight = await http.options(f"{base}/shells", headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
        listed = await http.get(f"{base}/shells", headers={"Origin": "http://localhost:3000"})
        assert listed.headers["access-control-allow-origin"] == "*"
