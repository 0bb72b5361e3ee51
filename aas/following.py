"""Shapes of bus consumer that several rooms share, built on the change bus (``aas.bus``).

- ``ViewFollower``: a view derived from the twin (the REST catalogs, the query value indexes) that
  a task keeps in step with the bus *and* that a read brings up to date synchronously, so a
  ``GET`` right after a ``POST`` sees the change without waiting for the task to run.
- ``Relay``: a ``Follower`` that records changes and a second task that sends what it recorded to
  a peer (the registry feeder, the edge forwarder), started and stopped as one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine

from twinbridge.aas.bus import ChangeBatch, ChangeBus, Follower, Subscription

log = logging.getLogger(__name__)


class ViewFollower:
    """Applies the bus's batches to a view, from its own task and from reads (``catch_up``).

    The task consumes the inbox so it never holds events back (``bus.drained()`` stays reachable
    between reads). A batch the task fails to apply rebuilds the view instead: a view that
    skipped a change would answer wrongly until the next rebuild. ``apply`` must rebuild on its
    own when ``batch.overflowed`` (events were lost). Without a running loop there is no task and
    reads catch up by themselves.
    """

    def __init__(self, bus: ChangeBus, apply: Callable[[ChangeBatch], None], rebuild: Callable[[], None],
                 name: str, *, structure_only: bool = False) -> None:
        self._bus = bus
        self._apply = apply
        self._rebuild = rebuild
        self.name = name
        self._structure_only = structure_only
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def following(self) -> bool:
        return self._subscription is not None

    def follow(self) -> None:
        """Subscribe; call it before the view's first build, so no change between the two is lost."""
        self._subscription = self._bus.subscribe(structure_only=self._structure_only)
        with contextlib.suppress(RuntimeError):  # no running loop: reads catch up themselves
            self._task = asyncio.get_running_loop().create_task(self._consume(self._subscription),
                                                                 name=self.name)

    def catch_up(self) -> None:
        """Apply what is pending now, synchronously (a failure reaches the reader)."""
        subscription = self._subscription
        if subscription is not None and subscription.pending():
            self._apply(subscription.drain())

    async def _consume(self, subscription: Subscription) -> None:
        async for batch in subscription:
            try:
                self._apply(batch)
            except Exception:
                log.exception("%s could not apply a change; rebuilding", self.name)
                self._rebuild()

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
        self._subscription = self._task = None


class Relay:
    """A ``Follower`` that records the bus's changes and the task running ``send``, which passes
    what was recorded on to a peer; the task is named after the follower.

    ``subscribe()`` comes before the service's full sync (every descriptor due, a snapshot) and
    ``start()`` after it, so no change made in between is lost. ``stop()`` ends the follower
    first, so nothing is recorded for a sender that is gone.
    """

    def __init__(self, follower: Follower, send: Callable[[], Coroutine[None, None, None]]) -> None:
        self._follower = follower
        self._send = send
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> None:
        self._follower.subscribe()

    def start(self) -> None:
        self._follower.start()
        self._task = asyncio.create_task(self._send(), name=self._follower.name)

    async def stop(self) -> None:
        await self._follower.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
