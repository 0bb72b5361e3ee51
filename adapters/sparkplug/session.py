"""The Sparkplug B host side of the MQTT adapter: edge node sessions, births and aliases,
sequence numbers, deaths and commands.

Behaviour (Sparkplug 3.0, host application role):

- NBIRTH starts a node session: it resets the node's aliases, its ``seq`` and its ``bdSeq``;
  DBIRTH does the same for one device. Birth values are applied like data.
- NDATA/DDATA metrics are found by name, or by the alias the birth tied to a name.
- ``seq`` runs 0..255 per node over NBIRTH/NDATA/DBIRTH/DDATA/DDEATH. A gap, or data from a
  node whose birth this host has not seen, sends an NCMD ``Node Control/Rebirth`` (at most one
  per node every ``rebirth_interval_s``). Data that can still be resolved is applied. Every
  (re)connect to the broker also asks each bound node for a rebirth.
- NDEATH (with the ``bdSeq`` of the current birth, or none) turns every bound value of the node
  and its devices Bad; DDEATH those of the device. An NDEATH whose bdSeq belongs to an older
  session (a late will message) is ignored.
- A metric that is null, or whose value the element's type cannot take, turns Bad with its
  value unchanged. A payload that does not decode is dropped with a (rate-limited) warning.
- Write-back: a bound writable metric gets an NCMD/DCMD carrying the metric name and the
  datatype announced in the birth (inferred from the value when none was seen).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from twinbridge.aas.live import LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.adapters.coerce import LATEST_SOURCE_TIME, source_time
from twinbridge.adapters.sparkplug import payloads
from twinbridge.adapters.sparkplug.topics import NAMESPACE, SparkplugTopic, binding_topic, command_topic, parse
from twinbridge.adapters.throttle import ThrottledLog

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], None]
"""Sends (topic, payload) without waiting; used for rebirth requests from the message path."""


@dataclass(slots=True)
class MetricPoint:
    """One binding of a metric to an element."""

    name: str
    handle: LiveElement
    convert: Callable[[Any], Any]


@dataclass
class SparkplugStats:
    births: int = 0
    deaths: int = 0
    data_messages: int = 0
    seq_gaps: int = 0
    rebirth_requests: int = 0
    undecodable: int = 0
    unknown_aliases: int = 0
    ignored_deaths: int = 0


@dataclass
class EdgeNode:
    """What the host knows about one edge node's current session."""

    group: str
    node: str
    points: dict[tuple[str | None, str], list[MetricPoint]] = field(default_factory=dict)
    aliases: dict[str | None, dict[int, str]] = field(default_factory=dict)
    datatypes: dict[tuple[str | None, str], int] = field(default_factory=dict)
    seq: int | None = None
    bd_seq: int | None = None
    last_rebirth_request: float = float("-inf")

    def handles(self, device: str | None = None, whole_node: bool = True) -> Iterator[LiveElement]:
        for (owner, _), points in self.points.items():
            if whole_node or owner == device:
                for point in points:
                    yield point.handle


class SparkplugHost:
    """Routes Sparkplug messages of the bound edge nodes to their elements."""

    def __init__(self, twin: Twin, publish: Publish, rebirth_interval_s: float = 5.0) -> None:
        self._twin = twin
        self._publish = publish
        self._rebirth_interval_s = rebirth_interval_s
        self._nodes: dict[tuple[str, str], EdgeNode] = {}
        self._warn = ThrottledLog(log)
        self.stats = SparkplugStats()

    # ------------------------------------------------------------ set-up
    def add(self, name: str, topic: str, metric: str, handle: LiveElement, convert: Callable[[Any], Any]) -> None:
        where = binding_topic(topic)
        node = self._nodes.get((where.group, where.node))
        if node is None:
            node = self._nodes[(where.group, where.node)] = EdgeNode(where.group, where.node)
        node.points.setdefault((where.device, metric), []).append(MetricPoint(name, handle, convert))

    def subscriptions(self) -> list[str]:
        """Two filters per edge node: its node messages and its devices' messages."""
        topics: list[str] = []
        for group, node in self._nodes:
            topics += [f"{NAMESPACE}/{group}/+/{node}", f"{NAMESPACE}/{group}/+/{node}/+"]
        return topics

    def request_rebirths(self) -> None:
        """Ask every bound edge node for its births (after each connect: births published while
        this host was away were missed). Not counted against the per-node rebirth interval."""
        for node in self._nodes.values():
            self.stats.rebirth_requests += 1
            self._publish(command_topic(node.group, node.node, None), payloads.rebirth_request())

    # ------------------------------------------------------------ messages
    def handle(self, topic: str, data: bytes) -> bool:
        """Process one message; False when ``topic`` is not a message of a bound edge node."""
        where = parse(topic)
        if where is None:
            return False
        node = self._nodes.get((where.group, where.node))
        if node is None:
            return False
        kind = where.message_type
        if kind in ("NCMD", "DCMD"):
            return True
        try:
            payload = payloads.decode(data)
        except payloads.SparkplugDecodeError as error:
            self.stats.undecodable += 1
            self._warn.warning(f"undecodable:{topic}", f"Sparkplug message on {topic!r} dropped: {error}")
            return True
        received = time.time()
        stamp = payload.timestamp / 1000 if payload.HasField("timestamp") else received
        if not 0 <= stamp <= LATEST_SOURCE_TIME:  # unrepresentable: its metrics are Bad (see _apply)
            self._warn.warning(f"timestamp:{topic}", f"Sparkplug message on {topic!r}: timestamp "
                                                     f"{payload.timestamp} ms is outside the representable range")
        if kind == "NDEATH":  # usually the will registered at connect time: its timestamp is stale
            self._node_death(node, payload, received)
        elif kind == "NBIRTH":
            self.stats.births += 1
            node.aliases = {None: {}}
            node.seq = payload.seq if payload.HasField("seq") else None
            node.bd_seq = _bd_seq(payload)
            self._apply(node, None, payload, stamp, birth=True)
        elif kind in ("NDATA", "DBIRTH", "DDATA", "DDEATH"):
            self._check_seq(node, where, payload)
            if kind == "DDEATH":
                self.stats.deaths += 1
                for handle in node.handles(where.device, whole_node=False):
                    self._twin.set_quality(handle, Quality.BAD, stamp if stamp <= LATEST_SOURCE_TIME else received)
            elif kind == "DBIRTH":
                self.stats.births += 1
                node.aliases[where.device] = {}
                self._apply(node, where.device, payload, stamp, birth=True)
            else:
                self.stats.data_messages += 1
                self._apply(node, where.device if kind == "DDATA" else None, payload, stamp, birth=False)
        return True

    def _node_death(self, node: EdgeNode, payload: Any, stamp: float) -> None:
        bd_seq = _bd_seq(payload)
        if bd_seq is not None and node.bd_seq is not None and bd_seq != node.bd_seq:
            self.stats.ignored_deaths += 1
            log.info("NDEATH of %s/%s with bdSeq %d ignored: the current birth has bdSeq %d",
                     node.group, node.node, bd_seq, node.bd_seq)
            return
        self.stats.deaths += 1
        node.seq = None
        node.aliases = {}
        for handle in node.handles():
            self._twin.set_quality(handle, Quality.BAD, stamp)
        log.info("edge node %s/%s is dead: its values are Bad", node.group, node.node)

    def _check_seq(self, node: EdgeNode, where: SparkplugTopic, payload: Any) -> None:
        seq = payload.seq if payload.HasField("seq") else None
        if node.seq is None:
            self._request_rebirth(node, f"{where.message_type} before an NBIRTH")
        elif seq is not None and seq != (node.seq + 1) % 256:
            self.stats.seq_gaps += 1
            self._request_rebirth(node, f"seq {seq} after {node.seq}")
        if seq is not None:
            node.seq = seq

    def _request_rebirth(self, node: EdgeNode, why: str) -> None:
        now = time.monotonic()
        if now - node.last_rebirth_request < self._rebirth_interval_s:
            return
        node.last_rebirth_request = now
        self.stats.rebirth_requests += 1
        log.info("requesting a rebirth of %s/%s: %s", node.group, node.node, why)
        self._publish(command_topic(node.group, node.node, None), payloads.rebirth_request())

    def _apply(self, node: EdgeNode, device: str | None, payload: Any, stamp: float, birth: bool) -> None:
        aliases = node.aliases.get(device)
        update = self._twin.update
        for metric in payload.metrics:
            name = metric.name
            if birth:
                if metric.HasField("alias") and aliases is not None:
                    aliases[metric.alias] = name
                if metric.HasField("datatype"):
                    node.datatypes[(device, name)] = metric.datatype
            elif not name:
                name = aliases.get(metric.alias) if aliases is not None else None
                if name is None:
                    self.stats.unknown_aliases += 1
                    self._request_rebirth(node, f"alias {metric.alias} is not in a birth")
                    continue
            points = node.points.get((device, name))
            if points is None:
                continue
            datatype = metric.datatype if metric.HasField("datatype") else node.datatypes.get((device, name), 0)
            timestamp = metric.timestamp / 1000 if metric.HasField("timestamp") else stamp
            for point in points:
                try:
                    source_time(timestamp)
                    raw = payloads.metric_value(metric, datatype)
                    if raw is None:  # is_null: the device has no value
                        update(point.handle, None, timestamp, Quality.BAD)
                        continue
                    value = point.convert(raw)
                except (ValueError, TypeError, ArithmeticError) as error:
                    self._warn.warning(point.name, f"{point.name}: metric {name!r}: {error}")
                    update(point.handle, None, timestamp if 0 <= timestamp <= LATEST_SOURCE_TIME else None, Quality.BAD)
                    continue
                update(point.handle, value, timestamp, Quality.GOOD)

    # ------------------------------------------------------------ commands
    def command(self, topic: str, metric: str, value: Any) -> tuple[str, bytes]:
        """The (topic, payload) that writes ``value`` to ``metric`` of the binding's node/device."""
        where = binding_topic(topic)
        node = self._nodes.get((where.group, where.node))
        datatype = node.datatypes.get((where.device, metric)) if node is not None else None
        if not datatype:
            datatype = payloads.datatype_of(value)
        payload = payloads.command([(metric, datatype, value)])
        return command_topic(where.group, where.node, where.device), payload


def _bd_seq(payload: Any) -> int | None:
    for metric in payload.metrics:
        if metric.name == payloads.BD_SEQ:
            value = payloads.metric_value(metric, metric.datatype)
            return int(value) if isinstance(value, int) else None
    return None
