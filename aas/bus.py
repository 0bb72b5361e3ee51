"""The change bus: fan-out from the single write path to every listener.

Publishing never blocks and never allocates per listener beyond a dict store: each
subscription keeps the *latest* value per element (a slow consumer coalesces instead of
stalling ingest) and every structure event in order (those are rare and must not be lost).
Everything runs on one asyncio loop; there are no locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from twinbridge.aas.events import StructureChanged, ValueChanged

log = logging.getLogger(__name__)


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


BatchHandler = Callable[[ChangeBatch], Awaitable[None]]


class Follower:
    """A consumer's task: hands every batch of its own subscription to ``handle``.

    ``subscribe()`` may come before ``start()`` so nothing is missed while the consumer builds
    its first view. A failing batch is logged and the following goes on: one bad change must
    not leave a projection deaf to every later one.
    """

    def __init__(self, bus: ChangeBus, handle: BatchHandler, name: str) -> None:
        self._bus = bus
        self._handle = handle
        self.name = name
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> None:
        if self._subscription is None:
            self._subscription = self._bus.subscribe()

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
