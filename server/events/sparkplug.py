"""Sparkplug B 3.0 northbound: the host application's STATE, and twinbridge as an edge node.

Host application (``host_id``): twinbridge consumes Sparkplug edge nodes (the MQTT adapter), so
it says whether it is online the Sparkplug 3.0 way: ``spBv1.0/STATE/{host_id}``, retained, QoS 1,
``{"online": true, "timestamp": ms}`` once connected, and the same with ``online: false`` as
the MQTT will (the broker publishes it if twinbridge dies) and on a clean stop. Edge nodes that
name twinbridge as their primary host wait for it before they publish.

Edge node (``edge_node``): SCADA systems that speak Sparkplug (Ignition and others) see the
twin as one edge node with one device per asset (shell) of the hierarchy. The device's
metrics are its submodels' Properties, named ``{submodel idShort}/{idShortPath with /}``,
typed from the Property's valueType, each with an alias unique in the node. The session:

- CONNECT with the will NDEATH carrying ``bdSeq`` (0..255, one more per MQTT session);
- NBIRTH (``seq`` 0; metrics ``bdSeq`` and ``Node Control/Rebirth``), then one DBIRTH per device
  with every metric's name, alias, datatype, value and timestamp;
- DDATA on change: the hub's value events, one message per device per batch, metrics by alias;
- a structural change rebuilds the device map: a device whose metrics changed gets DDEATH then
  DBIRTH, a new asset a DBIRTH, a removed one a DDEATH;
- NCMD ``Node Control/Rebirth`` = true: NBIRTH and every DBIRTH again (same bdSeq, seq from 0);
- ``seq`` runs 0..255 over NBIRTH/DBIRTH/DDATA/DDEATH; a clean stop publishes NDEATH itself;
- a metric whose value is not Good carries the Sparkplug 3.0 ``Quality`` property (PropertySet key
  ``Quality``, type Int32, int_value): Bad is 0, Uncertain 500 (STALE: the spec allows only 0, 192
  and 500, so not the OPC DA 64 some hosts use), and 192 (GOOD) once when it becomes Good again
  (the spec makes the property optional for Good values: a host would keep showing the old one).
  The node has no metrics of its own that change (bdSeq and Rebirth only), so there is no NDATA.

Payloads are encoded with the protobuf classes the Sparkplug adapter decodes with
(``adapters.sparkplug.payloads``); the tests read them with an independent decoder.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from basyx.aas import model

from twinbridge.aas.twin import Twin
from twinbridge.adapters.sparkplug import payloads
from twinbridge.adapters.sparkplug.payloads import BD_SEQ, REBIRTH, DataType, Payload
from twinbridge.adapters.sparkplug.topics import NAMESPACE
from twinbridge.adapters.supervisor import describe
from twinbridge.analytics.virtual import walk_elements
from twinbridge.server.events.hub import EventHub, Logged
from twinbridge.server.events.settings import SparkplugEvents
from twinbridge.server.events.stats import EventStats
from twinbridge.server.events.wire import Endpoint, MqttWire, MqttWireError, Will

log = logging.getLogger(__name__)

_RETRY_S = (0.5, 1.0, 2.0, 5.0)
_STRUCTURE = frozenset({"created", "updated", "deleted"})
_TOKEN = re.compile(r"[/+#\s]")
QUALITY_CODES: dict[str, int] = {"Good": 192, "Uncertain": 500, "Bad": 0}
"""Sparkplug 3.0 quality codes (Payloads, Quality Codes): 0 BAD, 192 GOOD, 500 STALE."""
_TYPES: dict[type, DataType] = {
    model.datatypes.Boolean: DataType.BOOLEAN,
    model.datatypes.Byte: DataType.INT8, model.datatypes.Short: DataType.INT16, model.datatypes.Int: DataType.INT32,
    model.datatypes.Long: DataType.INT64, model.datatypes.Integer: DataType.INT64,
    model.datatypes.UnsignedByte: DataType.UINT8, model.datatypes.UnsignedShort: DataType.UINT16,
    model.datatypes.UnsignedInt: DataType.UINT32, model.datatypes.UnsignedLong: DataType.UINT64,
    model.datatypes.NonNegativeInteger: DataType.UINT64, model.datatypes.PositiveInteger: DataType.UINT64,
    model.datatypes.NegativeInteger: DataType.INT64, model.datatypes.NonPositiveInteger: DataType.INT64,
    model.datatypes.Float: DataType.FLOAT, model.datatypes.Double: DataType.DOUBLE,
    model.datatypes.Decimal: DataType.DOUBLE, model.datatypes.DateTime: DataType.DATETIME,
}


def state_payload(online: bool, timestamp_ms: int) -> bytes:
    """Sparkplug 3.0 host application STATE (JSON)."""
    return orjson.dumps({"online": online, "timestamp": timestamp_ms})


class SparkplugHostState:
    """A ``Service``: keeps ``spBv1.0/STATE/{host_id}`` true while twinbridge runs."""

    def __init__(self, settings: SparkplugEvents, host_id: str) -> None:
        self.settings = settings
        self.topic = f"{NAMESPACE}/STATE/{host_id}"
        self.online = False
        self._endpoint = Endpoint.from_url(settings.url, settings.username, settings.password, settings.tls)
        self._wire: MqttWire | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sparkplug host state")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        wire = self._wire
        if wire is not None and self.online:
            with contextlib.suppress(MqttWireError, OSError):
                wire.publish(self.topic, state_payload(False, payloads.now_ms()), qos=1, retain=True)
                await asyncio.wait_for(wire.acknowledged(), 5.0)
        if wire is not None:
            await wire.close()
        self.online = False

    def banner_lines(self) -> list[str]:
        return [f"  Sparkplug host STATE {self.topic} on {self.settings.url}"]

    async def _run(self) -> None:
        failures = 0
        client_id = f"{self.settings.client_id or 'twinbridge'}-host"
        while True:
            # Sparkplug 3.0: the will's timestamp is the one of the birth it ends
            birth = payloads.now_ms()
            wire = self._wire = MqttWire(self._endpoint, client_id, keepalive_s=self.settings.keepalive_s,
                                         will=Will(self.topic, state_payload(False, birth), qos=1, retain=True))
            try:
                await wire.connect()
                wire.publish(self.topic, state_payload(True, birth), qos=1, retain=True)
                await wire.acknowledged()
                self.online, failures = True, 0
                log.info("Sparkplug host application online: %s", self.topic)
                assert wire.closed is not None
                await asyncio.shield(wire.closed)  # cancelling this task must not end the session
            except (MqttWireError, OSError, TimeoutError) as error:
                log.warning("Sparkplug STATE: broker %s: %s; retrying", self.settings.url, describe(error))
                self.online = False
                await wire.close()
            await asyncio.sleep(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
            failures += 1


@dataclass(slots=True)
class Metric:
    name: str
    alias: int
    datatype: DataType
    device: str


@dataclass(slots=True)
class Device:
    id: str
    shell_id: str
    metrics: list[tuple[str, str, Metric]]
    """(submodel id, idShortPath, metric), in birth order."""

    def signature(self) -> list[tuple[str, int, int]]:
        return [(metric.name, metric.alias, metric.datatype) for _, _, metric in self.metrics]


class SparkplugEdgeNode:
    """A ``Service``: one Sparkplug edge node session at a time, following the hub's log."""

    def __init__(self, twin: Twin, settings: SparkplugEvents, hub: EventHub, stats: EventStats) -> None:
        assert settings.edge_node is not None
        self.twin = twin
        self.settings = settings
        self.group = settings.edge_node.group_id
        self.node = settings.edge_node.node_id
        self.hub = hub
        self.stats = stats
        self.bd_seq = -1
        self.seq = 0
        self.connected = False
        self.births = 0
        self.devices: dict[str, Device] = {}
        self._by_element: dict[tuple[str, str], Metric] = {}
        self._aliases: dict[tuple[str, str], int] = {}
        self._not_good: dict[int, str] = {}
        """Aliases whose last published value was not Good (their quality)."""
        self._endpoint = Endpoint.from_url(settings.url, settings.username, settings.password, settings.tls)
        self._rebirth: asyncio.Future[None]  # made in start(), on the loop that runs the session
        self._wire: MqttWire | None = None
        self._task: asyncio.Task[None] | None = None
        self.cursor = 0

    def topic(self, kind: str, device: str | None = None) -> str:
        return f"{NAMESPACE}/{self.group}/{kind}/{self.node}" + ("" if device is None else f"/{device}")

    async def start(self) -> None:
        self._rebirth = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name="sparkplug edge node")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        wire = self._wire
        if wire is not None and self.connected:
            with contextlib.suppress(MqttWireError, OSError):  # a clean stop says so itself (no will)
                wire.publish(self.topic("NDEATH"), self._death(), qos=1)
                await asyncio.wait_for(wire.acknowledged(), 5.0)
        if wire is not None:
            await wire.close()
        self.connected = False

    def banner_lines(self) -> list[str]:
        return [f"  Sparkplug edge node {self.group}/{self.node} on {self.settings.url} "
                f"({len(self.devices)} devices)"]

    # ------------------------------------------------------------ session
    async def _run(self) -> None:
        failures = 0
        client_id = self.settings.client_id or f"twinbridge-{self.node}"
        while True:
            self.bd_seq = (self.bd_seq + 1) % 256
            wire = self._wire = MqttWire(self._endpoint, client_id, keepalive_s=self.settings.keepalive_s,
                                         will=Will(self.topic("NDEATH"), self._death(), qos=1),
                                         on_message=self._command)
            try:
                await wire.connect()
                await wire.subscribe([(self.topic("NCMD"), 1), (f"{self.topic('DCMD')}/+", 1)])
                self.connected, failures = True, 0
                self._birth(wire)
                await self._follow(wire)
                return  # the hub stopped; ``stop`` ends the session with NDEATH
            except (MqttWireError, OSError, TimeoutError) as error:
                log.warning("Sparkplug edge node: broker %s: %s; retrying", self.settings.url, describe(error))
                self.connected = False
                await wire.close()
            await asyncio.sleep(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
            failures += 1

    async def _follow(self, wire: MqttWire) -> None:
        hub = self.hub
        assert wire.closed is not None
        while not hub.closed:
            if hub.head <= self.cursor and not self._rebirth.done():
                await asyncio.wait((hub.grown(), self._rebirth, wire.closed), return_when=asyncio.FIRST_COMPLETED)
                if wire.closed.done():
                    wire.closed.result()
                continue
            if self._rebirth.done():
                self._rebirth = asyncio.get_running_loop().create_future()
                log.info("Sparkplug edge node %s/%s: rebirth requested", self.group, self.node)
                self._birth(wire)
                continue
            lost, events = hub.since(self.cursor, 5_000)
            if lost:
                self.stats.count("sparkplug", dropped=lost)
            if events:
                self.cursor = events[-1].seq
                self._publish(wire, events)
            await wire.drain()

    def _command(self, topic: str, data: bytes) -> None:
        try:
            payload = payloads.decode(data)
        except payloads.SparkplugDecodeError:
            log.warning("Sparkplug edge node: an undecodable command on %s", topic)
            return
        for metric in payload.metrics:
            if metric.name == REBIRTH and metric.boolean_value and not self._rebirth.done():
                self._rebirth.set_result(None)

    # ------------------------------------------------------------ messages
    def _next_seq(self) -> int:
        seq = self.seq
        self.seq = (seq + 1) % 256
        return seq

    def _death(self) -> bytes:
        payload = Payload(timestamp=payloads.now_ms())
        payloads.set_value(payload.metrics.add(name=BD_SEQ), DataType.INT64, self.bd_seq)
        return bytes(payload.SerializeToString())

    def _birth(self, wire: MqttWire) -> None:
        """NBIRTH and every DBIRTH: the node's session (re)starts from the twin as it is now."""
        self.cursor = self.hub.head  # values from now on are DDATA; the births carry the present
        self.devices = self._device_map()
        self.seq = 0
        self._not_good.clear()
        now = payloads.now_ms()
        node = Payload(timestamp=now, seq=self._next_seq())
        payloads.set_value(node.metrics.add(name=BD_SEQ, timestamp=now), DataType.INT64, self.bd_seq)
        payloads.set_value(node.metrics.add(name=REBIRTH, timestamp=now), DataType.BOOLEAN, False)
        messages = [(self.topic("NBIRTH"), bytes(node.SerializeToString()))]
        messages.extend(self._device_birth(device) for device in self.devices.values())
        wire.publish_many(messages, qos=0)
        self.births += 1
        self.stats.count("sparkplug", published=len(messages))

    def _device_birth(self, device: Device) -> tuple[str, bytes]:
        payload = Payload(timestamp=payloads.now_ms(), seq=self._next_seq())
        for submodel_id, path, metric in device.metrics:
            handle = self.twin.live(submodel_id, path)
            element = handle.element
            entry = payload.metrics.add(name=metric.name, alias=metric.alias,
                                        timestamp=int(handle.timestamp * 1000) if handle.timestamp else
                                        payload.timestamp)
            _set(entry, metric.datatype, getattr(element, "value", None))
            self._quality(entry, metric.alias, handle.quality.value)
        return self.topic("DBIRTH", device.id), bytes(payload.SerializeToString())

    def _device_death(self, device_id: str) -> tuple[str, bytes]:
        payload = Payload(timestamp=payloads.now_ms(), seq=self._next_seq())
        return self.topic("DDEATH", device_id), bytes(payload.SerializeToString())

    def _publish(self, wire: MqttWire, events: list[Logged]) -> None:
        data: dict[str, Any] = {}
        messages: list[tuple[str, bytes]] = []
        structure = False
        by_element = self._by_element
        for logged in events:
            event = logged.event
            if event.type == "valueChanged":
                metric = by_element.get((event.identifier, event.path or ""))
                if metric is None:
                    continue
                payload = data.get(metric.device)
                if payload is None:
                    payload = data[metric.device] = Payload(timestamp=payloads.now_ms())
                entry = payload.metrics.add(alias=metric.alias, timestamp=int((event.time or 0) * 1000))
                _set(entry, metric.datatype, event.data)
                entry.ClearField("datatype")  # Sparkplug 3.0: data messages leave it to the birth
                self._quality(entry, metric.alias, event.quality or "Good")
            elif event.type in _STRUCTURE:
                structure = True
        for device_id, payload in data.items():
            payload.seq = self._next_seq()
            messages.append((self.topic("DDATA", device_id), bytes(payload.SerializeToString())))
        if structure:
            messages.extend(self._restructure())
        if messages:
            wire.publish_many(messages, qos=0)
            self.stats.count("sparkplug", published=len(messages))

    def _quality(self, entry: Any, alias: int, quality: str) -> None:
        """The ``Quality`` property when the value is not Good, or is Good again (module doc)."""
        not_good = self._not_good
        if quality == "Good":
            if not_good.pop(alias, None) is None:
                return
        else:
            not_good[alias] = quality
        entry.properties.keys.append("Quality")
        value = entry.properties.values.add()
        value.type = DataType.INT32
        value.int_value = QUALITY_CODES[quality]

    def _restructure(self) -> Iterator[tuple[str, bytes]]:
        """DDEATH/DBIRTH for the devices a structural change touched."""
        old, new = self.devices, self._device_map()
        self.devices = new
        for device_id, device in old.items():
            if device_id not in new or new[device_id].signature() != device.signature():
                yield self._device_death(device_id)
        for device_id, device in new.items():
            if device_id not in old or old[device_id].signature() != device.signature():
                yield self._device_birth(device)

    def _device_map(self) -> dict[str, Device]:
        """One device per shell; metrics for every Property of its submodels (aliases kept stable)."""
        devices: dict[str, Device] = {}
        by_element: dict[tuple[str, str], Metric] = {}
        aliases = self._aliases
        for shell in list(self.twin.shells.values()):
            device_id = _TOKEN.sub("_", str(shell.id_short or shell.id))
            if device_id in devices:
                device_id = f"{device_id}_{len(devices)}"
            device = devices[device_id] = Device(device_id, shell.id, [])
            for reference in shell.submodel:
                submodel = self.twin.submodels.get(str(reference.key[-1].value))
                if submodel is None:
                    continue
                for path, element in walk_elements(submodel, ""):
                    if not isinstance(element, model.Property) or "[" in path:
                        continue
                    key = (submodel.id, path)
                    alias = aliases.get(key)
                    if alias is None:
                        alias = aliases[key] = len(aliases) + 1
                    metric = Metric(f"{submodel.id_short}/{path.replace('.', '/')}", alias,
                                    _TYPES.get(element.value_type, DataType.STRING), device_id)
                    device.metrics.append((submodel.id, path, metric))
                    by_element[key] = metric
        self._by_element = by_element
        return devices


def _set(entry: Any, datatype: DataType, value: Any) -> None:
    """The metric's value as ``datatype``; null when the twin's value does not fit it."""
    if datatype is DataType.DATETIME and isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    try:
        payloads.set_value(entry, datatype, value)
    except (ValueError, TypeError, OverflowError):
        entry.datatype = datatype  # set_value fails before it stores a value
        entry.is_null = True
