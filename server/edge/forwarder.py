"""The edge side: the twin's changes into the outbox, the outbox to the broker, acks back.

Topics (``{prefix}`` = ``topic_prefix``, default ``twinbridge/edge``):

- ``{prefix}/{edge_id}/changes``: the records, QoS 1, in sequence order;
- ``{prefix}/{edge_id}/ack``: the central's highest durably applied sequence number (retained,
  so a reconnecting edge learns it at once).

The broker's PUBACK only says the broker has a message, not that the central applied it (a
broker restart loses its queues), so the outbox keeps every change until the central's ack
covers it. The sender sends each change once; when acks stop advancing for
``resend_after_s`` while changes are outstanding, or after a reconnect, it goes back to the
first unacknowledged one and sends from there again (go-back-N). The central drops what it
already has, so nothing arrives twice and nothing is lost while the disk holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import aiomqtt

from twinbridge.aas.bus import ChangeBatch, DeliveryMode, Follower
from twinbridge.aas.following import Relay
from twinbridge.aas.twin import Twin
from twinbridge.adapters.mqtt.connection import client_options
from twinbridge.adapters.supervisor import describe
from twinbridge.server.edge import records
from twinbridge.server.edge.outbox import Outbox
from twinbridge.server.edge.settings import EdgeSettings

log = logging.getLogger(__name__)

OUTBOX_FILE = "edge-outbox.sqlite3"
_CHUNK = 500
_WINDOW = 5_000
"""Changes sent beyond the last ack at most: a central that is down is not flooded with resends."""
T = TypeVar("T")
_RETRY_S = (0.5, 1.0, 2.0, 5.0)


class EdgeForwarder:
    """A ``Service`` of an edge instance."""

    def __init__(self, twin: Twin, settings: EdgeSettings, data_dir: Path) -> None:
        assert settings.edge_id is not None
        self.twin = twin
        self.settings = settings
        self.edge_id = settings.edge_id
        base = f"{settings.topic_prefix}/{settings.edge_id}"
        self.changes_topic, self.ack_topic = f"{base}/changes", f"{base}/ack"
        self._options = client_options(settings.mqtt_source(f"twinbridge-edge-{settings.edge_id}"))
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-outbox")
        self.outbox = Outbox(data_dir / OUTBOX_FILE)
        self._relay = Relay(Follower(twin.bus, self._record, "edge forwarder", mode=DeliveryMode.EVERY,
                                     capacity=settings.capacity, structure_capacity=settings.capacity), self._run)
        self._appended = asyncio.Event()
        self._acked = asyncio.Event()
        self.connected = False
        self.sent = 0
        self.resent = 0

    async def _outbox(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._relay.subscribe()
        if not self.outbox.started:  # a new edge: the central learns everything it holds first
            await self._append(records.snapshot(self.twin), started=True)
        self._relay.start()

    async def stop(self) -> None:
        await self._relay.stop()
        self._thread.submit(self.outbox.close).result()
        self._thread.shutdown()

    def banner_lines(self) -> list[str]:
        return [f"  edge {self.edge_id}: changes forwarded to {self.settings.url} ({self.outbox.pending()} queued)"]

    async def delivered(self) -> None:
        """Return once the central acknowledged every change made so far (tests)."""
        await self.twin.bus.drained()
        while self.outbox.pending():
            self._acked.clear()
            await self._acked.wait()

    # --------------------------------------------------------- bus side
    async def _record(self, batch: ChangeBatch) -> None:
        if batch.overflowed or batch.dropped:
            log.error("edge %s: the bus dropped %d changes before the outbox took them; sending a full snapshot",
                      self.edge_id, batch.dropped)
            await self._append(records.snapshot(self.twin))
        await self._append(list(records.of_batch(self.twin, batch)))

    async def _append(self, bodies: list[bytes], started: bool = False) -> None:
        if bodies or started:
            await self._outbox(lambda: self.outbox.append(bodies, started=started))
            self._appended.set()

    # ------------------------------------------------------- link side
    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async with aiomqtt.Client(**self._options) as client:
                    client.pending_calls_threshold = _CHUNK
                    await client.subscribe(self.ack_topic, qos=1)
                    self.connected, failures = True, 0
                    log.info("edge %s: linked to %s (%d changes queued)", self.edge_id, self.settings.url,
                             self.outbox.pending())
                    acks = asyncio.create_task(self._read_acks(client))
                    try:
                        await self._send(client)
                    finally:
                        acks.cancel()
                        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                            await acks
            except aiomqtt.MqttError as error:
                log.warning("edge %s: link to %s down (%s); %d changes kept on disk", self.edge_id,
                            self.settings.url, describe(error), self.outbox.pending())
            finally:
                self.connected = False
            await asyncio.sleep(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
            failures += 1

    async def _read_acks(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                seq = int(bytes(message.payload).decode())  # type: ignore[arg-type]
            except ValueError:
                continue
            if seq > self.outbox.acked:
                await self._outbox(self.outbox.acknowledge, seq)
                self._acked.set()

    async def _send(self, client: aiomqtt.Client) -> None:
        """Send from the first unacknowledged change on; go back to it when acks stall."""
        cursor = self.outbox.acked
        progress_at, progress_ack = time.monotonic(), self.outbox.acked
        while True:
            acked = self.outbox.acked
            if acked != progress_ack:
                progress_at, progress_ack = time.monotonic(), acked
            cursor = max(cursor, acked)
            if cursor > acked and time.monotonic() - progress_at > self.settings.resend_after_s:
                log.info("edge %s: no ack beyond %d for %.1f s; sending again from there", self.edge_id, acked,
                         self.settings.resend_after_s)
                self.resent += cursor - acked
                cursor, progress_at = acked, time.monotonic()
            room = min(_CHUNK, acked + _WINDOW - cursor)
            rows = await self._outbox(self.outbox.after, cursor, room) if room > 0 else []
            if not rows:
                self._appended.clear()
                self._acked.clear()
                waits = [asyncio.ensure_future(self._appended.wait()), asyncio.ensure_future(self._acked.wait())]
                await asyncio.wait(waits, timeout=self.settings.resend_after_s / 2,
                                   return_when=asyncio.FIRST_COMPLETED)
                for waiter in waits:
                    waiter.cancel()
                continue
            await asyncio.gather(*(client.publish(self.changes_topic, body, qos=1) for _, body in rows))
            cursor = rows[-1][0]
            self.sent += len(rows)
