"""The change bus: fan-out from the single write path to every listener.

Publishing never blocks: each subscription has its own bounded inbox and the producer only
stores into it. Two delivery modes, chosen per subscription:

- ``DeliveryMode.LATEST`` keeps the latest value per element (a dict by handle key): a slow
  consumer coalesces instead of stalling ingest, and its memory is bounded by the number of
  elements. Right for projections that show the present (OPC UA mirror, RDF graph).
- ``DeliveryMode.EVERY`` keeps every sample, in order, in a deque of ``capacity``; when it is
  full the oldest sample is dropped and ``dropped`` counts it. Right for history and detectors,
  which must know when they lost samples.

Both can be narrowed to some submodels, some elements and/or semanticIds (``LiveElement.semantic_id``);
the filter runs on the publishing side. Subscriptions narrowed to submodels or elements are indexed by
submodel id or element key, so a subscriber of another submodel costs nothing per event (with
analytics on 100 signals of 10 machines, 30 such subscriptions, the per-subscriber check was 2/3 of
the bus's time per sample). The offers an element's values go to are looked up once per element and
kept until a subscription comes or goes; an element nobody takes costs no ``ValueChanged`` at all
(bench/bench_analytics_mqtt.py: of the three values per message, raw, filtered and anomaly score, the
analytics feed takes one or two and nobody else listens; building and offering the others was
~1 µs of ~39 per message).

Structure events are kept in order in a queue bounded by ``structure_capacity``. They are rare,
but an unbounded queue behind a stuck consumer grows without limit; on overflow the queue is
cleared and the subscription is marked ``overflowed``: the next batch says so, and the consumer
must rebuild its view from the twin (it cannot know what it missed). It never misses silently.

Everything runs on one asyncio loop; there are no locks.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from twinbridge.aas.events import ObjectKind, Origin, StructureChanged, ValueChanged
from twinbridge.aas.quality import Quality

if TYPE_CHECKING:
    from twinbridge.aas.live import LiveElement
    from twinbridge.aas.values import ElementValue

log = logging.getLogger(__name__)
_OFFERS_KEPT = 100_000
"""Elements whose offers are remembered. A bounded cache's value write to an evicted submodel uses
a handle of its own each time (``Twin.detached``): 1,000,000 such PATCHes kept 1,000,000 entries."""

DEFAULT_CAPACITY = 100_000
"""EVERY mode: samples held per subscription (an event is ~100 bytes: ~10 MB at most)."""
DEFAULT_STRUCTURE_CAPACITY = 10_000


class DeliveryMode(enum.Enum):
    LATEST = "latest"
    EVERY = "every"


@dataclass(slots=True)
class ChangeBatch:
    """What accumulated since the consumer last looked: the structure events and the values.

    ``overflowed``: structure events were lost since the last batch (the queue was full);
    rebuild from the twin. ``dropped``: EVERY-mode samples lost since the last batch.
    ``structure_at`` (EVERY mode): for each structure event, how many of ``values`` were
    published before it, so consumers that keep an order across both (the journal, the event
    hub) can interleave them with ``ordered()``; empty means structure first.
    """

    structure: list[StructureChanged] = field(default_factory=list)
    values: list[ValueChanged] = field(default_factory=list)
    overflowed: bool = False
    dropped: int = 0
    structure_at: list[int] = field(default_factory=list)

    def ordered(self) -> list[StructureChanged | ValueChanged]:
        """Structure events and values in the order they were published (a REST write and the
        element added a millisecond later land in one batch: the journal must not swap them)."""
        if not self.structure:
            return list(self.values)
        if not self.structure_at:
            return [*self.structure, *self.values]
        merged: list[StructureChanged | ValueChanged] = []
        taken = 0
        for event, before in zip(self.structure, self.structure_at, strict=True):
            merged.extend(self.values[taken:before])
            taken = max(taken, before)
            merged.append(event)
        merged.extend(self.values[taken:])
        return merged


class Subscription:
    """One consumer's inbox. Iterate it with ``async for batch in subscription``.

    ``dropped`` counts every EVERY-mode sample lost since the subscription began;
    ``overflowed`` is set while structure events were lost and not yet handed out.
    """

    __slots__ = (
        "_bus", "_closed", "_dropped_since", "_every", "_idle", "_in_hand", "_signalled", "_structure", "_structure_at",
        "_values", "_wakeup", "capacity", "dropped", "elements", "followed", "mode", "offer_routed", "offer_value",
        "overflowed", "semantic_ids", "structure_capacity", "structure_only", "submodels",
    )

    def __init__(self, bus: ChangeBus, *, mode: DeliveryMode, structure_only: bool,
                 submodels: frozenset[str] | None, semantic_ids: frozenset[str] | None,
                 capacity: int, structure_capacity: int, elements: frozenset[int] | None = None) -> None:
        if capacity < 1 or structure_capacity < 1:
            raise ValueError("a subscription's capacities must be at least 1")
        self._bus = bus
        self.mode = mode
        self.structure_only = structure_only
        self.submodels = submodels
        self.semantic_ids = semantic_ids
        self.elements = elements  # handle keys; values of other elements never reach this inbox
        self.capacity = capacity
        self.structure_capacity = structure_capacity
        self._values: dict[int, ValueChanged] = {}
        self._every: collections.deque[ValueChanged] = collections.deque(maxlen=capacity)
        self._structure: list[StructureChanged] = []
        self._structure_at: list[int] = []  # EVERY: values appended (evicted ones included) before each
        self._wakeup = asyncio.Event()
        self._signalled = False
        self._closed = False
        self.followed = False  # set by a Follower: idle only once it has handled what it took
        self._in_hand = False
        self._idle: asyncio.Future[None] | None = None
        self.dropped = 0
        self._dropped_since = 0
        self.overflowed = False
        # The publisher calls ``offer_value`` for every event: pick the cheapest variant once.
        filtered = submodels is not None or semantic_ids is not None
        if mode is DeliveryMode.LATEST:
            self.offer_value = self._offer_latest_filtered if filtered else self._offer_latest
            # what the bus calls once it has matched the submodel or element itself (see ChangeBus._offers_of)
            self.offer_routed = self._offer_latest_semantic if semantic_ids is not None else self._offer_latest
        else:
            self.offer_value = self._offer_every_filtered if filtered else self._offer_every
            self.offer_routed = self._offer_every_semantic if semantic_ids is not None else self._offer_every

    # ------------------------------------------------------------ producer side
    def _offer_latest(self, event: ValueChanged) -> None:
        self._values[event.element.key] = event
        if not self._signalled:  # a plain flag: Event.is_set() per event cost ~8% of an update
            self._signalled = True
            self._wakeup.set()

    def _offer_every(self, event: ValueChanged) -> None:
        every = self._every
        if len(every) == self.capacity:
            self.dropped += 1
            self._dropped_since += 1
        every.append(event)
        if not self._signalled:
            self._signalled = True
            self._wakeup.set()

    def _wanted(self, event: ValueChanged) -> bool:
        handle = event.element
        if self.submodels is not None and handle.submodel_id not in self.submodels:
            return False
        return self.semantic_ids is None or handle.semantic_id in self.semantic_ids

    def _offer_latest_filtered(self, event: ValueChanged) -> None:
        if self._wanted(event):
            self._offer_latest(event)

    def _offer_every_filtered(self, event: ValueChanged) -> None:
        if self._wanted(event):
            self._offer_every(event)

    def _offer_latest_semantic(self, event: ValueChanged) -> None:
        if self.semantic_ids is not None and event.element.semantic_id in self.semantic_ids:
            self._offer_latest(event)

    def _offer_every_semantic(self, event: ValueChanged) -> None:
        if self.semantic_ids is not None and event.element.semantic_id in self.semantic_ids:
            self._offer_every(event)

    def offer_structure(self, event: StructureChanged) -> None:
        if self.submodels is not None and event.identifier not in self.submodels \
                and event.object_kind is ObjectKind.SUBMODEL:
            return
        if len(self._structure) >= self.structure_capacity:
            self._structure = []
            self._structure_at = []
            self.overflowed = True
            log.warning("a bus subscription overflowed its %d structure events; its consumer must rebuild",
                        self.structure_capacity)
        self._structure.append(event)
        if self.mode is DeliveryMode.EVERY:
            self._structure_at.append(len(self._every) + self._dropped_since)
        if not self._signalled:
            self._signalled = True
            self._wakeup.set()

    # ------------------------------------------------------------ consumer side
    @property
    def depth(self) -> int:
        """Events waiting to be handed out (for queue-depth metrics)."""
        return len(self._values) + len(self._every) + len(self._structure)

    def pending(self) -> bool:
        return bool(self._values or self._every or self._structure or self.overflowed)

    def drain(self) -> ChangeBatch:
        """Take everything pending without waiting."""
        if self.mode is DeliveryMode.LATEST:
            values = list(self._values.values())
            self._values = {}
        else:
            values = list(self._every)
            self._every.clear()
        evicted = self._dropped_since  # taken from the left: positions recorded before shift by it
        at = [max(position - evicted, 0) for position in self._structure_at]
        batch = ChangeBatch(self._structure, values, self.overflowed, self._dropped_since, at)
        self._structure = []
        self._structure_at = []
        self.overflowed = False
        self._dropped_since = 0
        self._signalled = False
        self._wakeup.clear()
        if self.followed:
            self._in_hand = True
        else:
            self._notify_idle()
        return batch

    def handled(self) -> None:
        """The Follower finished the batch it took: the subscription may be idle now."""
        self._in_hand = False
        self._notify_idle()

    async def next_batch(self) -> ChangeBatch:
        while not self.pending():
            if self._closed:
                raise StopAsyncIteration
            await self._wakeup.wait()
            self._signalled = False
            self._wakeup.clear()
        return self.drain()

    @property
    def idle(self) -> bool:
        """Nothing pending and nothing in the hands of its Follower."""
        return self._closed or not (self._in_hand or self.pending())

    async def wait_idle(self) -> None:
        while not self.idle:
            if self._idle is None or self._idle.done():
                self._idle = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._idle)

    def _notify_idle(self) -> None:
        waiter = self._idle
        if waiter is not None and not waiter.done() and self.idle:
            waiter.set_result(None)

    def close(self) -> None:
        self._closed = True
        self._signalled = True
        self._wakeup.set()
        self._bus.unsubscribe(self)
        waiter = self._idle
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[ChangeBatch]:
        return self

    async def __anext__(self) -> ChangeBatch:
        return await self.next_batch()


Offer = Callable[[ValueChanged], None]


class ChangeBus:
    def __init__(self) -> None:
        self._value_offers: tuple[Offer, ...] = ()
        self._routed: dict[str, tuple[Offer, ...]] = {}  # by submodel id
        self._keyed: dict[int, tuple[Offer, ...]] = {}  # by element key
        self._offers: dict[int, tuple[Offer, ...]] = {}  # by element key: all three, looked up once
        self._subscribers: tuple[Subscription, ...] = ()

    def subscribe(self, *, mode: DeliveryMode = DeliveryMode.LATEST, submodels: Iterable[str] | None = None,
                  elements: Iterable[LiveElement] | None = None, semantic_ids: Iterable[str] | None = None,
                  capacity: int = DEFAULT_CAPACITY, structure_capacity: int = DEFAULT_STRUCTURE_CAPACITY,
                  structure_only: bool = False) -> Subscription:
        """A new inbox; must be called from inside the running event loop that consumes it.

        ``submodels`` / ``elements`` / ``semantic_ids`` narrow the value events to those submodel ids,
        live elements and semanticIds, all that are given (``submodels`` also narrows the submodel
        structure events); None takes all. ``capacity`` bounds EVERY mode.
        """
        wanted = None if submodels is None else frozenset(submodels)
        subscription = Subscription(
            self, mode=mode, structure_only=structure_only, submodels=wanted,
            semantic_ids=None if semantic_ids is None else frozenset(semantic_ids),
            capacity=capacity, structure_capacity=structure_capacity,
            elements=None if elements is None else frozenset(
                handle.key for handle in elements if wanted is None or handle.submodel_id in wanted),
        )
        self._subscribers = (*self._subscribers, subscription)
        self._rebuild_offers()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers = tuple(s for s in self._subscribers if s is not subscription)
        self._rebuild_offers()

    def _rebuild_offers(self) -> None:
        valued = [s for s in self._subscribers if not s.structure_only]
        self._value_offers = tuple(s.offer_value for s in valued if s.submodels is None and s.elements is None)
        routed: dict[str, list[Offer]] = {}
        keyed: dict[int, list[Offer]] = {}
        for subscription in valued:
            if subscription.elements is not None:
                for key in subscription.elements:
                    keyed.setdefault(key, []).append(subscription.offer_routed)
            else:
                for submodel in subscription.submodels or ():
                    routed.setdefault(submodel, []).append(subscription.offer_routed)
        self._routed = {submodel: tuple(offers) for submodel, offers in routed.items()}
        self._keyed = {key: tuple(offers) for key, offers in keyed.items()}
        self._offers = {}

    def _offers_of(self, element: LiveElement) -> tuple[Offer, ...]:
        offers = (*self._value_offers, *self._routed.get(element.submodel_id, ()), *self._keyed.get(element.key, ()))
        if len(self._offers) >= _OFFERS_KEPT:  # a cache: short-lived handles must not grow it without end
            self._offers.clear()
        self._offers[element.key] = offers
        return offers

    def publish_value(self, element: LiveElement, value: ElementValue, timestamp: float, quality: Quality,
                      origin: Origin | None = None, logged: bytes | None = None) -> None:
        """Offer the new value of ``element`` to every subscription that wants it; the
        ``ValueChanged`` is built only when there is one (see ``ValueChanged`` for the fields)."""
        offers = self._offers.get(element.key)
        if offers is None:
            offers = self._offers_of(element)
        if offers:
            event = ValueChanged(element, value, timestamp, quality, origin, logged)
            for offer in offers:
                offer(event)

    def publish_structure(self, event: StructureChanged) -> None:
        for subscription in self._subscribers:
            subscription.offer_structure(event)

    async def drained(self) -> None:
        """Return when every subscription has handed out everything published so far and its
        Follower finished handling it (tests await this instead of sleeping). A subscription that
        nobody consumes is never drained: close it."""
        while True:
            busy = [s for s in self._subscribers if not s.idle]
            if not busy:
                return
            for subscription in busy:
                await subscription.wait_idle()


BatchHandler = Callable[[ChangeBatch], Awaitable[None]]


class Follower:
    """A consumer's task: hands every batch of its own subscription to ``handle``.

    ``subscribe()`` may come before ``start()`` so nothing is missed while the consumer builds
    its first view. A failing batch is logged and the following goes on: one bad change must
    not leave a projection deaf to every later one. ``batch.overflowed`` tells the handler that
    structure events were lost and it must rebuild from the twin.
    """

    def __init__(self, bus: ChangeBus, handle: BatchHandler, name: str, *,
                 mode: DeliveryMode = DeliveryMode.LATEST, submodels: Iterable[str] | None = None,
                 elements: Iterable[LiveElement] | None = None, semantic_ids: Iterable[str] | None = None,
                 capacity: int = DEFAULT_CAPACITY, structure_capacity: int = DEFAULT_STRUCTURE_CAPACITY,
                 structure_only: bool = False) -> None:
        self._handle = handle
        self.name = name
        self._open = functools.partial(
            bus.subscribe, mode=mode, submodels=submodels, elements=elements, semantic_ids=semantic_ids,
            capacity=capacity,
            structure_capacity=structure_capacity, structure_only=structure_only,
        )
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def subscription(self) -> Subscription | None:
        return self._subscription

    def subscribe(self) -> None:
        if self._subscription is None:
            self._subscription = self._open()
            self._subscription.followed = True

    def start(self) -> None:
        self.subscribe()
        assert self._subscription is not None
        self._task = asyncio.get_running_loop().create_task(self._run(self._subscription), name=self.name)

    async def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = self._subscription = None

    async def _run(self, subscription: Subscription) -> None:
        async for batch in subscription:
            try:
                await self._handle(batch)
            except Exception:
                log.exception("%s could not apply a change batch", self.name)
            finally:
                subscription.handled()
