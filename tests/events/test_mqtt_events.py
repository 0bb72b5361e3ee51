"""The MQTT event publisher against a real Mosquitto: both topic layouts, a REST PATCH and a
device update each producing the right message, and an absent broker that never slows ingest."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from tests.adapters.mqtt_fixtures import Mosquitto, Publisher, eventually, mosquitto_fixture  # noqa: F401
from tests.events.conftest import SUBMODEL_ID, Served, events_twin, serve
from tests.ports import free_port
from twinbridge.aas.twin import Twin
from twinbridge.server.api.ids import encode_id
from twinbridge.server.events.hub import EventHub
from twinbridge.server.events.mqtt import MqttEventPublisher
from twinbridge.server.events.settings import MqttEvents, SseConfig
from twinbridge.server.events.stats import EventStats

BASE = "http://twin.example/api/v3.0"


@contextlib.asynccontextmanager
async def publishing(twin: Twin, settings: MqttEvents) -> AsyncIterator[MqttEventPublisher]:
    stats = EventStats()
    hub = EventHub(twin, BASE, stats, settings.capacity)
    await hub.start()
    publisher = MqttEventPublisher(twin, settings, hub, stats)
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.stop()
        await hub.stop()


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    running = await serve(events_twin(), SseConfig())
    try:
        yield running
    finally:
        running.server.should_exit = True
        for task in running.tasks:
            await task


def listen(mosquitto: Mosquitto, topic: str) -> Publisher:
    client = Publisher(mosquitto.port)
    client.subscribe(topic)
    return client


async def test_async_aas_layout_carries_cloudevents_for_a_rest_patch_and_a_device_update(
        mosquitto: Mosquitto, served: Served) -> None:
    settings = MqttEvents(url=mosquitto.url, qos=1)
    consumer = listen(mosquitto, "noauth")
    try:
        async with publishing(served.twin, settings) as publisher, httpx.AsyncClient(timeout=10) as http:
            await eventually(lambda: publisher.connected, what="the publisher to connect")
            response = await http.patch(
                f"{served.base}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements/Setpoint/$value", json=4.5)
            assert response.status_code == 204, response.text
            served.twin.update(served.twin.live(SUBMODEL_ID, "Motor.Speed"), 1200, timestamp=1_700_000_000.0)
            await eventually(lambda: len(consumer.received) >= 2, what="two events")
            first, second = (orjson.loads(payload) for _, payload in consumer.received[:2])
            for cloud in (first, second):
                assert cloud["specversion"] == "1.0" and cloud["id"] and cloud["type"] and cloud["source"]
                assert cloud["type"] == "io.admin-shell.events.v1.valueChanged"
            assert first["source"] == f"{BASE}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements/Setpoint"
            assert first["data"] == 4.5
            assert second["subject"] == "Motor.Speed" and second["data"] == 1200
            assert second["time"] == "2023-11-14T22:13:20Z"
            await eventually(lambda: publisher.stats.published.get("mqtt") == 2, what="both counted (PUBACKs)")
    finally:
        consumer.close()


async def test_basyx_layout_uses_basyx_topics_and_payloads(mosquitto: Mosquitto, served: Served) -> None:
    settings = MqttEvents(url=mosquitto.url, topic_layout="basyx", qos=1, retain=True)
    consumer = listen(mosquitto, "sm-repository/#")
    twin = served.twin
    try:
        async with publishing(twin, settings) as publisher, httpx.AsyncClient(timeout=10) as http:
            await eventually(lambda: publisher.connected, what="the publisher to connect")
            twin.update(twin.live(SUBMODEL_ID, "Motor.Speed"), 900)
            element = {"modelType": "Property", "idShort": "Torque", "valueType": "xs:double", "value": "3.5"}
            elements = f"{served.base}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements"
            assert (await http.post(elements, json=element)).status_code == 201
            assert (await http.delete(f"{elements}/Torque")).status_code == 204
            await eventually(lambda: len(consumer.received) >= 3, what="three events")
            prefix = f"sm-repository/sm-repo/submodels/{encode_id(SUBMODEL_ID)}/submodelElements"
            topics = [topic for topic, _ in consumer.received]
            assert topics == [f"{prefix}/Motor.Speed/updated", f"{prefix}/Torque/created", f"{prefix}/Torque/deleted"]
            updated = orjson.loads(consumer.received[0][1])
            assert updated["idShort"] == "Speed" and updated["value"] == "900" and updated["modelType"] == "Property"
            assert orjson.loads(consumer.received[1][1]) == element
        late = listen(mosquitto, f"{prefix}/Motor.Speed/updated")  # retained: a late subscriber gets the last value
        try:
            await eventually(lambda: late.received, what="the retained value")
            assert orjson.loads(late.received[0][1])["value"] == "900"
        finally:
            late.close()
    finally:
        consumer.close()


async def test_an_absent_broker_never_slows_ingest_and_drops_are_counted() -> None:
    twin = events_twin()
    settings = MqttEvents(url=f"mqtt://127.0.0.1:{free_port()}", capacity=100)
    handle = twin.live(SUBMODEL_ID, "Motor.Current")
    async with publishing(twin, settings) as publisher:
        started = time.perf_counter()
        for i in range(20_000):
            twin.update(handle, float(i))
        elapsed = time.perf_counter() - started
        await twin.bus.drained()  # the hub took them into its log of 100
        assert not publisher.connected
        assert publisher.stats.total_dropped("mqtt") == 20_000 - 100
        assert elapsed < 2.0, elapsed  # ~0.1 s here: one deque append per event, no I/O


async def test_queued_events_are_delivered_once_the_broker_is_back(mosquitto: Mosquitto) -> None:
    twin = events_twin()
    mosquitto.stop()
    handle = twin.live(SUBMODEL_ID, "Motor.Current")
    async with publishing(twin, MqttEvents(url=mosquitto.url, qos=1)) as publisher:
        twin.update(handle, 7.0)
        mosquitto.start()
        consumer = listen(mosquitto, "noauth")
        try:
            await eventually(lambda: consumer.received, timeout=10, what="the queued event")
            assert orjson.loads(consumer.received[0][1])["data"] == 7.0
            assert publisher.stats.total_dropped("mqtt") == 0
        finally:
            consumer.close()
