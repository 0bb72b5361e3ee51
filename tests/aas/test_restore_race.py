"""A write the disk refuses is undone in memory without undoing the writes accepted after it.

The refused unit's restore runs on the event loop while later units may still wait in the
writer's queue: memory must come back as the store holds it *plus* what those later units
change, or an accepted, acknowledged write vanishes from memory (and reappears after a restart).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from basyx.aas import model

from twinbridge.aas.errors import StorageFull
from twinbridge.aas.store import Change, LogElement, SqliteStore
from twinbridge.aas.twin import Twin

SUBMODEL = "urn:twinbridge:test:sm:race"


class GatedStore(SqliteStore):
    """SQLite whose writes wait for the test's word, refusing those that log ``refuse``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.refuse: str | None = None
        self.gated = False
        self.entered = threading.Semaphore(0)
        self.release = threading.Semaphore(0)

    def write(self, changes: Sequence[Change]) -> None:
        if self.gated:
            self.entered.release()
            assert self.release.acquire(timeout=30), "the test never released the write"
        if any(isinstance(change, LogElement) and change.path == self.refuse for change in changes):
            raise StorageFull("the disk is full (test)")
        super().write(changes)


def _submodel() -> model.Submodel:
    return model.Submodel(SUBMODEL, submodel_element=[
        model.Property("Refused", model.datatypes.Int, value=1),
        model.Property("Accepted", model.datatypes.Int, value=1),
    ])


async def _entered(store: GatedStore) -> None:
    assert await asyncio.to_thread(store.entered.acquire, True, 30), "the writer never reached the store"


def _counting_restores(twin: Twin) -> list[int]:
    """Appends once per restore the twin ran (after it ran)."""
    restores: list[int] = []
    handler = twin.store.on_failure
    assert handler is not None

    def counted(*args: Any) -> None:
        handler(*args)
        restores.append(1)

    twin.store.on_failure = counted
    return restores


async def _restored(restores: list[int]) -> None:
    deadline = time.monotonic() + 30
    while not restores:
        assert time.monotonic() < deadline, "the refused write was never undone"
        await asyncio.sleep(0.01)


async def test_restoring_a_refused_write_keeps_a_later_accepted_one(tmp_path: Path) -> None:
    path = tmp_path / "twin.sqlite3"
    store = GatedStore(path)
    twin = Twin(store)
    twin.create(_submodel())
    await twin.persisted()
    refused, accepted = twin.live(SUBMODEL, "Refused"), twin.live(SUBMODEL, "Accepted")

    restores = _counting_restores(twin)
    store.gated, store.refuse = True, "Refused"
    before = twin.store.position
    await twin.write_value(refused, 2)
    await _entered(store)  # the writer holds the refused unit
    await twin.write_value(accepted, 2)  # queued behind it, accepted once written
    store.release.release()  # the disk refuses the first unit...
    await _entered(store)  # ...and the writer holds the second before it is written
    await _restored(restores)
    assert twin.element(SUBMODEL, "Refused").value == 1
    assert twin.element(SUBMODEL, "Accepted").value == 2  # the restore kept the pending accepted write

    store.release.release()
    with pytest.raises(StorageFull):
        await twin.persisted(since=before)
    assert twin.element(SUBMODEL, "Accepted").value == 2
    store.gated = False
    twin.close()

    again = Twin(SqliteStore(path))
    assert again.element(SUBMODEL, "Refused").value == 1
    assert again.element(SUBMODEL, "Accepted").value == 2
    again.close()


async def test_a_refused_write_is_undone_over_a_later_replaced_document(tmp_path: Path) -> None:
    """A whole document saved after the refused unit is what memory holds once restored (not the store's older one)."""
    store = GatedStore(tmp_path / "twin.sqlite3")
    twin = Twin(store)
    twin.create(_submodel())
    await twin.persisted()

    restores = _counting_restores(twin)
    store.gated, store.refuse = True, "Refused"
    before = twin.store.position
    await twin.write_value(twin.live(SUBMODEL, "Refused"), 2)
    await _entered(store)
    replacement = _submodel()
    replacement.get_referable("Accepted").value = 7  # type: ignore[attr-defined]
    replacement.get_referable("Refused").value = 3  # type: ignore[attr-defined]
    twin.replace(replacement)
    store.release.release()
    await _entered(store)
    await _restored(restores)
    # The replacement was accepted after the refused value and holds Refused = 3 itself.
    assert twin.element(SUBMODEL, "Accepted").value == 7
    assert twin.element(SUBMODEL, "Refused").value == 3
    store.release.release()
    with pytest.raises(StorageFull):
        await twin.persisted(since=before)
    store.gated = False
    twin.close()
