"""The event hub: every change in the twin once, in order, under one id, for every channel.

One bus subscription feeds a ring of the last ``size`` events (the event log). Each event gets
its id when it enters the log (``{boot}-{seq}``), so an SSE client, the MQTT publisher and a
reconnecting client all name the same event the same way, and ``Last-Event-ID`` is a position
in the log: resuming is reading on from there. Write requested/accepted/refused (from the twin's
write listeners) and alarm raised/cleared (from the analytics alarm book) enter the same log
through ``emit``, after the bus events already published, so the log keeps cause before effect.

Consumers do not get copies: each keeps a cursor (the seq it has handled) and reads
``since(cursor)``; one shared future (``grown``) wakes them all when the log grew. A consumer that fell more
than ``size`` events behind has lost the overwritten ones and is told how many. The CloudEvent
JSON of an event is encoded once, on first use, and shared by every consumer (100 SSE clients
cost one ``orjson.dumps`` per event, not 100).

The hub takes what the bus accumulated at most every ``tick_s`` (5 ms): consumers then wake at
most 200 times a second and write bigger batches (one socket write per batch, not per event),
for at most 5 ms of added latency.

With the history journal (``journal``), the hub and the journal take the bus's changes in the
same batches (``Journal.pair``) and every event's id carries the journal position it follows:
``{boot}-{seq}-{journal seq}.{hash prefix}``. After a restart, an id of the earlier run still
names a place in the journal, and ``resume`` replays the structural changes and client writes
after it (see ``server/events/resume.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from twinbridge.aas.bus import ChangeBatch, DeliveryMode, Subscription
from twinbridge.aas.events import DeviceWrite, StructureChanged, ValueChanged
from twinbridge.aas.twin import Twin
from twinbridge.analytics.alarms import AlarmEvent
from twinbridge.history.journal import Journal, Marks
from twinbridge.server.events.model import (
    TwinEvent,
    ValueEncoder,
    alarm_event,
    structure_event,
    value_event,
    value_json,
    write_event,
)
from twinbridge.server.events.stats import EventStats

log = logging.getLogger(__name__)

TICK_S = 0.005
BUS_CAPACITY = 100_000
"""Value events the hub's own bus subscription holds between two of its turns."""


class Logged:
    """One event in the log; ``json`` and ``sse`` are its encodings, made on first use. A value
    event keeps the bus's ``ValueChanged`` and makes its ``TwinEvent`` only when a consumer
    looks (filters, Sparkplug): the async-aas publisher encodes straight from the change."""

    __slots__ = ("_event", "change", "json", "mark", "seq", "sse")

    def __init__(self, seq: int, event: TwinEvent | None = None, change: ValueChanged | None = None,
                 mark: str = "") -> None:
        self.seq = seq
        self._event = event
        self.change = change
        self.mark = mark
        """``-{journal mark}`` of the journal entry this event follows ("" without a journal); one
        string shared by all the events between two entries."""
        self.json: bytes | None = None
        self.sse: bytes | None = None

    @property
    def event(self) -> TwinEvent:
        event = self._event
        if event is None:
            assert self.change is not None
            event = self._event = value_event(self.change)
        return event


class EventHub:
    """A ``Service``: ``start`` subscribes to the bus and follows it; ``stop`` ends that."""

    def __init__(self, twin: Twin, base_url: str, stats: EventStats, size: int = 10_000,
                 tick_s: float = TICK_S, journal: Journal | None = None) -> None:
        if size < 1:
            raise ValueError("the event log holds at least one event")
        self.twin = twin
        self.base_url = base_url
        self.stats = stats
        self.size = size
        self.tick_s = tick_s
        self.boot = os.urandom(4).hex()
        self.head = 0
        """The seq of the newest event (0 while there is none)."""
        self._ring: list[Logged | None] = [None] * size
        self._grew: asyncio.Future[None] | None = None
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake_handle: asyncio.Handle | None = None
        self._last_wake = 0.0
        self._closed = False
        self.journal = journal
        self._mark = ""
        """The mark of the newest event (``-{journal mark}``)."""
        self.start_mark = 0
        """The journal entry this run's first event follows: a client of an earlier run is
        replayed the entries up to here, then reads this run's log from its start."""
        self._held: ChangeBatch | None = None
        self._encoder = ValueEncoder(base_url)
        self._chunk: tuple[int, int, bytes] = (0, 0, b"")

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._subscription is not None:
            return
        self._closed = False
        self._subscription = self.twin.bus.subscribe(mode=DeliveryMode.EVERY, capacity=max(self.size, BUS_CAPACITY),
                                                     structure_capacity=max(self.size, 10_000))
        subscription = self._subscription
        self.stats.queue_depths["hub"] = lambda: subscription.depth
        self.stats.queue_drops["hub"] = lambda: subscription.dropped
        self.twin.write_listeners.append(self.device_write)
        journal = self.journal
        if journal is not None:
            journal.pair(self._absorb_paired)
            self._mark = "-" + journal.mark()
            self.start_mark = journal.entries()
        self._task = asyncio.create_task(self._follow(subscription), name="event hub")

    async def stop(self) -> None:
        self._closed = True
        if self.journal is not None:
            self.journal.unpair()
        if self.device_write in self.twin.write_listeners:
            self.twin.write_listeners.remove(self.device_write)
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.stats.queue_depths.pop("hub", None)
        self.stats.queue_drops.pop("hub", None)
        self._task = self._subscription = None
        self._wake()

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------ producing
    def emit(self, event: TwinEvent) -> None:
        """An event that does not come from the bus (writes, alarms): after everything the bus
        has published so far, so the log stays in the order things happened."""
        self._take_pending()
        self._append(event)
        self._schedule_wake()

    def device_write(self, write: DeviceWrite) -> None:
        """The twin's write listener: write requested / accepted / refused."""
        self.emit(write_event(write))

    def alarm(self, event: AlarmEvent) -> None:
        """The analytics alarm book's listener: alarm raised / cleared."""
        found = alarm_event(event)
        if found is not None:
            self.emit(found)

    def _append(self, event: TwinEvent) -> None:
        seq = self.head + 1
        self._ring[seq % self.size] = Logged(seq, event, None, self._mark)
        self.head = seq

    def _append_values(self, values: list[ValueChanged], mark: str) -> None:
        ring, size, seq = self._ring, self.size, self.head
        for change in values:
            seq += 1
            ring[seq % size] = Logged(seq, None, change, mark)
        self.head = seq

    def _take_pending(self) -> None:
        """Take what the bus published so far: through the journal when paired (both take it)."""
        if self._subscription is None:
            return
        if self.journal is not None:
            self.journal.sync()
        else:
            self._absorb(self._subscription.drain())

    def _absorb_paired(self, marks: Marks) -> None:
        """The journal took a batch: take the same one and stamp each event with the journal
        entry it follows. When either side lost changes the batches may differ: then every event
        of the batch gets the mark from before it (a resumed client may see an entry twice, it
        never misses one)."""
        held, self._held = self._held, None
        if self._subscription is None:
            return
        batch = held if held is not None else self._subscription.drain()
        exact = marks.complete and marks.structure == len(batch.structure) and marks.values == len(batch.values)
        self._mark = "-" + marks.start
        self._absorb(batch, marks.at if exact else [])
        if not exact:
            self._mark = "-" + marks.at[-1][1] if marks.at else self._mark
        self._schedule_wake()

    def _absorb(self, batch: ChangeBatch, at: list[tuple[int, str]] | None = None) -> None:
        if batch.dropped or batch.overflowed:
            self.stats.count("events", dropped=batch.dropped)
            log.warning("the event hub fell behind the bus: %d value events lost%s", batch.dropped,
                        " and structure events lost" if batch.overflowed else "")
        if not at and not batch.structure:  # device values only: the hot path, one run
            self._append_values(batch.values, self._mark)
            return
        append = self._append
        marks = iter(at or ())
        index, mark = next(marks, (-1, ""))
        run: list[ValueChanged] = []  # values go in runs (one call per run, not per value)
        for position, change in enumerate(batch.ordered()):  # as published: a write before an edit
            if position == index:  # the event of a journal entry: it and what follows carry its mark
                if run:
                    self._append_values(run, self._mark)
                    run = []
                self._mark = "-" + mark
                index, mark = next(marks, (-1, ""))
            if isinstance(change, StructureChanged):
                if run:
                    self._append_values(run, self._mark)
                    run = []
                append(structure_event(change, self.twin, with_data=True))
            else:
                run.append(change)
        if run:
            self._append_values(run, self._mark)

    async def _follow(self, subscription: Subscription) -> None:
        while True:
            try:
                batch = await subscription.next_batch()
            except StopAsyncIteration:
                return
            if self.journal is not None:
                self._held = batch  # the journal takes the same batch now, and hands it back marked
                self.journal.sync()
            else:
                self._absorb(batch)
            self._wake()
            await asyncio.sleep(self.tick_s)  # let the bus gather the next batch (see the module doc)

    def _schedule_wake(self) -> None:
        if self._wake_handle is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self._last_wake + self.tick_s - loop.time()
        self._wake_handle = loop.call_soon(self._wake) if delay <= 0 else loop.call_later(delay, self._wake)

    def _wake(self) -> None:
        if self._wake_handle is not None:
            self._wake_handle.cancel()
            self._wake_handle = None
        with contextlib.suppress(RuntimeError):  # stop() outside a running loop
            self._last_wake = asyncio.get_running_loop().time()
        grew = self._grew
        if grew is not None and not grew.done():
            grew.set_result(None)
        self._grew = None

    # ------------------------------------------------------------ consuming
    def position(self, event_id: str | None) -> int | None:
        """The seq an event id names in this process's log; None when it is not one of ours
        (another boot, or not an id at all)."""
        parsed = parse_id(event_id)
        if parsed is None or parsed[0] != self.boot:
            return None
        return min(parsed[1], self.head)

    def since(self, cursor: int, limit: int | None = None) -> tuple[int, list[Logged]]:
        """(events lost because the log overwrote them, the events after ``cursor`` in order)."""
        head, size = self.head, self.size
        first = max(cursor + 1, head - size + 1, 1)
        lost = first - (cursor + 1)
        count = head - first + 1
        if limit is not None:
            count = min(count, limit)
        if count <= 0:
            return lost, []
        start = first % size
        ring = self._ring
        found = ring[start:start + count] if start + count <= size else ring[start:] + ring[:start + count - size]
        return lost, found  # type: ignore[return-value]  # every slot from first to head is filled

    def grown(self) -> asyncio.Future[None]:
        """A future done when the log next grows (or the hub stops); shared by every consumer, so
        wait on it with ``asyncio.wait`` (which never cancels it), not by awaiting it directly."""
        if self._grew is None:
            self._grew = asyncio.get_running_loop().create_future()
        return self._grew

    def json(self, logged: Logged) -> bytes:
        """The CloudEvent (structured JSON mode), encoded once for every channel."""
        data = logged.json
        if data is None:
            change = logged.change
            event_id = f"{self.boot}-{logged.seq}{logged.mark}"
            data = logged.json = value_json(change, event_id, self.base_url) if change is not None \
                else logged.event.json(event_id, self.base_url)
        return data

    def json_many(self, events: list[Logged]) -> list[bytes]:
        """``json`` of each event: value events through one ``ValueEncoder`` loop (the hot path)."""
        encoder = self._encoder
        if encoder.base_url != self.base_url:  # set once at start-up (``server.events.mqtt.base_url``)
            encoder = self._encoder = ValueEncoder(self.base_url)
        encode, boot = encoder.encode, self.boot.encode()
        mark, mark_bytes = "", b""
        found: list[bytes] = []
        append = found.append
        for logged in events:
            data = logged.json
            if data is None:
                change = logged.change
                if change is None or change.element.element is None:
                    data = self.json(logged)
                else:
                    if logged.mark is not mark:
                        mark, mark_bytes = logged.mark, logged.mark.encode()
                    data = logged.json = encode(change, b"%s-%d%s" % (boot, logged.seq, mark_bytes))
            append(data)
        return found

    def sse_many(self, events: list[Logged]) -> bytes:
        """The frames of a run of events as one chunk, shared by the clients that read the same
        run (unfiltered clients woken together do): one join per batch instead of one per client,
        ~13 KB per 5 ms batch at 5,000 events/s, 100 times."""
        first, last, chunk = self._chunk
        if first != events[0].seq or last != events[-1].seq:
            self.json_many(events)
            encode = self.sse
            chunk = b"".join([encode(logged) for logged in events])
            self._chunk = (events[0].seq, events[-1].seq, chunk)
        return chunk

    def sse(self, logged: Logged) -> bytes:
        """The Server-Sent Events frame (``id``, ``event``, ``data``), encoded once."""
        frame = logged.sse
        if frame is None:
            frame = logged.sse = b"id: %s-%d%s\nevent: %s\ndata: %s\n\n" % (
                self.boot.encode(), logged.seq, logged.mark.encode(), b"valueChanged" if logged.change is not None
                else logged.event.type.encode(), self.json(logged))
        return frame


def parse_id(event_id: str | None) -> tuple[str, int, str | None] | None:
    """(boot, seq, journal mark or None) of an event id; None when it is not one of ours."""
    if not event_id:
        return None
    boot, _, rest = event_id.partition("-")
    seq, _, mark = rest.partition("-")
    if not boot or not seq.isdigit():
        return None
    return boot, int(seq), mark or None


def event_hub(state: object, twin: Twin, base_url: str, stats: EventStats, size: int) -> EventHub:
    """The app's hub, made on first use (an app served alone: tests, an embedded router)."""
    hub = getattr(state, "event_hub", None)
    if hub is None:
        hub = EventHub(twin, base_url, stats, size)
        setattr(state, "event_hub", hub)  # noqa: B010 - Starlette's State takes any attribute
    assert isinstance(hub, EventHub)
    return hub

