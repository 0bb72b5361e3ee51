"""The change bus: fan-out from the single write path to every listener.

Publishing never blocks and never allocates per listener beyond a dict store: each
subscription keeps the *latest* value per element (a slow consumer coalesces instead of
stalling ingest) and every structure event in order (those are rare and must not be lost).
Everything runs on one asyncio loop; there are no locks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aas.events import StructureChanged, ValueChanged


@dataclass(slots=True)
class ChangeBatch:
    """What accumulated since the consumer last looked: structure first, then values."""

    structure: list[StructureChanged] = field(default_factory=list)
    values: list[ValueChanged] = field(default_factory=list)


class Subscription:
    """One consumer's coalescing inbox. Iterate it with ``async for batch in subscription``."""

    __slots__ = ("_bus", "_closed", "_structure", "_values", "_wakeup", "structure_only")

    def __init__(self, bus: ChangeBus, structure_only: bool) -> None:
        self._bus = bus
        self._values: dict[int, ValueChanged] = {}
        self._structure: list[StructureChanged] = []
        self._wakeup = asyncio.Event()
        self._closed = False
        self.structure_only = structure_only

    def offer_value(self, event: ValueChanged) -> None:
        self._values[event.element.key] = event
        if not self._wakeup.is_set():
            self._wakeup.set()

    def offer_structure(self, event: StructureChanged) -> None:
        self._structure.append(event)
        if not self._wakeup.is_set():
            self._wakeup.set()

    def drain(self) -> ChangeBatch:
        """Take everything pending without waiting."""
        batch = ChangeBatch(self._structure, list(self._values.values()))
        self._structure = []
        self._values = {}
        self._wakeup.clear()
        return batch

    async def next_batch(self) -> ChangeBatch:
        while not (self._values or self._structure):
            if self._closed:
                raise StopAsyncIteration
            await self._wakeup.wait()
            self._wakeup.clear()
        return self.drain()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()
        self._bus.unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[ChangeBatch]:
        return self

    async def __anext__(self) -> ChangeBatch:
        return await self.next_batch()


class ChangeBus:
    def __init__(self) -> None:
        self._value_subscribers: tuple[Subscription, ...] = ()
        self._all_subscribers: tuple[Subscription, ...] = ()

    def subscribe(self, *, structure_only: bool = False) -> Subscription:
        """Must be called from inside the running event loop that will consume it."""
        subscription = Subscription(self, structure_only)
        self._all_subscribers = (*self._all_subscribers, subscription)
        if not structure_only:
            self._value_subscribers = (*self._value_subscribers, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._all_subscribers = tuple(s for s in self._all_subscribers if s is not subscription)
        self._value_subscribers = tuple(s for s in self._value_subscribers if s is not subscription)

    def publish_value(self, event: ValueChanged) -> None:
        for subscription in self._value_subscribers:
            subscription.offer_value(event)

    def publish_structure(self, event: StructureChanged) -> None:
        for subscription in self._all_subscribers:
            subscription.offer_structure(event)
