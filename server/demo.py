"""The demo's devices: a simulated Modbus gateway, simulated MQTT machines and, unless a real
broker is given, an embedded amqtt broker (the demo's only use of amqtt).

The plant file's ``demo:`` section says which source each simulator stands in for; the
demo points those sources at the simulators (ports it actually got), so the same plant
file runs against real devices by simply not running ``demo``.

The embedded broker listens on a fixed port -- the one the MQTT source's URL names (1883 in
examples/plant.yaml), or ``--mqtt-port`` -- so an MQTT client can be pointed at it from the
README; when that port is taken the demo stops with a message naming both flags instead of
moving to a random port that only the log would tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

from amqtt.broker import Broker

from twinbridge.adapters.modbus.config import ModbusSource
from twinbridge.adapters.mqtt.config import MqttSource, shown_url
from twinbridge.adapters.simulators.modbus_device import BearingWear, SimulatedModbusDevice
from twinbridge.adapters.simulators.mqtt_machine import SimulatedMqttMachines
from twinbridge.server.config import DemoSettings, PlantFile

log = logging.getLogger(__name__)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


DEFAULT_MQTT_PORT = 1883
STOP_TIMEOUT_S = 5.0


async def _bounded(stopping: Coroutine[Any, Any, Any], what: str) -> None:
    try:
        await asyncio.wait_for(stopping, STOP_TIMEOUT_S)
    except TimeoutError:
        log.warning("%s did not stop within %.0f s; leaving it behind", what, STOP_TIMEOUT_S)


class BrokerPortTaken(OSError):
    """The embedded broker's port is in use; the message names the flags that choose another."""


class DemoDevices:
    """Starts the simulators and rewrites the plant file's sources to reach them."""

    def __init__(self, plant_file: PlantFile, mqtt_url: str | None = None, mqtt_port: int | None = None) -> None:
        self.original = plant_file
        self.plant_file = plant_file
        self.settings = plant_file.demo or DemoSettings()
        self.mqtt_url = mqtt_url
        self.mqtt_port = mqtt_port
        self.broker_url: str | None = None
        self.modbus_endpoint: str | None = None
        self.modbus: SimulatedModbusDevice | None = None
        self.mqtt: SimulatedMqttMachines | None = None
        self.broker: Broker | None = None

    async def start(self) -> None:
        sources = {source.name: source for source in self.original.southbound.sources}
        overrides: dict[str, ModbusSource | MqttSource] = {}
        if self.settings.modbus is not None:
            source = sources[self.settings.modbus.source]
            assert isinstance(source, ModbusSource)
            port = source.port if _port_is_free(source.host, source.port) else 0
            worn = self.settings.modbus.worn_bearing
            self.modbus = SimulatedModbusDevice(source.host, port, machines=self.settings.modbus.machines,
                                                wear={worn: BearingWear()} if worn is not None else None)
            await self.modbus.start()
            overrides[source.name] = source.model_copy(update={"port": self.modbus.port})
            self.modbus_endpoint = f"{source.host}:{self.modbus.port}"
            log.info("simulated Modbus gateway on %s:%d (%d machines)", source.host, self.modbus.port,
                     self.settings.modbus.machines)
        if self.settings.mqtt is not None:
            source = sources[self.settings.mqtt.source]
            assert isinstance(source, MqttSource)
            url = self.mqtt_url or await self._start_broker(source.url)
            overrides[source.name] = source.model_copy(update={"url": url})
            self.mqtt = SimulatedMqttMachines(url, machines=self.settings.mqtt.machines,
                                              interval_s=self.settings.mqtt.interval_s, group=self.settings.mqtt.group)
            await self.mqtt.start()
            log.info("simulated MQTT machines %s publishing to %s", ", ".join(self.settings.mqtt.machines),
                     shown_url(url))
        self.plant_file = self.original.with_sources(overrides)

    async def stop(self) -> None:
        """Each simulator gets STOP_TIMEOUT_S: a simulated MQTT machine cancelled inside its aiomqtt
        client once waited forever for a disconnect on a loaded machine (seen under load 10), which
        kept ``twinbridge demo`` alive after SIGTERM. The broker's shutdown closes what is left."""
        if self.mqtt is not None:
            await _bounded(self.mqtt.stop(), "the simulated MQTT machines")
        if self.modbus is not None:
            await _bounded(self.modbus.stop(), "the simulated Modbus gateway")
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await _bounded(self.broker.shutdown(), "the embedded MQTT broker")

    def banner_lines(self) -> list[str]:
        lines = []
        if self.broker_url is not None:
            lines.append(f"  embedded MQTT broker: {self.broker_url}  (choose the port with --mqtt-port)")
        if self.modbus_endpoint is not None:
            lines.append(f"  simulated Modbus gateway: {self.modbus_endpoint}")
        return lines

    async def _start_broker(self, source_url: str) -> str:
        """The embedded broker on ``--mqtt-port``, else the source URL's port (default 1883)."""
        host = "127.0.0.1"
        port = self.mqtt_port or urlsplit(source_url).port or DEFAULT_MQTT_PORT
        if not _port_is_free(host, port):
            raise BrokerPortTaken(
                f"port {port} for the demo's embedded MQTT broker is in use (another broker?); "
                f"choose a free one with --mqtt-port PORT, or use the running broker with --mqtt-url mqtt://{host}:{port}")
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        self.broker = Broker({
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        })
        await self.broker.start()
        self.broker_url = f"mqtt://{host}:{port}"
        log.info("embedded MQTT broker (amqtt) on %s", self.broker_url)
        return self.broker_url

