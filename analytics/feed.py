"""One bus subscription for every analytics monitor of a twin: the samples of a loop turn, in bulk.

Why one: with a subscription per monitor (a conditioner per submodel, an anomaly monitor per
Predictive Maintenance submodel, an RUL monitor per signal: 30 for 100 signals of 10 machines),
every sample was offered to several inboxes and every loop turn woke 30 tasks, each handed a few
samples (bench/bench_analytics_mqtt.py: 0.36 of raw paho per CPU-second). Here one EVERY-mode
subscription takes the routed elements' values (narrowed to elements, not to their submodels: the
filtered values that go straight to the anomaly detector and the scores would otherwise cross the
bus for nobody, ~1 µs per message), and each batch is split by element into one list per monitor,
which then handles its samples together (the anomaly monitor scores them as one array call, see ``detectors/bank.py``).

Why the feed drains again before it returns: a monitor's output can be another's input (the
conditioner writes ``<Signal>Filtered``, which the anomaly detector reads). Those writes land in
this same subscription; draining them at once keeps a filtered value's score in the loop turn of
its raw sample. At most ``_REDRAINS`` extra rounds, so a producer that never pauses cannot keep
the feed from returning; what is left is the next batch.

Why a monitor may also be fed straight by another (:class:`Upstream`, :class:`CleanedSink`): the
anomaly detector of a filtered signal reads exactly the arrays the conditioner just computed. Through
the bus, each of them became an event, an inbox entry, a routing step and a Python list entry again
before the detector bank turned it back into an array (~2 µs per sample of ~16 µs of analytics,
bench/bench_analytics_mqtt.py); handed over as arrays, that trip is gone. The conditioner still
writes ``<Signal>Filtered`` through ``Twin.update``: every other listener sees what it saw before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from twinbridge.aas.bus import DEFAULT_CAPACITY, ChangeBatch, DeliveryMode, Follower
from twinbridge.aas.events import ValueChanged
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin

log = logging.getLogger(__name__)
_REDRAINS = 4


class Consumer(Protocol):
    async def accept(self, events: list[ValueChanged]) -> None:
        """This monitor's samples of one batch, in bus order."""
        ...


class CleanedSink(Protocol):
    def take(self, slots: npt.NDArray[np.intp], times: npt.NDArray[np.float64], values: npt.NDArray[np.float64],
             severities: npt.NDArray[np.int8]) -> None:
        """Samples of distinct ``slots`` (the sink's own numbering), each slot's in order; severity 0
        is Good, 1 Uncertain (Bad samples are never handed over)."""
        ...


class Upstream(Protocol):
    def forward(self, target: LiveElement, sink: CleanedSink, slot: int) -> bool:
        """Hand ``sink`` every sample written to ``target`` as ``slot``; False: not possible, route
        ``target`` through the feed instead."""
        ...


class AnalyticsFeed:
    """Routes the samples of ``route``'d elements to their consumers; ``start`` after every route."""

    def __init__(self, twin: Twin, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self._twin = twin
        self._capacity = capacity
        self._consumers: list[Consumer] = []
        self._routes: dict[int, tuple[int, ...]] = {}  # element key -> consumer indices
        self._handles: dict[int, LiveElement] = {}  # the routed elements, by key
        self._follower: Follower | None = None
        self.dropped = 0

    def route(self, consumer: Consumer, handles: Iterable[LiveElement]) -> None:
        """Hand ``consumer`` every sample of ``handles`` (before ``start``)."""
        if consumer not in self._consumers:
            self._consumers.append(consumer)
        index = self._consumers.index(consumer)
        for handle in handles:
            routes = self._routes.get(handle.key, ())
            if index not in routes:
                self._routes[handle.key] = (*routes, index)
            self._handles[handle.key] = handle

    def start(self) -> None:
        if self._follower is None:
            self._follower = Follower(self._twin.bus, self._handle, "analytics", mode=DeliveryMode.EVERY,
                                      submodels={handle.submodel_id for handle in self._handles.values()},
                                      elements=self._handles.values(), capacity=self._capacity)
            self._follower.start()

    async def stop(self) -> None:
        if self._follower is not None:
            await self._follower.stop()
            self._follower = None

    async def _handle(self, batch: ChangeBatch) -> None:
        follower = self._follower
        subscription = follower.subscription if follower is not None else None
        consumers, routes = self._consumers, self._routes
        for _ in range(_REDRAINS + 1):
            if batch.dropped:
                self.dropped += batch.dropped
                log.warning("analytics lost %d samples (inbox full); detectors and filters skip them",
                            batch.dropped)
            inboxes: list[list[ValueChanged]] = [[] for _ in consumers]
            for event in batch.values:
                for index in routes.get(event.element.key, ()):
                    inboxes[index].append(event)
            for consumer, events in zip(consumers, inboxes, strict=True):
                if events:
                    await consumer.accept(events)
            if subscription is None or not subscription.pending():
                return
            batch = subscription.drain()


def rounds_of(slots: Sequence[int]) -> list[list[int]]:
    """Positions of ``slots`` in rounds holding each slot at most once: round k has the k-th
    occurrence of every slot, so a bank that takes one sample per slot sees each slot's samples
    in order. One round (all positions) when no slot repeats, the usual case."""
    if len(set(slots)) == len(slots):
        return [list(range(len(slots)))]
    rounds: list[list[int]] = []
    seen: dict[int, int] = {}
    for at, slot in enumerate(slots):
        rank = seen.get(slot, 0)
        seen[slot] = rank + 1
        if rank == len(rounds):
            rounds.append([])
        rounds[rank].append(at)
    return rounds
