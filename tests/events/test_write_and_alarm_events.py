"""Write requested / accepted / refused and alarm raised / cleared, in the one event model, on SSE
and MQTT: a REST ``$value`` PATCH to a writable MQTT binding (real Mosquitto, the MQTT adapter's
write-back), a PATCH to a device-fed element without write-back, a device that cannot take the
write (its broker is down), and an analytics alarm book raising and clearing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from tests.adapters.mqtt_fixtures import (
    SUBMODEL_ID,
    Mosquitto,
    Publisher,
    eventually,
    machine_twin,
    mosquitto_fixture,  # noqa: F401
)
from tests.events.conftest import Served, serve, stream
from twinbridge.adapters.config import Binding, ElementTarget
from twinbridge.adapters.mqtt.adapter import MqttAdapter
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource
from twinbridge.analytics.alarms import AlarmBook, AlarmRule
from twinbridge.server.api.ids import encode_id
from twinbridge.server.events.hub import EventHub
from twinbridge.server.events.model import TYPE_PREFIX
from twinbridge.server.events.mqtt import MqttEventPublisher
from twinbridge.server.events.settings import MqttEvents, SseConfig
from twinbridge.server.events.sse import event_stats


@pytest.fixture
async def machine(mosquitto: Mosquitto) -> AsyncIterator[tuple[Served, MqttAdapter]]:
    twin = machine_twin()
    shell = ElementTarget(shell="Machine", submodel="Signals", path="Setpoint")
    adapter = MqttAdapter(MqttSource(name="broker", url=mosquitto.url), [
        ("bindings[0]", Binding(source="broker", target=shell.model_copy(update={"path": "Temperature"}),
                                mqtt=MqttPoint(topic="plant/mill/telemetry", value="$.temp"))),
        ("bindings[1]", Binding(source="broker", target=shell, writable=True,
                                mqtt=MqttPoint(topic="plant/mill/setpoint", value="$.value",
                                               command_topic="plant/mill/cmd/setpoint", qos=1))),
    ], twin)
    served = await serve(twin, SseConfig(heartbeat_s=0.5))
    await adapter.start()
    try:
        await adapter.wait_connected(10)
        yield served, adapter
    finally:
        await adapter.stop()
        served.server.should_exit = True
        for task in served.tasks:
            await task


async def test_device_writes_are_requested_then_accepted_or_refused_on_sse_and_mqtt(
        machine: tuple[Served, MqttAdapter], mosquitto: Mosquitto) -> None:
    served, _ = machine
    elements = f"{served.base}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements"
    consumer = Publisher(mosquitto.port)
    consumer.subscribe("noauth")
    async with httpx.AsyncClient(timeout=10) as http, \
            stream(http, f"{served.base}/events", types="writeRequested,writeAccepted,writeRefused") as writes:
        hub = served.app.state.event_hub
        assert isinstance(hub, EventHub)
        publisher = MqttEventPublisher(served.twin, MqttEvents(url=mosquitto.url), hub, event_stats(served.app.state))
        await publisher.start()
        try:
            await eventually(lambda: publisher.connected, what="the event publisher")
            assert (await http.patch(f"{elements}/Setpoint/$value", json=880.0)).status_code == 204
            requested, accepted = await writes.event(), await writes.event()
            assert (requested.event, accepted.event) == ("writeRequested", "writeAccepted")
            for frame in (requested, accepted):
                assert frame.data is not None
                assert frame.data["subject"] == "Setpoint" and frame.data["data"] == {"value": 880.0}
                assert frame.data["origin"] == "rest:anonymous"
                assert frame.data["type"] == TYPE_PREFIX + str(frame.event)

            refused = await http.patch(f"{elements}/Temperature/$value", json=1.0)  # device-fed, no write-back
            assert refused.status_code >= 400
            frame = await writes.event()
            assert frame.event == "writeRefused" and frame.data is not None
            assert frame.data["subject"] == "Temperature"
            assert "write-back" in frame.data["data"]["reason"]

            await eventually(lambda: len(consumer.received) >= 4, what="the write events on MQTT")
            types = [orjson.loads(payload)["type"].removeprefix(TYPE_PREFIX) for _, payload in consumer.received]
            assert types[:4] == ["writeRequested", "writeAccepted", "valueChanged", "writeRefused"]

            mosquitto.stop()  # the device's broker is gone: its write-back cannot be delivered
            await asyncio.sleep(0.2)
            failed = await http.patch(f"{elements}/Setpoint/$value", json=1.0)
            assert failed.status_code >= 400, failed.text  # the adapter says why (not connected)
            requested, refused_frame = await writes.event(), await writes.event()
            assert (requested.event, refused_frame.event) == ("writeRequested", "writeRefused")
            assert refused_frame.data is not None and refused_frame.data["data"]["reason"]
        finally:
            await publisher.stop()
            consumer.close()
            if mosquitto.process is None:
                mosquitto.start()


async def test_alarms_raised_and_cleared_are_events(machine: tuple[Served, MqttAdapter]) -> None:
    served, _ = machine
    async with httpx.AsyncClient(timeout=10) as http, \
            stream(http, f"{served.base}/events", types="alarmRaised,alarmCleared") as alarms:
        hub = served.app.state.event_hub
        book = AlarmBook(listener=hub.alarm)
        book.watch("Spindle", AlarmRule("anomaly", raise_at=0.8, clear_at=0.5, message="anomalous signal"))
        book.observe("Spindle", "anomaly", 0.9, 1_700_000_000.0)
        book.observe("Spindle", "anomaly", 0.4, 1_700_000_060.0)
        raised, cleared = await alarms.event(), await alarms.event()
        assert (raised.event, cleared.event) == ("alarmRaised", "alarmCleared")
        assert raised.data is not None and cleared.data is not None
        assert raised.data["source"] == f"{served.base}/alarms/1"
        assert raised.data["time"] == "2023-11-14T22:13:20Z"
        assert raised.data["data"]["rule"] == "anomaly" and raised.data["data"]["value"] == 0.9
        assert cleared.data["data"]["state"] == "cleared"
