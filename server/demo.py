"""The demo's devices: a simulated Modbus gateway, simulated MQTT machines and, unless a real
broker is given, an embedded amqtt broker (the demo's only use of amqtt).

The plant file's ``demo:`` section says which source each simulator stands in for; the
demo points those sources at the simulators (ports it actually got), so the same plant
file runs against real devices by simply not running ``demo``.
"""

from __future__ import annotations

import contextlib
import logging
import socket

from amqtt.broker import Broker

from twinbridge.adapters.modbus.config import ModbusSource
from twinbridge.adapters.mqtt.config import MqttSource
from twinbridge.adapters.simulators.modbus_device import SimulatedModbusDevice
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


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class DemoDevices:
    """Starts the simulators and rewrites the plant file's sources to reach them."""

    def __init__(self, plant_file: PlantFile, mqtt_url: str | None = None) -> None:
        self.original = plant_file
        self.plant_file = plant_file
        self.settings = plant_file.demo or DemoSettings()
        self.mqtt_url = mqtt_url
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
            self.modbus = SimulatedModbusDevice(source.host, port, machines=self.settings.modbus.machines)
            await self.modbus.start()
            overrides[source.name] = source.model_copy(update={"port": self.modbus.port})
            log.info("simulated Modbus gateway on %s:%d (%d machines)", source.host, self.modbus.port,
                     self.settings.modbus.machines)
        if self.settings.mqtt is not None:
            source = sources[self.settings.mqtt.source]
            assert isinstance(source, MqttSource)
            url = self.mqtt_url or await self._start_broker()
            overrides[source.name] = source.model_copy(update={"url": url})
            self.mqtt = SimulatedMqttMachines(url, machines=self.settings.mqtt.machines,
                                              interval_s=self.settings.mqtt.interval_s, group=self.settings.mqtt.group)
            await self.mqtt.start()
            log.info("simulated MQTT machines %s publishing to %s", ", ".join(self.settings.mqtt.machines), url)
        self.plant_file = self.original.with_sources(overrides)

    async def stop(self) -> None:
        if self.mqtt is not None:
            await self.mqtt.stop()
        if self.modbus is not None:
            await self.modbus.stop()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await self.broker.shutdown()

    async def _start_broker(self) -> str:
        """The embedded broker listens on 1883 when it is free, else on a free port."""
        host = "127.0.0.1"
        port = 1883 if _port_is_free(host, 1883) else _free_port(host)
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        self.broker = Broker({
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        })
        await self.broker.start()
        log.info("embedded MQTT broker (amqtt) on mqtt://%s:%d", host, port)
        return f"mqtt://{host}:{port}"

