"""First saves deferred at start-up (``Twin.deferring_first_saves``): what the store holds at each
step, and that a change to a waiting object stores its whole document first, exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from basyx.aas import model

from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import SqliteStore
from twinbridge.aas.twin import Twin


def _submodel(identifier: str) -> model.Submodel:
    return model.Submodel(identifier, submodel_element=[
        model.Property(f"p{n}", model.datatypes.Double, value=float(n)) for n in range(3)])


def _stored(path: Path) -> dict[str, model.Submodel]:
    twin = Twin(SqliteStore(path))
    try:
        return dict(twin.submodels)
    finally:
        twin.close()


def _created(path: Path, count: int) -> Twin:
    twin = Twin(SqliteStore(path))
    with twin.deferring_first_saves():
        for index in range(count):
            twin.create(_submodel(f"urn:sm:{index}"))
    twin.create(_submodel("urn:after"))  # outside the block: stored at once
    twin.wait_persisted()
    return twin


def test_deferred_documents_reach_the_store_only_when_saved(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    twin = _created(path, 3)
    assert twin.deferred_saves == 3
    assert set(_stored(path)) == {"urn:after"}
    assert twin.save_deferred() is False
    twin.wait_persisted()
    assert set(_stored(path)) == {"urn:after", "urn:sm:0", "urn:sm:1", "urn:sm:2"}
    twin.close()


def test_a_slice_saves_in_creation_order_and_says_what_is_left(tmp_path: Path) -> None:
    twin = _created(tmp_path / "store.sqlite", 3)
    assert twin.save_deferred(until=0.0) is True  # a spent budget saves nothing
    assert twin.deferred_saves == 3
    twin.close()  # close stores the rest
    assert set(_stored(tmp_path / "store.sqlite")) == {"urn:after", "urn:sm:0", "urn:sm:1", "urn:sm:2"}


def test_a_change_to_a_waiting_object_stores_its_document_first_and_once(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    twin = _created(path, 4)
    asyncio.run(twin.write_value(twin.live("urn:sm:0", "p1"), 41.5))  # client value write
    twin.add_element("urn:sm:1", None, model.Property("extra", model.datatypes.Int, value=7))  # structural
    twin.update(twin.live("urn:sm:2", "p2"), 9.5)  # device value, persisted by the flush
    twin.flush()
    twin.delete(ObjectKind.SUBMODEL, "urn:sm:3")
    assert twin.deferred_saves == 0
    twin.wait_persisted()
    stored = _stored(path)
    assert set(stored) == {"urn:after", "urn:sm:0", "urn:sm:1", "urn:sm:2"}
    values = {sm: {e.id_short: e.value for e in stored[sm].submodel_element}  # type: ignore[attr-defined]
              for sm in ("urn:sm:0", "urn:sm:1", "urn:sm:2")}
    assert values["urn:sm:0"]["p1"] == 41.5
    assert values["urn:sm:1"] == {"p0": 0.0, "p1": 1.0, "p2": 2.0, "extra": 7}  # added once, not twice
    assert values["urn:sm:2"]["p2"] == 9.5
    twin.close()


def test_replacing_a_waiting_object_stores_the_replacement(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    twin = _created(path, 1)
    replacement = model.Submodel("urn:sm:0", submodel_element=[model.Property("q", model.datatypes.Int, value=1)])
    twin.replace(replacement)
    assert twin.deferred_saves == 0
    twin.wait_persisted()
    assert [e.id_short for e in _stored(path)["urn:sm:0"].submodel_element] == ["q"]
    twin.close()
