"""Real peers for the MQTT tests: a Mosquitto broker of our own and a small twin to feed.

Use in a test module with ``from tests.adapters.mqtt_fixtures import mosquitto_fixture  # noqa: F401``
and a ``mosquitto`` argument. The broker listens on a free port of 127.0.0.1 with its own
configuration in a temp dir, and can be stopped and started again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from basyx.aas import model

from tests.peers import missing_peer
from tests.ports import free_port
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin

MOSQUITTO = "/usr/sbin/mosquitto"
SHELL_ID = "urn:twinbridge:test:shell:mqtt-machine"
SUBMODEL_ID = "urn:twinbridge:test:sm:mqtt-signals"

PROPERTIES: dict[str, type] = {
    "Temperature": model.datatypes.Double,
    "Speed": model.datatypes.Int,
    "Running": model.datatypes.Boolean,
    "State": model.datatypes.String,
    "Power": model.datatypes.Float,
    "Setpoint": model.datatypes.Double,
    "Count": model.datatypes.Long,
}



class Mosquitto:
    """A mosquitto process; ``extra`` lines (TLS files, a password file) follow its listener line."""

    def __init__(self, directory: Path, extra: list[str] | None = None, anonymous: bool = True) -> None:
        self.directory = directory
        self.port = free_port()
        self.extra = extra or []
        self.anonymous = anonymous
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.directory / "mosquitto.conf"
        config.write_text(
            "\n".join([
                f"listener {self.port} 127.0.0.1",
                f"allow_anonymous {'true' if self.anonymous else 'false'}",
                "persistence false",
                "max_queued_messages 0",
                f"user {getpass.getuser()}",  # as root, mosquitto would switch to a user who cannot read tmp_path
                *self.extra,
                "",
            ])
        )
        with self.log.open("ab") as output:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=output, stderr=output)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(name="mosquitto")
def mosquitto_fixture(tmp_path: Path) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).exists() and shutil.which("mosquitto") is None:
        missing_peer(f"the MQTT tests need a Mosquitto broker binary ({MOSQUITTO}); apt-get install mosquitto")
    broker = Mosquitto(tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def machine_twin() -> Twin:
    """One shell with one submodel ``Signals`` holding a Property of each type in PROPERTIES."""
    twin = Twin()
    submodel = model.Submodel(
        SUBMODEL_ID,
        id_short="Signals",
        submodel_element=[model.Property(name, value_type) for name, value_type in PROPERTIES.items()],
    )
    shell = model.AssetAdministrationShell(
        model.AssetInformation(global_asset_id="urn:twinbridge:test:asset:mqtt-machine"),
        SHELL_ID,
        id_short="Machine",
        submodel={model.ModelReference.from_referable(submodel)},
    )
    twin.create(submodel)
    twin.create(shell)
    return twin


class Publisher:
    """A plain paho client publishing to the test broker (the 'device' side)."""

    def __init__(self, port: int) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.received: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self.client.on_message = lambda _client, _data, message: self.received.append(
            (message.topic, bytes(message.payload))
        )
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def subscribe(self, topic: str) -> None:
        """Subscribe and wait for the broker's SUBACK, so nothing published afterwards is missed."""
        self._subscribed.clear()
        result, _ = self.client.subscribe(topic, qos=1)
        assert result == paho.MQTT_ERR_SUCCESS
        assert self._subscribed.wait(5), f"no SUBACK for {topic!r}"

    def close(self) -> None:
        self.client.disconnect()  # before loop_stop, which otherwise waits out the loop's 1 s select
        self.client.loop_stop()


async def eventually(condition: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    """Wait (without a timing assertion) until ``condition()`` is truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def value_of(handle: LiveElement) -> object:
    element = handle.element
    assert isinstance(element, model.Property)
    return element.value
