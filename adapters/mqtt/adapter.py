"""The MQTT adapter: one broker connection feeding the elements bound to it.

Hot path per message: topic index lookup → payload decode (JSON parsed once per message,
whatever number of bindings share the topic) → selector → converter → ``Twin.update``.

Bad input, per binding (the other bindings and the connection are unaffected):

- payload not JSON / not UTF-8, selected field missing or null, timestamp unreadable, value the
  element's type cannot take: the value is left unchanged, its quality turns Bad with the
  receive time as timestamp, and a warning is logged at most once per binding every 10 s;
- a topic nobody bound (possible with overlapping or Sparkplug filters): debug log, counted in
  ``stats.unbound``;
- the broker is lost, or cannot be reached at start: every bound value turns Bad until a fresh
  message arrives after the (re)connect. Reconnection (backoff with jitter, rate-limited logs,
  the reason in ``connection.reason``) is the shared ``ConnectionSupervisor``'s.

Write-back: a client write to a writable binding publishes to its ``command_topic`` — text:
the value as text; JSON: ``{"value": <value>, "timestamp": <epoch ms>}``; Sparkplug: an NCMD or
DCMD with the metric (the default command topic is the binding's node/device). The write is
refused (WriteRejected) when the broker is not connected; QoS is the binding's.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from twinbridge.aas.errors import WriteRejected
from twinbridge.aas.live import DeviceWriter, LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.adapters.binding import BindingError, resolve_target
from twinbridge.adapters.coerce import converter_for
from twinbridge.adapters.config import Binding
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource
from twinbridge.adapters.mqtt.connection import MqttConnection
from twinbridge.adapters.mqtt.payloads import epoch_seconds, parse_json, select, text
from twinbridge.adapters.mqtt.selectors import Selector
from twinbridge.adapters.mqtt.topics import TopicIndex
from twinbridge.adapters.sparkplug.session import SparkplugHost
from twinbridge.adapters.supervisor import ConnectionSupervisor, stop_tasks
from twinbridge.adapters.throttle import ThrottledLog

log = logging.getLogger(__name__)

_ROOT = Selector("$")
GOOD = Quality.GOOD
_UNPARSED = object()


@dataclass(slots=True)
class Route:
    """A resolved text or JSON binding: where its value goes and how to read it."""

    name: str
    handle: LiveElement
    json: bool
    selector: Selector
    stamp: Selector | None
    convert: Callable[[Any], Any]


@dataclass
class MqttStats:
    messages: int = 0
    updates: int = 0
    bad_payloads: int = 0
    unbound: int = 0
    commands: int = 0
    connects: int = 0
    broker_losses: int = 0  # the broker was lost, or could not be reached after start or a loss

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class MqttAdapter:
    """Feeds the elements of ``bindings`` (``(name, binding)``, e.g. ``("bindings[3]", b)``) from
    the broker of ``source``. Every target is resolved here; BindingError names the binding."""

    def __init__(self, source: MqttSource, bindings: Sequence[tuple[str, Binding]], twin: Twin) -> None:
        self.source = source
        self._twin = twin
        self._routes: TopicIndex[Route] = TopicIndex()
        self._qos: dict[str, int] = {}
        self._handles: list[LiveElement] = []
        self._sparkplug = SparkplugHost(twin, self._publish_soon)
        self._sparkplug_qos: int | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._warn = ThrottledLog(log)
        self.stats = MqttStats()
        for name, binding in bindings:
            point = binding.point("mqtt", MqttPoint)
            if binding.source != source.name or point is None:
                raise BindingError(f"{name}: not an MQTT binding of source {source.name!r}")
            handle = resolve_target(twin, binding.target, name)
            self._add(name, binding, point, handle)
        subscriptions = [(topic, self._qos[topic]) for topic in self._routes.filters()]
        if self._sparkplug_qos is not None:
            subscriptions += [(topic, self._sparkplug_qos) for topic in self._sparkplug.subscriptions()]
        self._connection = MqttConnection(source, subscriptions, self.handle_message)
        self._supervisor = ConnectionSupervisor(
            f"MQTT source {source.name!r} at {self._connection.address}", self._connection, source.backoff,
            on_up=self._up, on_down=self._down,
        )

    def _add(self, name: str, binding: Binding, point: MqttPoint, handle: LiveElement) -> None:
        if binding.writable and point.command_topic is None and point.payload != "sparkplug":
            raise BindingError(f"{name}: a writable MQTT binding needs a 'command_topic'")
        value_type = handle.value_type
        assert value_type is not None  # resolve_target only returns Properties
        convert = converter_for(value_type)
        # MqttPoint's validator already checked topics, selectors and the sparkplug fields.
        if point.payload == "sparkplug":
            assert point.value is not None
            self._sparkplug.add(name, point.topic, point.value, handle, convert)
            self._sparkplug_qos = max(self._sparkplug_qos or 0, point.qos)
        else:
            selector = Selector(point.value) if point.value else _ROOT
            stamp = Selector(point.timestamp) if point.timestamp else None
            self._routes.add(point.topic, Route(name, handle, point.payload == "json", selector, stamp, convert))
            self._qos[point.topic] = max(self._qos.get(point.topic, 0), point.qos)
        self._twin.bind(handle, self._writer(name, point) if binding.writable else None)
        self._handles.append(handle)

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self._supervisor.start()

    async def stop(self) -> None:
        """Leave the broker; the values stay but turn Bad, since nothing keeps them current."""
        await stop_tasks(list(self._pending), f"MQTT source {self.source.name!r} publish")
        await self._supervisor.stop()
        now = time.time()
        for handle in self._handles:
            self._twin.set_quality(handle, Quality.BAD, now)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until the broker session is up and subscribed (tests, start-up checks)."""
        await self._supervisor.wait_connected(timeout)

    @property
    def connection(self) -> ConnectionSupervisor:
        return self._supervisor

    @property
    def connected(self) -> bool:
        return self._supervisor.connected

    @property
    def sparkplug(self) -> SparkplugHost:
        return self._sparkplug

    def _up(self) -> None:
        self.stats.connects += 1
        if self._sparkplug_qos is not None:
            self._sparkplug.request_rebirths()

    def _down(self, reason: str) -> None:
        self.stats.broker_losses += 1
        now = time.time()
        for handle in self._handles:
            self._twin.set_quality(handle, Quality.BAD, now)

    # ------------------------------------------------------------ messages
    def handle_message(self, topic: str, payload: bytes) -> None:
        """One incoming message (called by the connection, synchronously, on the event loop)."""
        self.stats.messages += 1
        if self._sparkplug_qos is not None and topic.startswith("spBv1.0/") and self._sparkplug.handle(topic, payload):
            return
        routes = self._routes.lookup(topic)
        if not routes:
            self.stats.unbound += 1
            log.debug("MQTT message on unbound topic %r ignored", topic)
            return
        update = self._twin.update
        document: Any = _UNPARSED
        updated = 0
        for route in routes:
            try:
                if route.json:
                    if document is _UNPARSED:
                        document = parse_json(payload)
                    raw = select(route.selector, document)
                    stamp = epoch_seconds(select(route.stamp, document)) if route.stamp is not None else None
                else:
                    raw = text(payload)
                    stamp = None
                value = route.convert(raw)
            except (ValueError, TypeError, ArithmeticError) as error:
                self._bad(route, topic, error)
                continue
            update(route.handle, value, stamp, GOOD)
            updated += 1
        self.stats.updates += updated

    def _bad(self, route: Route, topic: str, error: Exception) -> None:
        self.stats.bad_payloads += 1
        self._warn.warning(route.name, f"{route.name}: message on {topic!r} gives no value: {error}")
        self._twin.set_quality(route.handle, Quality.BAD)

    # ------------------------------------------------------------ write-back
    def _writer(self, name: str, point: MqttPoint) -> DeviceWriter:
        qos = point.qos

        async def write(value: Any) -> None:
            if point.payload == "sparkplug":
                assert point.value is not None
                try:
                    topic, data = self._sparkplug.command(point.topic, point.value, value)
                except ValueError as error:
                    raise WriteRejected(f"{name}: {error}") from None
                topic = point.command_topic or topic
            else:
                assert point.command_topic is not None
                topic, data = point.command_topic, _command_payload(point, value)
            if not self._supervisor.connected:
                raise WriteRejected(f"{name}: MQTT source {self.source.name!r} is not connected to its broker "
                                    f"({self._supervisor.reason}); the write was not sent")
            try:
                await self._connection.publish(topic, data, qos)
            except ConnectionError as error:
                raise WriteRejected(f"{name}: {error}") from None
            self.stats.commands += 1

        return write

    def _publish_soon(self, topic: str, payload: bytes) -> None:
        if not self._supervisor.connected:
            return
        task = asyncio.get_running_loop().create_task(self._publish_quietly(topic, payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish_quietly(self, topic: str, payload: bytes) -> None:
        try:
            await self._connection.publish(topic, payload)
        except ConnectionError as error:
            log.warning("%s", error)


def _command_payload(point: MqttPoint, value: Any) -> bytes:
    if point.payload == "text":
        if isinstance(value, bool):
            return b"true" if value else b"false"
        return (value.isoformat() if isinstance(value, datetime.datetime) else str(value)).encode()
    return orjson.dumps({"value": value, "timestamp": int(time.time() * 1000)}, default=_jsonable)


def _jsonable(value: Any) -> Any:
    """orjson's fallback: xs:float and xs:decimal values are numbers, bytes are text."""
    if isinstance(value, (float, decimal.Decimal)):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode(errors="replace")
    return str(value)
