"""The compat checks pass on the pinned libraries and, when a hook we rely on is gone, stop the
start with a message naming the hook and the tested version (the libraries are altered here the
way a release that renamed the hook would alter them)."""

from __future__ import annotations

from collections.abc import Callable

import aiomqtt
import paho.mqtt.client as paho
import pytest
import uvicorn
from pymodbus.client import AsyncModbusTcpClient

from tests.adapters.mqtt_fixtures import (
    Mosquitto,
    Publisher,
    eventually,
    mosquitto_fixture,  # noqa: F401
)
from twinbridge.adapters.modbus import compat_pymodbus
from twinbridge.adapters.mqtt import compat_aiomqtt, compat_paho
from twinbridge.server import compat_uvicorn


async def test_every_check_passes_on_the_pinned_versions() -> None:
    compat_aiomqtt.check()
    compat_paho.check()
    compat_pymodbus.check()
    compat_uvicorn.check()


async def test_a_renamed_aiomqtt_message_hook_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(aiomqtt.Client, "_on_message")
    with pytest.raises(compat_aiomqtt.AiomqttCompatError,
                       match=r"aiomqtt.Client._on_message is missing .* tested with aiomqtt 2\.5\.1"):
        compat_aiomqtt.check()


async def test_an_aiomqtt_that_no_longer_installs_the_hook_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    original: Callable[..., None] = aiomqtt.Client.__init__

    def without_hook(self: aiomqtt.Client, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        self._client.on_message = None

    monkeypatch.setattr(aiomqtt.Client, "__init__", without_hook)
    with pytest.raises(compat_aiomqtt.AiomqttCompatError, match="no longer installs _on_message"):
        compat_aiomqtt.check()


async def test_an_aiomqtt_without_the_socket_open_hook_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    original: Callable[..., None] = aiomqtt.Client.__init__

    def without_hook(self: aiomqtt.Client, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        self._client.on_socket_open = None

    monkeypatch.setattr(aiomqtt.Client, "__init__", without_hook)
    with pytest.raises(compat_aiomqtt.AiomqttCompatError, match="burst reader would never run"):
        compat_aiomqtt.check()


async def test_a_burst_of_messages_arrives_whole_and_in_order(mosquitto: Mosquitto) -> None:
    """The burst reader reads many packets per socket event: none lost, none reordered, QoS 0 and 1."""
    received: list[tuple[str, bytes]] = []
    client = compat_aiomqtt.HandlerClient(lambda topic, payload: received.append((topic, payload)),
                                          hostname="127.0.0.1", port=mosquitto.port)
    async with client:
        await client.subscribe([("burst/#", 1)])
        publisher = Publisher(mosquitto.port)
        try:
            sent = [(f"burst/{i % 3}", str(i).encode()) for i in range(2_000)]
            for index, (topic, payload) in enumerate(sent):
                publisher.client.publish(topic, payload, qos=index % 2)
            publisher.publish("burst/end", b"end")
            await eventually(lambda: received and received[-1] == ("burst/end", b"end"), 20.0, "the burst")
        finally:
            publisher.close()
    # MQTT orders messages per QoS (the publisher's QoS 1 window lets QoS 0 overtake), so compare per QoS
    assert sorted(received[:-1]) == sorted(sent)
    for qos in (0, 1):
        assert [m for m in received[:-1] if int(m[1]) % 2 == qos] == [m for m in sent if int(m[1]) % 2 == qos]
    assert client.delivered == len(sent) + 1


async def test_a_pymodbus_without_device_id_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def read_coils(self: AsyncModbusTcpClient, address: int, *, count: int = 1, slave: int = 1) -> None: ...

    monkeypatch.setattr(AsyncModbusTcpClient, "read_coils", read_coils)
    with pytest.raises(compat_pymodbus.PymodbusCompatError,
                       match=r"read_coils takes no device_id=.* tested with pymodbus 3\.16\.1"):
        compat_pymodbus.check()


def test_a_uvicorn_that_no_longer_calls_capture_signals_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    async def serve(self: uvicorn.Server, sockets: object = None) -> None: ...

    monkeypatch.setattr(uvicorn.Server, "serve", serve)
    with pytest.raises(compat_uvicorn.UvicornCompatError, match=r"no longer calls capture_signals\(\)"):
        compat_uvicorn.check()


async def test_a_paho_that_dispatches_messages_elsewhere_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A paho release whose PUBLISH handling no longer ends in ``_handle_on_message`` would lose
    every message: the probe packet must arrive."""
    monkeypatch.setattr(paho.Client, "_handle_publish", lambda self: paho.MQTTErrorCode.MQTT_ERR_SUCCESS)
    with pytest.raises(compat_paho.PahoCompatError, match=r"did not arrive .* tested with paho-mqtt 2\.2\.0"):
        compat_paho.check()


async def test_a_paho_that_reads_the_socket_elsewhere_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A packet reader that no longer calls ``_sock_recv`` would bypass the buffer: the probe,
    read with the buffer's stand-in failing, must not arrive unnoticed."""
    def broken(self: paho.Client, size: int) -> bytes:
        raise OSError("not this way")

    monkeypatch.setattr(compat_paho, "_PAHO_RECEIVE", broken)
    with pytest.raises(compat_paho.PahoCompatError, match="did not arrive"):
        compat_paho.check()


async def test_a_renamed_paho_receive_hook_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(paho.Client, "_handle_on_message")
    with pytest.raises(compat_paho.PahoCompatError, match=r"paho.Client._handle_on_message is missing"):
        compat_paho.check()
