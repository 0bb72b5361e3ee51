"""End to end: a value published to Mosquitto is read back over REST ``$value`` from uvicorn,
and a REST ``$value`` write on a writable binding reaches the broker as the command."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import orjson
import uvicorn

from adapters.config import Binding, ElementTarget, MqttPoint, MqttSource
from adapters.mqtt.adapter import MqttAdapter
from server.api.app import create_app
from server.api.ids import encode_id
from tests.adapters.mqtt_fixtures import (
    SUBMODEL_ID,
    Mosquitto,
    Publisher,
    eventually,
    machine_twin,
    mosquitto_fixture,  # noqa: F401
)


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
