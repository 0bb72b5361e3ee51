"""The MQTT adapter against a real Mosquitto: JSON/text values, bad input, broker loss, write-back."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from tests.adapters.mqtt_fixtures import (
    SUBMODEL_ID,
    Mosquitto,
    Publisher,
    eventually,
    free_port,
    machine_twin,
    mosquitto_fixture,  # noqa: F401
    value_of,
)
from twinbridge.aas.errors import NotWritable, WriteRejected
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.adapters.binding import BindingError
from twinbridge.adapters.config import Backoff, Binding, ElementTarget
from twinbridge.adapters.mqtt.adapter import MqttAdapter
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource


def binding(path: str, writable: bool = False, **point: Any) -> Binding:
    return Binding(
        source="broker",
        target=ElementTarget(shell="Machine", submodel="Signals", path=path),
        writable=writable,
        mqtt=MqttPoint(**point),
    )


BINDINGS = [
    binding("Temperature", topic="plant/mill/telemetry", value="$.temp", timestamp="$.ts"),
    binding("Speed", topic="plant/mill/telemetry", value="$.spindle.speed"),
    binding("Power", topic="plant/+/power", payload="text"),
    binding("Running", topic="plant/mill/running", payload="text"),
    binding("State", topic="plant/mill/state", value="$['machine state'][0]"),
    binding("Setpoint", writable=True, topic="plant/mill/setpoint", value="$.value",
            command_topic="plant/mill/cmd/setpoint", qos=1),
    binding("Count", writable=True, topic="plant/mill/count", payload="text", command_topic="plant/mill/cmd/count"),
]


def source(broker: Mosquitto) -> MqttSource:
    return MqttSource(name="broker", url=broker.url, client_id="twinbridge-test",
                      backoff=Backoff(initial_s=0.05, max_s=0.2))


@pytest.fixture
async def running(mosquitto: Mosquitto) -> AsyncIterator[tuple[Twin, MqttAdapter, Publisher]]:
    twin = machine_twin()
    adapter = MqttAdapter(source(mosquitto), [(f"bindings[{i}]", b) for i, b in enumerate(BINDINGS)], twin)
    await adapter.start()
    await adapter.wait_connected(10)
    publisher = Publisher(mosquitto.port)
    try:
        yield twin, adapter, publisher
    finally:
        publisher.close()
        await adapter.stop()


async def test_json_values_land_with_the_payload_timestamp(running: tuple[Twin, MqttAdapter, Publisher]) -> None:
    twin, adapter, publisher = running
    temperature = twin.live(SUBMODEL_ID, "Temperature")
    speed = twin.live(SUBMODEL_ID, "Speed")
    assert temperature.quality is Quality.UNCERTAIN  # bound, no value yet
    publisher.publish("plant/mill/telemetry", orjson.dumps({"temp": 41.25, "ts": 1_700_000_000_123,
                                                            "spindle": {"speed": 1499.6}}))
    await eventually(lambda: temperature.quality is Quality.GOOD, what="temperature")
    assert value_of(temperature) == 41.25
    assert temperature.timestamp == pytest.approx(1_700_000_000.123)
    assert value_of(speed) == 1500 and speed.quality is Quality.GOOD  # rounded into xs:int
    assert speed.timestamp is not None and speed.timestamp > 1_700_000_001  # no selector: receive time

    publisher.publish("plant/mill/telemetry",
                      b'{"temp": "42.5", "ts": "2024-05-01T12:00:00Z", "spindle": {"speed": 10}}')
    await eventually(lambda: value_of(temperature) == 42.5, what="second temperature")
    expected = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC).timestamp()
    assert temperature.timestamp == pytest.approx(expected)

    state = twin.live(SUBMODEL_ID, "State")
    publisher.publish("plant/mill/state", b'{"machine state": ["RUNNING", "x"]}')
    await eventually(lambda: value_of(state) == "RUNNING", what="state")
    assert adapter.stats.updates >= 5


async def test_text_payloads_and_wildcards(running: tuple[Twin, MqttAdapter, Publisher]) -> None:
    twin, _, publisher = running
    power = twin.live(SUBMODEL_ID, "Power")
    running_flag = twin.live(SUBMODEL_ID, "Running")
    publisher.publish("plant/lathe/power", b" 3.5 \n")
    publisher.publish("plant/mill/running", b"on")
    await eventually(lambda: value_of(power) == 3.5 and value_of(running_flag) is True, what="text values")
    publisher.publish("plant/mill/running", b"false")
    await eventually(lambda: value_of(running_flag) is False, what="running false")


async def test_bad_payloads_mark_bad_and_leave_the_rest_alone(
    running: tuple[Twin, MqttAdapter, Publisher],
) -> None:
    twin, adapter, publisher = running
    temperature = twin.live(SUBMODEL_ID, "Temperature")
    speed = twin.live(SUBMODEL_ID, "Speed")
    power = twin.live(SUBMODEL_ID, "Power")
    publisher.publish("plant/mill/telemetry", b'{"temp": 20.0, "ts": 1700000000000, "spindle": {"speed": 5}}')
    await eventually(lambda: temperature.quality is Quality.GOOD and speed.quality is Quality.GOOD)

    publisher.publish("plant/mill/telemetry", b"not json at all")
    await eventually(lambda: temperature.quality is Quality.BAD and speed.quality is Quality.BAD, what="Bad")
    assert value_of(temperature) == 20.0 and value_of(speed) == 5  # unchanged

    # The speed field is present, the temperature is not: only the temperature is Bad.
    publisher.publish("plant/mill/telemetry", b'{"spindle": {"speed": 7}}')
    await eventually(lambda: value_of(speed) == 7, what="speed")
    assert speed.quality is Quality.GOOD and temperature.quality is Quality.BAD
    assert value_of(temperature) == 20.0

    publisher.publish("plant/lathe/power", b"warm")  # not a number
    await eventually(lambda: power.quality is Quality.BAD, what="power Bad")
    assert adapter.stats.bad_payloads >= 4

    adapter.handle_message("nobody/bound/this", b"1")
    assert adapter.stats.unbound == 1

    publisher.publish("plant/mill/telemetry", b'{"temp": 21.0, "ts": 1700000000500, "spindle": {"speed": 8}}')
    await eventually(lambda: temperature.quality is Quality.GOOD, what="recovery")
    assert value_of(temperature) == 21.0


async def test_broker_restart_turns_values_bad_then_they_flow_again(
    running: tuple[Twin, MqttAdapter, Publisher], mosquitto: Mosquitto,
) -> None:
    twin, adapter, publisher = running
    power = twin.live(SUBMODEL_ID, "Power")
    publisher.publish("plant/mill/power", b"1.5")
    await eventually(lambda: power.quality is Quality.GOOD, what="first value")

    publisher.close()
    mosquitto.stop()
    await eventually(lambda: power.quality is Quality.BAD, what="Bad after broker loss")
    assert value_of(power) == 1.5
    with pytest.raises(WriteRejected, match="not connected"):
        await twin.write_value(twin.live(SUBMODEL_ID, "Setpoint"), 3.0)

    mosquitto.start()
    await eventually(lambda: adapter.connected, timeout=10, what="reconnect")
    assert adapter.stats.broker_losses == 1 and adapter.stats.connects == 2
    again = Publisher(mosquitto.port)
    try:
        again.publish("plant/mill/power", b"2.5")
        await eventually(lambda: value_of(power) == 2.5, what="value after reconnect")
        assert power.quality is Quality.GOOD
    finally:
        again.close()


async def test_write_back_publishes_the_command(running: tuple[Twin, MqttAdapter, Publisher]) -> None:
    twin, adapter, publisher = running
    publisher.subscribe("plant/mill/cmd/#")
    setpoint = twin.live(SUBMODEL_ID, "Setpoint")
    await twin.write_value(setpoint, 1250.5)
    await twin.write_value(twin.live(SUBMODEL_ID, "Count"), 42)
    await eventually(lambda: len(publisher.received) == 2, what="two commands")
    by_topic = dict(publisher.received)
    command = orjson.loads(by_topic["plant/mill/cmd/setpoint"])
    assert command["value"] == 1250.5 and isinstance(command["timestamp"], int)
    assert by_topic["plant/mill/cmd/count"] == b"42"
    assert value_of(setpoint) == 1250.5 and adapter.stats.commands == 2

    with pytest.raises(NotWritable):
        await twin.write_value(twin.live(SUBMODEL_ID, "Temperature"), 1.0)


async def test_a_binding_to_a_missing_element_is_a_start_up_error_naming_it(mosquitto: Mosquitto) -> None:
    twin = machine_twin()
    bad = [("bindings[0]", BINDINGS[0]), ("bindings[1]", binding("Nope", topic="plant/x"))]
    with pytest.raises(BindingError, match=r"bindings\[1\].*Nope"):
        MqttAdapter(source(mosquitto), bad, twin)
    writable_without_command = [("bindings[7]", binding("Setpoint", writable=True, topic="plant/x"))]
    with pytest.raises(BindingError, match=r"bindings\[7\].*command_topic"):
        MqttAdapter(source(mosquitto), writable_without_command, twin)


async def test_persistent_session_receives_what_was_published_while_away(mosquitto: Mosquitto) -> None:
    persistent = MqttSource(name="broker", url=mosquitto.url, client_id="twinbridge-persistent", clean_session=False)
    point = [("bindings[0]", binding("Power", topic="plant/mill/power", payload="text", qos=1))]
    first = MqttAdapter(persistent, point, machine_twin())
    await first.start()
    await first.wait_connected(10)
    await first.stop()

    publisher = Publisher(mosquitto.port)
    publisher.publish("plant/mill/power", b"7.25", qos=1)  # nobody connected: the broker keeps it
    publisher.close()

    twin = machine_twin()
    second = MqttAdapter(persistent, point, twin)
    await second.start()
    try:
        power = twin.live(SUBMODEL_ID, "Power")
        await eventually(lambda: power.quality is Quality.GOOD, what="the queued message")
        assert value_of(power) == 7.25
    finally:
        await second.stop()


async def test_an_unreachable_broker_makes_the_values_bad() -> None:
    twin = machine_twin()
    nowhere = MqttSource(name="broker", url=f"mqtt://127.0.0.1:{free_port()}", backoff=Backoff(initial_s=0.05))
    adapter = MqttAdapter(nowhere, [("bindings[2]", BINDINGS[2])], twin)
    power = twin.live(SUBMODEL_ID, "Power")
    assert power.quality is Quality.UNCERTAIN
    await adapter.start()
    try:
        await eventually(lambda: power.quality is Quality.BAD, what="Bad without a broker")
        assert not adapter.connected and adapter.stats.broker_losses == 1
    finally:
        await adapter.stop()

