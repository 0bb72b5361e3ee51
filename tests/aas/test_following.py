"""``aas.following.ViewFollower``: a view that reads bring up to date synchronously and that its
task rebuilds when a batch fails, instead of going deaf to every later change."""

from __future__ import annotations

import asyncio

from basyx.aas import model

from twinbridge.aas.bus import ChangeBatch
from twinbridge.aas.following import ViewFollower
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
