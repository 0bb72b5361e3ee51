"""Sparkplug B through the MQTT adapter against a real Mosquitto: births and aliases, data,
sequence gaps → rebirth request, deaths → Bad, DCMD write-back, undecodable payloads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.adapters.mqtt_fixtures import (
    SUBMODEL_ID,
    Mosquitto,
    Publisher,
    eventually,
    machine_twin,
    mosquitto_fixture,  # noqa: F401
    value_of,
)
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.adapters.config import Backoff, Binding, ElementTarget
from twinbridge.adapters.mqtt.adapter import MqttAdapter
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource
from twinbridge.adapters.sparkplug import payloads
from twinbridge.adapters.sparkplug.payloads import DataType

NODE = "spBv1.0/Plant1/{}/Lathe1"
DEVICE = "spBv1.0/Plant1/{}/Lathe1/Drive"


def sparkplug(path: str, topic: str, metric: str, writable: bool = False) -> Binding:
    return Binding(
        source="broker",
        target=ElementTarget(shell="Machine", submodel="Signals", path=path),
        writable=writable,
        mqtt=MqttPoint(topic=topic, payload="sparkplug", value=metric, qos=1),
    )


BINDINGS = [
    sparkplug("Temperature", "spBv1.0/Plant1/+/Lathe1", "Temperature"),
    sparkplug("Count", "spBv1.0/Plant1/NDATA/Lathe1", "PartCount"),
    sparkplug("Speed", "spBv1.0/Plant1/+/Lathe1/Drive", "Speed"),
    sparkplug("Setpoint", "spBv1.0/Plant1/+/Lathe1/Drive", "Setpoint", writable=True),
]


def payload(seq: int | None, metrics: list[dict[str, Any]], timestamp: int = 1_700_000_000_000) -> bytes:
    message = payloads.Payload(timestamp=timestamp)
    if seq is not None:
        message.seq = seq
    for spec in metrics:
        metric = message.metrics.add()
        if "name" in spec:
            metric.name = spec["name"]
        if "alias" in spec:
            metric.alias = spec["alias"]
        if "timestamp" in spec:
            metric.timestamp = spec["timestamp"]
        payloads.set_value(metric, spec["type"], spec.get("value"))
        if "name" not in spec:
            metric.ClearField("datatype")  # data messages by alias carry no datatype
    return bytes(message.SerializeToString())


def node_birth(seq: int = 0, bd_seq: int = 0) -> bytes:
    return payload(seq, [
        {"name": "bdSeq", "type": DataType.INT64, "value": bd_seq},
        {"name": "Node Control/Rebirth", "type": DataType.BOOLEAN, "value": False},
        {"name": "Temperature", "alias": 1, "type": DataType.DOUBLE, "value": 40.5},
        {"name": "PartCount", "alias": 2, "type": DataType.INT64, "value": -3},
    ])


def device_birth(seq: int) -> bytes:
    return payload(seq, [
        {"name": "Speed", "alias": 10, "type": DataType.INT32, "value": -1200},
        {"name": "Setpoint", "alias": 11, "type": DataType.FLOAT, "value": 1500.0},
    ])


@pytest.fixture
async def running(mosquitto: Mosquitto) -> AsyncIterator[tuple[Twin, MqttAdapter, Publisher]]:
    twin = machine_twin()
    source = MqttSource(name="broker", url=mosquitto.url, backoff=Backoff(initial_s=0.05, max_s=0.2))
    adapter = MqttAdapter(source, [(f"bindings[{i}]", b) for i, b in enumerate(BINDINGS)], twin)
    edge = Publisher(mosquitto.port)
    edge.subscribe("spBv1.0/Plant1/NCMD/Lathe1")
    edge.subscribe("spBv1.0/Plant1/DCMD/Lathe1/+")
    await adapter.start()
    await adapter.wait_connected(10)
    # A host that (re)connects asks every bound node for its births.
    await eventually(lambda: len(edge.received) == 1, what="the rebirth request on connect")
    topic, request = edge.received.pop()
    assert topic == "spBv1.0/Plant1/NCMD/Lathe1"
    assert [m.name for m in payloads.decode(request).metrics] == ["Node Control/Rebirth"]
    try:
        yield twin, adapter, edge
    finally:
        edge.close()
        await adapter.stop()


async def test_births_and_aliased_data_land_with_metric_timestamps(
    running: tuple[Twin, MqttAdapter, Publisher],
) -> None:
    twin, adapter, edge = running
    temperature = twin.live(SUBMODEL_ID, "Temperature")
    count = twin.live(SUBMODEL_ID, "Count")
    speed = twin.live(SUBMODEL_ID, "Speed")
    edge.publish(NODE.format("NBIRTH"), node_birth())
    edge.publish(DEVICE.format("DBIRTH"), device_birth(1))
    await eventually(lambda: speed.quality is Quality.GOOD, what="device birth")
    assert value_of(temperature) == 40.5 and value_of(count) == -3 and value_of(speed) == -1200
    assert temperature.timestamp == pytest.approx(1_700_000_000.0)

    edge.publish(NODE.format("NDATA"), payload(2, [
        {"alias": 1, "type": DataType.DOUBLE, "value": 41.75, "timestamp": 1_700_000_005_250},
        {"alias": 2, "type": DataType.INT64, "value": 17},
    ], timestamp=1_700_000_005_300))
    edge.publish(DEVICE.format("DDATA"), payload(3, [{"alias": 10, "type": DataType.INT32, "value": 1490}]))
    await eventually(lambda: value_of(speed) == 1490, what="device data")
    assert value_of(temperature) == 41.75
    assert temperature.timestamp == pytest.approx(1_700_000_005.25)
    assert value_of(count) == 17 and count.timestamp == pytest.approx(1_700_000_005.3)
    assert adapter.sparkplug.stats.births == 2 and adapter.sparkplug.stats.rebirth_requests == 1  # on connect
    assert edge.received == []


async def test_seq_gap_and_data_before_birth_request_a_rebirth(
    running: tuple[Twin, MqttAdapter, Publisher],
) -> None:
    _, adapter, edge = running
    edge.publish(NODE.format("NDATA"), payload(7, [{"alias": 1, "type": DataType.DOUBLE, "value": 1.0}]))
    await eventually(lambda: len(edge.received) == 1, what="rebirth request for data before birth")
    edge.publish(NODE.format("NBIRTH"), node_birth())
    edge.publish(NODE.format("NDATA"), payload(1, [{"alias": 1, "type": DataType.DOUBLE, "value": 2.0}]))
    edge.publish(NODE.format("NDATA"), payload(5, [{"alias": 1, "type": DataType.DOUBLE, "value": 3.0}]))
    await eventually(lambda: adapter.sparkplug.stats.seq_gaps == 1, what="gap seen")
    # The second request is held back by the per-node rebirth interval; the first one is an NCMD.
    topic, data = edge.received[0]
    assert topic == "spBv1.0/Plant1/NCMD/Lathe1"
    request = payloads.decode(data)
    assert [(m.name, m.boolean_value) for m in request.metrics] == [("Node Control/Rebirth", True)]


async def test_deaths_turn_values_bad(running: tuple[Twin, MqttAdapter, Publisher]) -> None:
    twin, adapter, edge = running
    temperature = twin.live(SUBMODEL_ID, "Temperature")
    speed = twin.live(SUBMODEL_ID, "Speed")
    edge.publish(NODE.format("NBIRTH"), node_birth(bd_seq=4))
    edge.publish(DEVICE.format("DBIRTH"), device_birth(1))
    await eventually(lambda: speed.quality is Quality.GOOD)

    edge.publish(DEVICE.format("DDEATH"), payload(2, []))
    await eventually(lambda: speed.quality is Quality.BAD, what="device death")
    assert temperature.quality is Quality.GOOD and value_of(speed) == -1200

    stale = payload(None, [{"name": "bdSeq", "type": DataType.INT64, "value": 3}])
    edge.publish(NODE.format("NDEATH"), stale)  # an older session's will: ignored
    edge.publish(NODE.format("NDEATH"), payload(None, [{"name": "bdSeq", "type": DataType.INT64, "value": 4}]))
    await eventually(lambda: temperature.quality is Quality.BAD, what="node death")
    assert adapter.sparkplug.stats.ignored_deaths == 1


async def test_write_back_sends_a_dcmd_with_the_birth_datatype(running: tuple[Twin, MqttAdapter, Publisher]) -> None:
    twin, _, edge = running
    setpoint = twin.live(SUBMODEL_ID, "Setpoint")
    edge.publish(NODE.format("NBIRTH"), node_birth())
    edge.publish(DEVICE.format("DBIRTH"), device_birth(1))
    await eventually(lambda: setpoint.quality is Quality.GOOD)
    await twin.write_value(setpoint, 1725.5)
    await eventually(lambda: len(edge.received) == 1, what="DCMD")
    topic, data = edge.received[0]
    assert topic == "spBv1.0/Plant1/DCMD/Lathe1/Drive"
    metric = payloads.decode(data).metrics[0]
    assert (metric.name, metric.datatype, metric.float_value) == ("Setpoint", DataType.FLOAT, 1725.5)


async def test_undecodable_and_unconvertible_payloads(running: tuple[Twin, MqttAdapter, Publisher]) -> None:
    twin, adapter, edge = running
    temperature = twin.live(SUBMODEL_ID, "Temperature")
    count = twin.live(SUBMODEL_ID, "Count")
    edge.publish(NODE.format("NBIRTH"), node_birth())
    await eventually(lambda: temperature.quality is Quality.GOOD)
    edge.publish(NODE.format("NDATA"), b"\xff\xff\xff garbage")
    await eventually(lambda: adapter.sparkplug.stats.undecodable == 1, what="undecodable counted")
    assert temperature.quality is Quality.GOOD and value_of(temperature) == 40.5

    edge.publish(NODE.format("NDATA"), payload(1, [
        {"alias": 2, "type": DataType.STRING, "value": "many"},   # not an integer: Bad
        {"alias": 1, "type": DataType.DOUBLE, "value": None},     # null: Bad
    ]))
    await eventually(lambda: count.quality is Quality.BAD and temperature.quality is Quality.BAD)
    assert value_of(count) == -3 and value_of(temperature) == 40.5


def test_codec_round_trips_signed_and_typed_values() -> None:
    for datatype, value in [(DataType.INT8, -5), (DataType.INT16, -300), (DataType.INT32, -70000),
                            (DataType.INT64, -(2**40)), (DataType.UINT32, 4_000_000_000), (DataType.BOOLEAN, True),
                            (DataType.DOUBLE, 0.1), (DataType.STRING, "ok")]:
        message = payloads.Payload()
        payloads.set_value(message.metrics.add(), datatype, value)
        decoded = payloads.decode(message.SerializeToString()).metrics[0]
        assert payloads.metric_value(decoded, datatype) == value, datatype
    sign_extended = payloads.Payload().metrics.add(datatype=DataType.INT16, int_value=2**32 - 2)
    assert payloads.metric_value(sign_extended, DataType.INT16) == -2
    with pytest.raises(ValueError, match="out of range"):
        payloads.set_value(payloads.Payload().metrics.add(), DataType.INT8, 200)
    with pytest.raises(payloads.SparkplugDecodeError):
        payloads.decode(b"\x0a\xff")
