"""Device data outside a type's range is Bad with a reason, never Good, never a broken read.

The probe's cases, against a real Mosquitto and the REST API over HTTP: Sparkplug NaN and +Inf
doubles were stored Good (the JSON path marks them Bad); an MQTT timestamp of
315537897600000000 (year 11968) made every REST read of the element answer 500.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from basyx.aas.model import datatypes

from tests.adapters.mqtt_fixtures import (
    SUBMODEL_ID,
    Mosquitto,
    Publisher,
    eventually,
    machine_twin,
    mosquitto_fixture,  # noqa: F401
    value_of,
)
from tests.adapters.test_sparkplug import NODE, node_birth, payload, sparkplug
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.adapters import coerce
from twinbridge.adapters.config import Backoff, Binding, ElementTarget
from twinbridge.adapters.mqtt.adapter import MqttAdapter
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource, shown_url
from twinbridge.adapters.sparkplug.payloads import DataType
from twinbridge.server.api.app import create_app

BINDINGS = [
    sparkplug("Temperature", "spBv1.0/Plant1/+/Lathe1", "Temperature"),
    Binding(source="broker", target=ElementTarget(shell="Machine", submodel="Signals", path="Setpoint"),
            mqtt=MqttPoint(topic="plant/mill/setpoint", value="$.value", timestamp="$.ts")),
    Binding(source="broker", target=ElementTarget(shell="Machine", submodel="Signals", path="Power"),
            mqtt=MqttPoint(topic="plant/mill/power", payload="text")),
]
ENCODED = base64.urlsafe_b64encode(SUBMODEL_ID.encode()).decode().rstrip("=")


@pytest.fixture
async def plant(mosquitto: Mosquitto) -> AsyncIterator[tuple[Twin, Publisher, httpx.AsyncClient]]:
    twin = machine_twin()
    source = MqttSource(name="broker", url=mosquitto.url, backoff=Backoff(initial_s=0.05, max_s=0.2))
    adapter = MqttAdapter(source, [(f"bindings[{i}]", b) for i, b in enumerate(BINDINGS)], twin)
    await adapter.start()
    await adapter.wait_connected(10)
    device = Publisher(mosquitto.port)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(twin), log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/api/v3.0/submodels/{ENCODED}/submodel-elements"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            yield twin, device, http
    finally:
        server.should_exit = True
        await serving
        sock.close()
        device.close()
        await adapter.stop()


async def _read(http: httpx.AsyncClient, path: str) -> tuple[str, object]:
    """(quality header, $value) of a REST read, which must answer 200."""
    element = await http.get(f"/{path}")
    value = await http.get(f"/{path}/$value")
    assert element.status_code == 200 and value.status_code == 200, (element.text, value.text)
    return element.headers["x-twinbridge-quality"], value.json()[path]


async def test_sparkplug_nan_and_infinity_are_bad_like_json(plant: tuple[Twin, Publisher, httpx.AsyncClient]) -> None:
    twin, device, http = plant
    temperature = twin.live(SUBMODEL_ID, "Temperature")
    device.publish(NODE.format("NBIRTH"), node_birth())
    await eventually(lambda: temperature.quality is Quality.GOOD)
    assert await _read(http, "Temperature") == ("Good", 40.5)
    seq = 0
    for number in (float("nan"), float("inf"), float("-inf")):
        seq += 1
        device.publish(NODE.format("NDATA"), payload(seq, [{"alias": 1, "type": DataType.DOUBLE, "value": number}]))
        await eventually(lambda: temperature.quality is Quality.BAD, what=f"{number} marked Bad")
        assert await _read(http, "Temperature") == ("Bad", 40.5)  # the last good value, marked Bad
        seq += 1
        device.publish(NODE.format("NDATA"), payload(seq, [{"alias": 1, "type": DataType.DOUBLE, "value": 40.5}]))
        await eventually(lambda: temperature.quality is Quality.GOOD)
    # the text path and the JSON path say the same of a non-finite number
    power = twin.live(SUBMODEL_ID, "Power")
    device.publish("plant/mill/power", "inf")
    await eventually(lambda: power.quality is Quality.BAD, what="text 'inf' marked Bad")
    assert value_of(power) is None


async def test_an_mqtt_timestamp_beyond_year_9999_is_bad_and_reads_keep_answering(
        plant: tuple[Twin, Publisher, httpx.AsyncClient]) -> None:
    twin, device, http = plant
    setpoint = twin.live(SUBMODEL_ID, "Setpoint")
    device.publish("plant/mill/setpoint", '{"value": 12.5, "ts": 1700000000000}')
    await eventually(lambda: setpoint.quality is Quality.GOOD)
    for stamp in ("315537897600000000", "1e300", '"10000-01-01T00:00:00Z"', "-5"):
        device.publish("plant/mill/setpoint", f'{{"value": 99.0, "ts": {stamp}}}')
        await eventually(lambda: setpoint.quality is Quality.BAD, what=f"timestamp {stamp} marked Bad")
        assert await _read(http, "Setpoint") == ("Bad", 12.5)
        device.publish("plant/mill/setpoint", '{"value": 12.5, "ts": 1700000000000}')
        await eventually(lambda: setpoint.quality is Quality.GOOD)


async def test_a_sparkplug_timestamp_beyond_year_9999_is_bad(plant: tuple[Twin, Publisher, httpx.AsyncClient]) -> None:
    twin, device, http = plant
    temperature = twin.live(SUBMODEL_ID, "Temperature")
    device.publish(NODE.format("NBIRTH"), node_birth())
    await eventually(lambda: temperature.quality is Quality.GOOD)
    device.publish(NODE.format("NDATA"), payload(1, [
        {"alias": 1, "type": DataType.DOUBLE, "value": 50.0, "timestamp": 315537897600000000}]))
    await eventually(lambda: temperature.quality is Quality.BAD, what="metric timestamp marked Bad")
    assert await _read(http, "Temperature") == ("Bad", 40.5)
    device.publish(NODE.format("NDATA"), payload(2, [{"alias": 1, "type": DataType.DOUBLE, "value": 50.0}],
                                                timestamp=2**63))
    device.publish(NODE.format("NDATA"), payload(3, [{"alias": 1, "type": DataType.DOUBLE, "value": 51.0}]))
    await eventually(lambda: value_of(temperature) == 51.0 and temperature.quality is Quality.GOOD)
    assert await _read(http, "Temperature") == ("Good", 51.0)


def test_a_broker_password_never_reaches_a_log_or_an_error() -> None:
    assert shown_url("mqtt://plant:s3cret@broker.local:1883") == "mqtt://plant:***@broker.local:1883"
    assert shown_url("mqtts://broker.local") == "mqtts://broker.local"


def test_every_adapter_shares_one_range_rule() -> None:
    """Modbus, MQTT and Sparkplug all convert through ``coerce``: one rule, one reason text."""
    double = coerce.converter_for(float)
    for number in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="is not a measured value"):
            double(number)
    with pytest.raises(TypeError):  # xs:decimal: basyx's cast refuses NaN (the adapters' TypeError is Bad)
        coerce.converter_for(datatypes.Decimal)("NaN")
    with pytest.raises(ValueError, match="outside the range of xs:float"):
        coerce.converter_for(datatypes.Float)(1e39)
    with pytest.raises(ValueError, match="outside the representable range"):
        coerce.source_time(315537897600.0)
    with pytest.raises(ValueError, match="outside the representable range"):
        coerce.converter_for(datetime.datetime)(1e13)
