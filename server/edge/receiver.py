"""The central side: every edge's records applied exactly once, in order, then acknowledged.

Per edge the receiver knows the last applied sequence number (kept in the central twin's own
store, ``edge-forwarding/{edge}.seq``, written through the same store writer as the changes it
follows, so both are durable together). A record at or below it is a duplicate and skipped; one
beyond the next is out of order (a broker lost or reordered what came before) and skipped too:
the edge sends again from its last ack. Acks are published (retained) only once the applied
changes are persisted, at most every ``ACK_INTERVAL_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiomqtt
import orjson

from twinbridge.aas.events import Origin
from twinbridge.aas.twin import Twin
from twinbridge.adapters.mqtt.connection import client_options
from twinbridge.adapters.supervisor import describe
from twinbridge.server.edge import records
from twinbridge.server.edge.settings import EdgeSettings

log = logging.getLogger(__name__)

ACK_INTERVAL_S = 0.1
_RETRY_S = (0.5, 1.0, 2.0, 5.0)


def _position_file(edge: str) -> str:
    return f"edge-forwarding/{edge}.seq"


class EdgeReceiver:
    """A ``Service`` of a central instance: applies what every edge under ``topic_prefix`` sends."""

    def __init__(self, twin: Twin, settings: EdgeSettings, name: str = "central") -> None:
        self.twin = twin
        self.settings = settings
        self._options = client_options(settings.mqtt_source(f"twinbridge-{name}"))
        self._prefix = settings.topic_prefix
        self.applied: dict[str, int] = {}
        self._acknowledged: dict[str, int] = {}
        self._origins: dict[str, Origin] = {}
        self.duplicates = 0
        self.out_of_order = 0
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="edge receiver")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def banner_lines(self) -> list[str]:
        return [f"  central: applying edge changes from {self.settings.url} ({self._prefix}/+/changes)"]

    def _last(self, edge: str) -> int:
        last = self.applied.get(edge)
        if last is None:
            stored = self.twin.load_file(_position_file(edge))
            last = self.applied[edge] = int(stored[1]) if stored is not None else 0
            self._acknowledged[edge] = last
        return last

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async with aiomqtt.Client(**self._options) as client:
                    await client.subscribe(f"{self._prefix}/+/changes", qos=1)
                    self.connected, failures = True, 0
                    acks = asyncio.create_task(self._acknowledge_periodically(client))
                    try:
                        async for message in client.messages:
                            self._receive(str(message.topic), bytes(message.payload))  # type: ignore[arg-type]
                    finally:
                        acks.cancel()
                        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                            await acks
            except aiomqtt.MqttError as error:
                log.warning("central: link to %s down (%s); edges keep their changes meanwhile", self.settings.url,
                            describe(error))
            finally:
                self.connected = False
            await asyncio.sleep(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
            failures += 1

    def _receive(self, topic: str, payload: bytes) -> None:
        edge = topic[len(self._prefix) + 1:].split("/", 1)[0]
        try:
            record = orjson.loads(payload)
            seq = int(record["seq"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.error("central: a malformed record from edge %s dropped", edge)
            return
        last = self._last(edge)
        if seq <= last:
            self.duplicates += 1
            self._acknowledged[edge] = -1  # say again where we are: the edge may have missed the ack
            return
        if seq != last + 1:
            self.out_of_order += 1
            return
        origin = self._origins.get(edge)
        if origin is None:
            origin = self._origins[edge] = Origin(edge, "edge")
        try:
            records.apply(self.twin, record, origin)
        except Exception:  # one record the central cannot take must not stop the edge's stream
            log.exception("central: record %d of edge %s could not be applied; skipped", seq, edge)
        self.applied[edge] = seq

    async def _acknowledge_periodically(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(ACK_INTERVAL_S)
            due = {edge: seq for edge, seq in self.applied.items() if self._acknowledged.get(edge) != seq}
            if not due:
                continue
            self.twin.flush()  # values applied with twin.update are persisted by flush: before the positions
            for edge, seq in due.items():
                self.twin.save_file(_position_file(edge), "text/plain", str(seq).encode())
            await self.twin.persisted()  # one store writer, in order: the changes and the positions together
            for edge, seq in due.items():
                await client.publish(f"{self._prefix}/{edge}/ack", str(seq).encode(), qos=1, retain=True)
                self._acknowledged[edge] = seq
