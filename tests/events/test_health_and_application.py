"""The composed application: ``server.events.mqtt`` from the plant file publishes, ``/events``
streams, and ``/metrics``, ``/health``, ``/ready`` answer at the root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.adapters.mqtt_fixtures import Mosquitto, Publisher, eventually, mosquitto_fixture  # noqa: F401
from tests.events.conftest import stream
from tests.ports import free_port
from tests.serving import serving
from twinbridge.adapters.sparkplug import payloads
from twinbridge.server.application import Application, Options
from twinbridge.server.config import parse_plant_file
from twinbridge.server.events.model import TYPE_PREFIX

SUBMODEL = {"modelType": "Submodel", "id": "urn:twinbridge:test:sm:app", "idShort": "App",
            "submodelElements": [{"modelType": "Property", "idShort": "Level", "valueType": "xs:int", "value": "1"}]}


@pytest.fixture
async def application(tmp_path: Path, mosquitto: Mosquitto) -> AsyncIterator[tuple[Application, str]]:
    plant_file = parse_plant_file(f"""
server:
  auth: none
  semantic: "off"
  opcua: {{enabled: false}}
  events:
    sse: {{heartbeat_s: 0.2}}
    mqtt: {{url: "{mosquitto.url}", qos: 1, base_url: "http://twin.example/api/v3.0"}}
    sparkplug: {{url: "{mosquitto.url}", host_id: tb-host, edge_node: {{group_id: Plant1, node_id: tb}}}}
""")
    port = free_port()
    options = Options(host="127.0.0.1", port=port, data=tmp_path / "data", opcua=False)
    async with serving(Application(plant_file, options)) as app:
        yield app, f"http://127.0.0.1:{port}"


async def test_the_plant_file_turns_on_mqtt_events_sse_and_metrics(
        application: tuple[Application, str], mosquitto: Mosquitto) -> None:
    _, root = application
    consumer = Publisher(mosquitto.port)
    consumer.subscribe("noauth")
    try:
        async with httpx.AsyncClient(timeout=10) as http, stream(http, f"{root}/api/v3.0/events") as events:
            assert (await http.get(f"{root}/health")).json() == {"status": "UP"}
            assert (await http.get(f"{root}/ready")).json() == {"status": "READY", "sources": {}}
            assert (await http.post(f"{root}/api/v3.0/submodels", json=SUBMODEL)).status_code == 201
            frame = await events.event()
            assert frame.data is not None and frame.data["type"] == TYPE_PREFIX + "created"
            await eventually(lambda: consumer.received, what="the MQTT event")
            cloud = orjson.loads(consumer.received[0][1])
            assert cloud["type"] == TYPE_PREFIX + "created"
            assert cloud["source"].startswith("http://twin.example/api/v3.0/submodels/")
            assert cloud["data"]["idShort"] == "App"
            response = await http.get(f"{root}/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            text = response.text
            assert 'twinbridge_events_published_total{channel="sse"} 1.0' in text
            assert 'twinbridge_events_published_total{channel="mqtt"} 1.0' in text
            assert 'twinbridge_events_dropped_total{channel="mqtt"} 0.0' in text
            assert "twinbridge_sse_clients 1.0" in text
            assert 'twinbridge_event_queue_depth{channel="mqtt"} 0.0' in text
            assert 'twinbridge_event_queue_depth{channel="sse"} 0.0' in text
    finally:
        consumer.close()


async def test_the_plant_file_turns_on_sparkplug_state_and_the_edge_node(
        application: tuple[Application, str], mosquitto: Mosquitto) -> None:
    host = Publisher(mosquitto.port)
    host.subscribe("spBv1.0/#")
    try:
        await eventually(lambda: any(topic == "spBv1.0/STATE/tb-host" for topic, _ in host.received),
                         what="the retained STATE")
        state = orjson.loads(next(payload for topic, payload in host.received if topic == "spBv1.0/STATE/tb-host"))
        assert state["online"] is True and isinstance(state["timestamp"], int)
        host.publish("spBv1.0/Plant1/NCMD/tb", payloads.rebirth_request(), qos=0)
        await eventually(lambda: any(topic == "spBv1.0/Plant1/NBIRTH/tb" for topic, _ in host.received),
                         what="the NBIRTH answering the rebirth request")
    finally:
        host.close()
