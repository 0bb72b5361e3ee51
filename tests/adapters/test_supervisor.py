"""The shared connection supervisor against real peers: a pymodbus device that is stopped and
started again, and a Mosquitto broker that is stopped and started again."""

from __future__ import annotations

import asyncio
import logging
import random
import sys

import pytest
from basyx.aas.model.datatypes import Int

from tests.adapters.modbus_fixtures import DeviceServer, build_twin, device, press_speed  # noqa: F401
from tests.adapters.mqtt_fixtures import (
    SUBMODEL_ID,
    Mosquitto,
    Publisher,
    eventually,
    machine_twin,
    mosquitto_fixture,  # noqa: F401
)
from twinbridge.aas.quality import Quality
from twinbridge.adapters.config import Backoff, Binding, ElementTarget
from twinbridge.adapters.modbus.adapter import ModbusAdapter
from twinbridge.adapters.mqtt.adapter import MqttAdapter
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource
from twinbridge.adapters.supervisor import ConnectionState, backoff_delay, stop_task


def ceiling(backoff: Backoff, attempt: int) -> float:
    return min(backoff.initial_s * 2**attempt, backoff.max_s)


def test_backoff_doubles_up_to_its_cap_and_jitter_only_shortens_it() -> None:
    backoff = Backoff(initial_s=0.1, max_s=1.0, jitter=0.3)
    assert [backoff_delay(backoff, n, lambda: 0.0) for n in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert backoff_delay(backoff, 2, lambda: 1.0) == pytest.approx(0.4 * 0.7)
    draws = random.Random(3)
    delays = [backoff_delay(backoff, 10, draws.random) for _ in range(200)]
    assert all(0.7 - 1e-9 <= d <= 1.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 150  # jittered: sources do not retry in step
    assert backoff_delay(backoff, 10_000, lambda: 0.0) == 1.0  # a week-long outage does not overflow


async def test_stop_survives_a_cancel_that_wait_for_swallowed() -> None:
    """The root cause of the broker-restart hang, reproduced without a broker: on Python 3.11
    ``asyncio.wait_for`` returns the result and drops a cancel that arrives with it, so a task
    that awaits confirmations in a loop (as aiomqtt's publish does) outlives a single cancel."""
    loop = asyncio.get_running_loop()
    confirmations: list[asyncio.Future[None]] = []

    async def publisher() -> None:
        while True:
            confirmation = loop.create_future()
            confirmations.append(confirmation)
            await asyncio.wait_for(confirmation, 10)

    task = asyncio.create_task(publisher())
    await asyncio.sleep(0)
    confirmations[-1].set_result(None)
    task.cancel()  # lands in the same loop iteration as the confirmation
    await asyncio.sleep(0.05)
    if sys.version_info < (3, 12):
        assert not task.done(), "Python 3.11 swallows this cancel; the test no longer shows the race"
    await asyncio.wait_for(stop_task(task, "publisher"), 5)
    assert task.cancelled()


async def test_modbus_device_loss_bad_with_reason_jittered_backoff_then_good(
    device: DeviceServer, caplog: pytest.LogCaptureFixture,  # noqa: F811
) -> None:
    twin = build_twin({"Speed": Int})
    source, binding = press_speed(device, interval_ms=50)
    backoff = Backoff(initial_s=0.05, max_s=0.4, jitter=0.5)
    source = source.model_copy(update={"backoff": backoff, "timeout_s": 0.5})
    adapter = ModbusAdapter(source, [("bindings[0]", binding)], twin)
    speed = twin.live("urn:twinbridge:test:sm:signals", "Speed")
    await device.set("holding_register", 3, [1200])
    caplog.set_level(logging.INFO, logger="twinbridge.adapters")
    await adapter.start()
    try:
        await adapter.wait_connected(5)
        await eventually(lambda: speed.quality is Quality.GOOD)
        assert adapter.connection.state is ConnectionState.CONNECTED and adapter.connection.reason == ""

        await device.stop()
        await eventually(lambda: speed.quality is Quality.BAD, what="Bad after the device left")
        assert adapter.connection.state is ConnectionState.RECONNECTING
        assert adapter.connection.reason.startswith(("connection lost: ", "cannot connect: "))
        assert speed.element.value == 1200  # type: ignore[union-attr]  # the last value stays, flagged Bad
        await eventually(lambda: adapter.connection.stats.failures >= 5, timeout=10, what="retries")
        assert adapter.connection.reason.startswith("cannot connect: ")
        assert adapter.connection.stats.outages == 1  # Bad once per outage, not once per retry
        for attempt, delay in enumerate(list(adapter.connection.stats.delays)):
            top = ceiling(backoff, attempt)
            assert top * (1 - backoff.jitter) - 1e-9 <= delay <= top, (attempt, delay)
        warnings = [r.getMessage() for r in caplog.records
                    if r.name == "twinbridge.adapters" and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "Modbus source 'press'" in warnings[0]  # rate-limited: one line
        assert "retrying in" in warnings[0]

        await device.start()
        await device.set("holding_register", 3, [1300])
        await eventually(lambda: speed.quality is Quality.GOOD, timeout=10, what="Good after the device returned")
        assert speed.element.value == 1300  # type: ignore[union-attr]
        assert adapter.connection.state is ConnectionState.CONNECTED and adapter.connection.reason == ""
        assert adapter.connection.stats.connects == 2 and adapter.connection.stats.losses == 1
        assert any("connected" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    finally:
        await adapter.stop()
    assert adapter.connection.state is ConnectionState.STOPPED and speed.quality is Quality.BAD


async def test_mqtt_broker_loss_bad_with_reason_then_good(mosquitto: Mosquitto) -> None:
    twin = machine_twin()
    point = MqttPoint(topic="plant/m1/temperature", payload="text")
    binding = Binding(source="broker", target=ElementTarget(shell="Machine", submodel="Signals", path="Temperature"),
                      mqtt=point)
    source = MqttSource(name="broker", url=mosquitto.url, backoff=Backoff(initial_s=0.05, max_s=0.3))
    adapter = MqttAdapter(source, [("bindings[0]", binding)], twin)
    temperature = twin.live(SUBMODEL_ID, "Temperature")
    await adapter.start()
    publisher: Publisher | None = None
    try:
        await adapter.wait_connected(10)
        publisher = Publisher(mosquitto.port)
        publisher.publish("plant/m1/temperature", "21.5")
        await eventually(lambda: temperature.quality is Quality.GOOD)

        publisher.close()
        publisher = None
        mosquitto.stop()
        await eventually(lambda: temperature.quality is Quality.BAD, what="Bad after the broker left")
        assert adapter.connection.state is ConnectionState.RECONNECTING
        assert adapter.connection.reason.startswith(("connection lost: ", "cannot connect: "))
        await eventually(lambda: adapter.connection.stats.failures >= 2, what="retries")
        assert "cannot connect: " in adapter.connection.reason and "refused" in adapter.connection.reason
        assert adapter.stats.broker_losses == 1

        mosquitto.start()
        await adapter.wait_connected(10)
        publisher = Publisher(mosquitto.port)
        publisher.publish("plant/m1/temperature", "22.5")
        await eventually(lambda: temperature.quality is Quality.GOOD, what="Good after the broker returned")
        assert adapter.connection.state is ConnectionState.CONNECTED and adapter.connection.reason == ""
        assert adapter.connection.stats.connects == 2
    finally:
        if publisher is not None:
            publisher.close()
        await adapter.stop()
