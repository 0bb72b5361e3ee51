"""The one connection supervisor every southbound adapter runs its device or broker link under.

A protocol supplies a ``Link`` (open a session, serve it until it is lost, close it); the
supervisor owns everything around it, the same way for every protocol:

- connect; on failure or loss wait an exponential backoff with jitter and connect again
  (``initial_s · 2ⁿ`` capped at ``max_s``, each delay drawn from ``[(1 − jitter)·d, d]``, so a
  hundred sources that lost one broker do not reconnect in lock-step, and no delay exceeds
  ``max_s``);
- tell the adapter once per outage (``on_down(reason)``: its values turn Bad, the last value
  kept) and once per session (``on_up()``: the next fresh value is Good again);
- log a lost or unreachable peer at most once a minute per source (``ThrottledLog``), and the
  recovery at once;
- stop for sure. Python 3.11's ``asyncio.wait_for`` — used by aiomqtt for every publish and
  subscribe confirmation and by pymodbus for every reply — returns the awaited result and
  *drops* a ``Task.cancel()`` that lands in the same loop iteration as that result
  (CPython gh-86296, fixed in 3.12). A ``stop()`` that cancels once and then awaits the task
  hangs forever in that case: the task carries on, connected, waiting for messages. This was
  the hang of ``test_after_a_broker_restart_both_kinds_of_machine_flow_again`` (found with a
  task dump: the simulated edge node's task in state "cancelling", still publishing).
  ``stop_task`` therefore repeats the cancel until the task has really ended, and the loops
  also check a stopping flag.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from twinbridge.adapters.config import Backoff
from twinbridge.adapters.throttle import ThrottledLog

log = logging.getLogger("twinbridge.adapters")

STOP_GRACE_S = 0.5
"""How long ``stop_task`` waits for a cancelled task before cancelling it again."""


class ConnectionState(enum.StrEnum):
    """Where a source's link is; every adapter reports the same states."""

    IDLE = "idle"  # not started
    CONNECTING = "connecting"  # first attempt after start, nothing known yet
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # lost or unreachable; values are Bad, waiting to retry
    STOPPED = "stopped"


class Link(Protocol):
    """One protocol's session with its peer, driven by the supervisor."""

    async def open(self) -> None:
        """Connect (and subscribe, …); raise with a readable message when the peer cannot be reached."""

    async def serve(self) -> str:
        """Run until the session is lost and return why; the supervisor cancels it on stop."""

    async def close(self) -> None:
        """Release the session (idempotent, quick: the peer may be gone)."""


@dataclass(slots=True)
class ConnectionStats:
    """Counters of one supervised link, for operators, health checks and tests."""

    attempts: int = 0
    connects: int = 0
    losses: int = 0  # sessions that ended without a stop
    failures: int = 0  # attempts that could not connect
    outages: int = 0  # times the values turned Bad (one per lost/unreachable period)
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    """The latest backoff delays (bounded: a peer that is away for a week does not grow it)."""


def backoff_delay(backoff: Backoff, attempt: int, draw: Callable[[], float] = random.random) -> float:
    """The wait before reconnect ``attempt`` (0 for the first retry): exponential, capped, jittered."""
    ceiling = min(backoff.initial_s * 2.0 ** min(attempt, 60), backoff.max_s)
    return ceiling * (1.0 - backoff.jitter * draw())


async def stop_task(task: asyncio.Task[None], what: str) -> None:
    """Cancel ``task`` and wait until it has ended, re-cancelling a cancel that was swallowed
    (see the module doc); logs once when a task needed more than one cancel."""
    rounds = 0
    while not task.done():
        task.cancel()
        rounds += 1
        await asyncio.wait([task], timeout=STOP_GRACE_S)
    if rounds > 1:
        log.info("%s needed %d cancels to stop (one was swallowed, or its clean-up outlasted %g s)",
                 what, rounds, STOP_GRACE_S)
    if not task.cancelled() and task.exception() is not None:
        log.error("%s had failed: %r", what, task.exception())


async def stop_tasks(tasks: Iterable[asyncio.Task[None]], what: str) -> None:
    await asyncio.gather(*(stop_task(task, f"{what} ({task.get_name()})") for task in tasks))


class ConnectionSupervisor:
    """Keeps ``link`` to the peer named ``where`` up until ``stop()``; see the module doc."""

    def __init__(
        self,
        where: str,
        link: Link,
        backoff: Backoff,
        *,
        on_up: Callable[[], None],
        on_down: Callable[[str], None],
    ) -> None:
        self.where = where
        self.stats = ConnectionStats()
        self.state = ConnectionState.IDLE
        self.reason = ""
        """Why the link is not connected (empty while connected)."""
        self.since = time.time()
        """When ``state`` last changed (epoch seconds)."""
        self._link = link
        self._backoff = backoff
        self._on_up = on_up
        self._on_down = on_down
        self._up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._throttle = ThrottledLog(log, interval_s=60.0)

    @property
    def connected(self) -> bool:
        return self.state is ConnectionState.CONNECTED

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._set(ConnectionState.CONNECTING, "not connected yet")
            self._task = asyncio.create_task(self._run(), name=f"link {self.where}")

    async def stop(self) -> None:
        """End the session and the retries; the adapter decides what its values become."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task, f"link {self.where}")
        await self._close()
        self._up.clear()
        self._set(ConnectionState.STOPPED, "stopped")

    async def wait_connected(self, timeout: float) -> None:
        """Wait for a session; TimeoutError (naming the peer and why) if none came up in time."""
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.where}: not connected after {timeout:g} s ({self.reason})") from None

    # ------------------------------------------------------------------ the loop
    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            self.stats.attempts += 1
            try:
                await self._link.open()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure to connect is retried; the reason is kept
                self.stats.failures += 1
                await self._close()
                self._down(f"cannot connect: {describe(error)}", lost=False)
            else:
                if self._stopping:  # the stop's cancel raced with the connect (see the module doc)
                    return
                attempt = 0
                self.stats.connects += 1
                self._set(ConnectionState.CONNECTED, "")
                self._throttle.forget(self.where)
                log.info("%s connected", self.where)
                self._up.set()
                self._notify(self._on_up)
                try:
                    reason = await self._link.serve()
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # a session may end by raising; that is a loss too
                    reason = describe(error)
                self._up.clear()
                if self._stopping:
                    break
                self.stats.losses += 1
                await self._close()
                self._down(f"connection lost: {reason}", lost=True)
            delay = backoff_delay(self._backoff, attempt)
            attempt += 1
            self.stats.delays.append(delay)
            self._throttle.warning(self.where, f"{self.where}: {self.reason}; retrying in {delay:.2f} s")
            await asyncio.sleep(delay)

    def _down(self, reason: str, *, lost: bool) -> None:
        was_down = self.state is ConnectionState.RECONNECTING
        self._set(ConnectionState.RECONNECTING, reason)
        if lost or not was_down:  # once per outage: a peer that stays away is not news every retry
            self.stats.outages += 1
            self._notify(lambda: self._on_down(reason))

    def _notify(self, callback: Callable[[], None]) -> None:
        """Run an adapter's callback; a bug in it is logged and must not end the reconnecting."""
        try:
            callback()
        except Exception:
            log.exception("%s: the adapter failed to take a connection change", self.where)

    def _set(self, state: ConnectionState, reason: str) -> None:
        if state is not self.state:
            self.since = time.time()
        self.state = state
        self.reason = reason

    async def _close(self) -> None:
        try:
            await self._link.close()
        except Exception as error:  # closing a dead session may fail; it is gone either way
            log.debug("%s: closing the session failed: %s", self.where, describe(error))


def describe(error: BaseException) -> str:
    """A one-line reason: the message, or the exception's name when it has none."""
    text = str(error).strip()
    return text if text else type(error).__name__
