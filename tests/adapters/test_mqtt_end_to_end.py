"""End to end: a value published to Mosquitto is read back over REST ``$value`` from uvicorn and
over OPC UA (value, source timestamp, status), and a REST ``$value`` write on a writable binding
reaches the broker as the command."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from pathlib import Path

import httpx
import orjson
import uvicorn
from asyncua import Client

from tests.adapters.mqtt_fixtures import (
    SUBMODEL_ID,
    Mosquitto,
    Publisher,
    eventually,
    free_port,
    machine_twin,
    mosquitto_fixture,  # noqa: F401
)
from twinbridge.adapters.config import Backoff, Binding, ElementTarget
from twinbridge.adapters.mqtt.adapter import MqttAdapter
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource
from twinbridge.server.api.app import create_app
from twinbridge.server.api.ids import encode_id
from twinbridge.server.opcua import OpcUaServer, OpcUaSettings
from twinbridge.server.opcua.types import I4AAS_NAMESPACE, NAMESPACE


async def test_published_value_is_visible_over_rest_and_rest_writes_publish(mosquitto: Mosquitto) -> None:
    twin = machine_twin()
    target = ElementTarget(shell="Machine", submodel="Signals", path="Temperature")
    setpoint = ElementTarget(shell="Machine", submodel="Signals", path="Setpoint")
    adapter = MqttAdapter(MqttSource(name="broker", url=mosquitto.url), [
        ("bindings[0]", Binding(source="broker", target=target,
                                mqtt=MqttPoint(topic="plant/mill/telemetry", value="$.temp", timestamp="$.ts"))),
        ("bindings[1]", Binding(source="broker", target=setpoint, writable=True,
                                mqtt=MqttPoint(topic="plant/mill/setpoint", value="$.value",
                                               command_topic="plant/mill/cmd/setpoint", qos=1))),
    ], twin)
    server = uvicorn.Server(uvicorn.Config(create_app(twin), host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))
    serving = asyncio.create_task(server.serve())
    publisher = Publisher(mosquitto.port)
    await adapter.start()
    try:
        await adapter.wait_connected(10)
        await eventually(lambda: server.started, what="uvicorn")
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}/api/v3.0/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{base}/Temperature/$value")).status_code == 200  # connection warm
            delays = []
            for step in range(5):
                temperature = 60.0 + step
                sent = time.perf_counter()
                publisher.publish("plant/mill/telemetry", orjson.dumps({"temp": temperature, "ts": 1_700_000_000_000}),
                                  qos=0)
                while True:
                    answer = await client.get(f"{base}/Temperature/$value")
                    assert answer.status_code == 200, answer.text
                    if answer.json() == {"Temperature": temperature}:
                        break
                    assert time.perf_counter() - sent < 5, "the MQTT value never reached REST"
                delays.append((time.perf_counter() - sent) * 1000)
            print(f"MQTT publish -> REST $value: median {sorted(delays)[2]:.1f} ms, max {max(delays):.1f} ms")

            publisher.subscribe("plant/mill/cmd/#")
            written = await client.patch(f"{base}/Setpoint/$value", json={"Setpoint": 880.0})
            assert written.status_code in (200, 204), written.text
            await eventually(lambda: len(publisher.received) == 1, what="the command on the broker")
            topic, payload = publisher.received[0]
            assert topic == "plant/mill/cmd/setpoint" and orjson.loads(payload)["value"] == 880.0
            read_only = await client.patch(f"{base}/Temperature/$value", json={"Temperature": 1.0})
            assert read_only.status_code >= 400
    finally:
        publisher.close()
        await adapter.stop()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving


async def test_published_value_reaches_opc_ua_with_its_source_timestamp_and_broker_loss_turns_it_bad(
    mosquitto: Mosquitto, tmp_path: Path,
) -> None:
    twin = machine_twin()
    target = ElementTarget(shell="Machine", submodel="Signals", path="Temperature")
    adapter = MqttAdapter(MqttSource(name="broker", url=mosquitto.url, backoff=Backoff(initial_s=0.05)), [
        ("bindings[0]", Binding(source="broker", target=target,
                                mqtt=MqttPoint(topic="plant/mill/telemetry", value="$.temp", timestamp="$.ts"))),
    ], twin)
    opcua = OpcUaServer(twin, OpcUaSettings(host="127.0.0.1", port=free_port()), tmp_path)
    await opcua.start()
    await adapter.start()
    publisher = Publisher(mosquitto.port)
    try:
        await adapter.wait_connected(10)
        async with Client(opcua.endpoint_url, timeout=10) as client:
            ns = await client.get_namespace_index(NAMESPACE)
            i4aas = await client.get_namespace_index(I4AAS_NAMESPACE)
            node = await client.nodes.objects.get_child(
                [*(f"{ns}:{name}" for name in ("AASEnvironment", "Machine", "Signals", "Temperature")),
                 f"{i4aas}:Value"])
            sent = time.perf_counter()
            publisher.publish("plant/mill/telemetry", b'{"temp": 71.5, "ts": 1700000000250}', qos=0)
            while (value := await node.read_data_value(raise_on_bad_status=False)).Value.Value != 71.5:
                assert time.perf_counter() - sent < 5, "the MQTT value never reached OPC UA"
                await asyncio.sleep(0.005)
            print(f"MQTT publish -> OPC UA read: {(time.perf_counter() - sent) * 1000:.1f} ms")
            assert value.StatusCode.is_good()
            assert value.SourceTimestamp == datetime.datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=datetime.UTC)

            publisher.close()
            mosquitto.stop()
            await eventually(lambda: adapter.stats.broker_losses == 1, what="broker loss")
            deadline = time.perf_counter() + 5
            while not (await node.read_data_value(raise_on_bad_status=False)).StatusCode.is_bad():
                assert time.perf_counter() < deadline, "OPC UA never showed the value as Bad"
                await asyncio.sleep(0.02)
    finally:
        publisher.close()
        await adapter.stop()
        await opcua.stop()
