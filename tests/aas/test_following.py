"""``aas.following``: a ``ViewFollower`` that reads bring up to date synchronously and that its
task rebuilds when a batch fails, instead of going deaf to every later change; a ``Relay`` whose
follower misses nothing made between ``subscribe`` and ``start`` and whose sender stops with it."""

from __future__ import annotations

import asyncio

from basyx.aas import model

from twinbridge.aas.bus import ChangeBatch, Follower
from twinbridge.aas.following import Relay, ViewFollower
from twinbridge.aas.twin import Twin

A = "urn:test:following:a"


def _twin() -> Twin:
    twin = Twin()
    twin.create(model.Submodel(A, submodel_element=[model.Property("t", model.datatypes.Double, value=0.0)]))
    return twin


class _View:
    """Records what it was given; fails on the values listed in ``broken``."""

    def __init__(self) -> None:
        self.values: list[object] = []
        self.rebuilds = 0
        self.broken: set[float] = set()

    def apply(self, batch: ChangeBatch) -> None:
        for event in batch.values:
            if event.value in self.broken:
                raise ValueError(f"cannot index {event.value!r}")
            self.values.append(event.value)

    def rebuild(self) -> None:
        self.rebuilds += 1


async def test_a_read_catches_up_before_the_task_runs() -> None:
    twin, view = _twin(), _View()
    follower = ViewFollower(twin.bus, view.apply, view.rebuild, "test view")
    assert not follower.following
    follower.follow()
    assert follower.following
    twin.update(twin.live(A, "t"), 1.0)
    follower.catch_up()  # no await in between: the task has not run
    assert view.values == [1.0]
    follower.close()
    assert not follower.following


async def test_the_task_applies_and_a_failed_batch_rebuilds_without_going_deaf() -> None:
    twin, view = _twin(), _View()
    view.broken.add(2.0)
    follower = ViewFollower(twin.bus, view.apply, view.rebuild, "test view")
    follower.follow()
    handle = twin.live(A, "t")
    for value in (1.0, 2.0, 3.0):
        twin.update(handle, value)
        await asyncio.wait_for(twin.bus.drained(), 5)
        await asyncio.sleep(0)
    assert view.values == [1.0, 3.0]
    assert view.rebuilds == 1
    follower.close()


def test_without_a_running_loop_reads_catch_up_themselves() -> None:
    twin, view = _twin(), _View()
    follower = ViewFollower(twin.bus, view.apply, view.rebuild, "test view")
    follower.follow()  # no loop: no task, and no error
    twin.update(twin.live(A, "t"), 4.0)
    follower.catch_up()
    assert view.values == [4.0]
    follower.close()


async def test_a_relay_records_what_came_before_start_and_stops_its_sender() -> None:
    twin = _twin()
    recorded: list[object] = []
    sending, cancelled = asyncio.Event(), asyncio.Event()

    async def record(batch: ChangeBatch) -> None:
        recorded.extend(event.value for event in batch.values)

    async def send() -> None:
        sending.set()
        try:
            await asyncio.Event().wait()  # a sender runs until it is cancelled
        except asyncio.CancelledError:
            cancelled.set()
            raise

    relay = Relay(Follower(twin.bus, record, "test relay"), send)
    relay.subscribe()
    twin.update(twin.live(A, "t"), 5.0)  # during the full sync: after subscribe, before start
    relay.start()
    await asyncio.wait_for(sending.wait(), 5)
    await asyncio.wait_for(twin.bus.drained(), 5)
    assert recorded == [5.0]
    await relay.stop()
    assert cancelled.is_set()
    twin.update(twin.live(A, "t"), 6.0)
    await asyncio.wait_for(twin.bus.drained(), 1)  # the follower unsubscribed: nothing waits
    assert recorded == [5.0]
