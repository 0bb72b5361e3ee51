"""Twin.write_value: one client write entry whose cost does not grow with the submodel, and whose
persistence is one element-log row that replays at load exactly as memory holds it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from basyx.aas import model

from tests.aas.environments import canonical
from twinbridge.aas import documents
from twinbridge.aas.bus import ChangeBus
from twinbridge.aas.errors import NotFound, NotWritable, StorageFull, WriteRejected
from twinbridge.aas.events import ObjectKind, Origin, ValueChanged
from twinbridge.aas.serialization import collect
from twinbridge.aas.store import SqliteStore
from twinbridge.aas.twin import Twin
from twinbridge.aas.twin_storage import COMPACT_MIN_ENTRIES
from twinbridge.aas.values import BlobValue, FileValue, RangeValue, find_value_kind

BIG = "urn:test:big"
KINDS = "urn:test:kinds"
REST = Origin("writer-token", "rest")


def _big(size: int = 1_000) -> model.Submodel:
    return model.Submodel(BIG, submodel_element=[
        model.Property(f"p{n}", model.datatypes.Double, value=float(n)) for n in range(size)])


def _kinds() -> model.Submodel:
    return model.Submodel(KINDS, submodel_element=[
        model.Property("Speed", model.datatypes.Double, value=1.0,
                       semantic_id=model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, "urn:speed"),))),
        model.Range("Limits", model.datatypes.Int, min=0, max=10),
        model.MultiLanguageProperty("Label", value=model.MultiLanguageTextType({"en": "press"})),
        model.ReferenceElement("Peer"),
        model.File("Manual", content_type="application/pdf", value="/aasx/files/old.pdf"),
        model.Blob("Config", content_type="application/json", value=b"{}"),
        model.SubmodelElementCollection("Spindle", value=[
            model.Property("Rpm", model.datatypes.Int, value=0),
            model.Property("Fed", model.datatypes.Int, value=0),
        ]),
        model.Property("When", model.datatypes.DateTime),
        model.Property("Exact", model.datatypes.Decimal),
    ])


def _document_body(path: Path, identifier: str) -> bytes:
    db = sqlite3.connect(path)
    (body,) = db.execute("SELECT body FROM documents WHERE id = ?", (identifier,)).fetchone()
    db.close()
    return bytes(body)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "twin.sqlite3"


async def test_a_value_write_on_1000_elements_is_one_value_event_and_one_log_row(database: Path) -> None:
    store = SqliteStore(database)
    twin = Twin(store)
    twin.create(_big())
    await twin.persisted()
    document_before = _document_body(database, BIG)
    subscription = twin.bus.subscribe()
    revision = twin.revision(BIG)

    await twin.write_value(twin.live(BIG, "p500"), "42.5", origin=REST)
    await twin.persisted()

    batch = subscription.drain()
    assert batch.structure == []
    (event,) = batch.values
    assert isinstance(event, ValueChanged) and event.value == 42.5 and event.origin == REST
    assert event.element.path == "p500" and twin.revision(BIG) == revision + 1
    assert store.log_length(BIG) == 1
    assert _document_body(database, BIG) == document_before  # the submodel was not re-encoded
    twin.close()
    again = Twin(SqliteStore(database))
    assert again.element(BIG, "p500").value == 42.5  # type: ignore[attr-defined]
    again.close()


async def test_every_single_valued_kind_replays_to_what_memory_holds(database: Path) -> None:
    twin = Twin(SqliteStore(database))
    twin.create(_kinds())
    reference = model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, BIG),), model.Submodel)
    writes: list[tuple[str, object]] = [
        ("Speed", 1500),
        ("Limits", RangeValue(-5, 5)),
        ("Label", {"en": "press", "de": "Presse"}),
        ("Peer", reference),
        ("Manual", FileValue("text/plain", "/aasx/files/new.txt")),
        ("Config", BlobValue("application/octet-stream", b"\x00\x01\xff")),
        ("When", "2026-11-30T10:00:00.5+01:00"),
        ("Exact", "0.1000000000000000000001"),
    ]
    for path, value in writes:
        await twin.write_value(twin.live(KINDS, path), value)
    # structural element changes go to the same log, in order with the values
    twin.add_element(KINDS, "Spindle", model.Property("Torque", model.datatypes.Double, value=3.5))
    twin.replace_element(KINDS, "Spindle.Rpm", model.Property("Rpm", model.datatypes.Int, value=99))
    twin.delete_element(KINDS, "Spindle.Fed")
    twin.modify_element(KINDS, "Speed", lambda element: setattr(element, "category", "PARAMETER"))
    await twin.write_value(twin.live(KINDS, "Spindle.Torque"), 4.5)
    await twin.persisted()
    expected = canonical(collect(twin))
    assert twin.element(KINDS, "Exact").value == model.datatypes.Decimal("0.1000000000000000000001")  # type: ignore[attr-defined]
    twin.close()

    store = SqliteStore(database)
    assert store.log_length(KINDS) == len(writes) + 5
    again = Twin(store)
    assert canonical(collect(again)) == expected
    assert again.value(again.live(KINDS, "Limits")) == RangeValue(-5, 5)
    again.close()


async def test_bad_values_are_rejected_naming_the_element(database: Path) -> None:
    twin = Twin(SqliteStore(database))
    twin.create(_kinds())
    bad: list[tuple[str, object, str]] = [
        ("Speed", "fast", "Speed"),
        ("Speed", True, "Speed"),
        ("Limits", RangeValue(5, 1), "Limits: min 5 is greater than max 1"),
        ("Limits", 3, "Limits: a Range value is RangeValue"),
        ("Label", [], "Label: a MultiLanguageProperty value"),
        ("Peer", "urn:x", "Peer: a ReferenceElement value is a Reference"),
        ("Manual", "/x.pdf", "Manual: a File value is FileValue"),
        ("Config", BlobValue("", b""), "Config: the contentType must be a non-empty string"),
    ]
    for path, value, message in bad:
        with pytest.raises(WriteRejected, match=message):
            await twin.write_value(twin.live(KINDS, path), value)
    with pytest.raises(NotWritable, match="Spindle is a SubmodelElementCollection, which has no single value"):
        await twin.write_value(twin.live(KINDS, "Spindle"), {})
    await twin.persisted()
    assert twin.store.backend.log_length(KINDS) == 0  # type: ignore[attr-defined]
    twin.close()


async def test_device_fed_elements_are_guarded_by_the_twin() -> None:
    twin = Twin()
    twin.create(_kinds())
    fed = twin.live(KINDS, "Spindle.Fed")
    twin.bind(fed)  # a device feeds it, without write-back
    with pytest.raises(NotWritable, match=r"Spindle\.Fed is fed by a device and has no write-back"):
        await twin.write_value(fed, 1)
    with pytest.raises(NotWritable, match=r"Spindle\.Fed cannot be replaced: Spindle\.Fed is fed by a device"):
        twin.replace_element(KINDS, "Spindle.Fed", model.Property("Fed", model.datatypes.Int, value=5))
    with pytest.raises(NotWritable, match=r"Spindle cannot be deleted: Spindle\.Fed is fed by a device"):
        twin.delete_element(KINDS, "Spindle")
    with pytest.raises(NotWritable, match="Spindle cannot be modified"):
        twin.modify_element(KINDS, "Spindle", lambda element: None)
    twin.modify_element(KINDS, "Spindle.Fed", lambda element: setattr(element, "category", "VARIABLE"))  # metadata
    twin.delete_element(KINDS, "Spindle.Rpm")  # a sibling is not device-fed
    assert fed.element is not None and twin.element(KINDS, "Spindle.Fed") is fed.element


async def test_write_back_awaits_the_device_then_flush_logs_only_dirty_values(database: Path) -> None:
    store = SqliteStore(database)
    twin = Twin(store)
    twin.create(_big(50))
    sent: list[object] = []

    async def device(value: object) -> None:
        if value == 13.0:
            raise ConnectionError("the PLC refuses 13")
        sent.append(value)

    setpoint = twin.live(BIG, "p1")
    twin.bind(setpoint, device)
    await twin.write_value(setpoint, 7)
    assert sent == [7.0] and twin.element(BIG, "p1").value == 7.0  # type: ignore[attr-defined]
    with pytest.raises(ConnectionError, match="refuses 13"):
        await twin.write_value(setpoint, 13)
    assert twin.element(BIG, "p1").value == 7.0  # type: ignore[attr-defined]
    for n in (2, 3):
        twin.update(twin.live(BIG, f"p{n}"), float(n * 100))
    twin.update(twin.live(BIG, "p2"), 201.0)
    assert twin.flush() == 3  # p1 (write-back) p2 p3: one row each, whatever the submodel's size
    assert twin.flush() == 0
    await twin.persisted()
    assert store.log_length(BIG) == 3
    twin.close()
    again = Twin(SqliteStore(database))
    assert [again.element(BIG, f"p{n}").value for n in (1, 2, 3, 4)] == [7.0, 201.0, 300.0, 4.0]  # type: ignore[attr-defined]
    again.close()


async def test_the_log_is_compacted_into_the_document(database: Path) -> None:
    store = SqliteStore(database)
    twin = Twin(store)
    twin.create(_big(20))
    handle = twin.live(BIG, "p3")
    for n in range(COMPACT_MIN_ENTRIES + 5):
        await twin.write_value(handle, n)
    await twin.persisted()
    assert store.log_length(BIG) == 4  # compacted once past the bound, then 4 more entries
    assert documents.decode(_document_body(database, BIG)).get_referable("p3").value == COMPACT_MIN_ENTRIES  # type: ignore[attr-defined]
    twin.close()
    again = Twin(SqliteStore(database))
    assert again.element(BIG, "p3").value == COMPACT_MIN_ENTRIES + 4  # type: ignore[attr-defined]
    again.close()


async def test_persisted_raises_the_stores_error(database: Path) -> None:
    twin = Twin(SqliteStore(database, max_bytes=256 * 1024))  # a real SQLITE_FULL past 256 KiB
    twin.create(_kinds())
    await twin.persisted()
    position = twin.store.position
    await twin.write_value(twin.live(KINDS, "Config"), BlobValue("application/octet-stream", b"x" * 1024 * 1024))
    with pytest.raises(StorageFull, match="is full"):
        await twin.persisted(since=position)
    with pytest.raises(StorageFull):
        await twin.persisted()  # a plain persisted() reports each failure once...
    await twin.persisted()  # ...then the store works again for what fits
    await twin.write_value(twin.live(KINDS, "Speed"), 2.0)
    await twin.persisted()
    twin.close()


async def test_a_vanished_element_is_not_found() -> None:
    twin = Twin()
    twin.create(_kinds())
    handle = twin.live(KINDS, "Spindle.Rpm")
    twin.delete(ObjectKind.SUBMODEL, KINDS)
    with pytest.raises(NotFound, match=r"Spindle\.Rpm no longer exists"):
        await twin.write_value(handle, 1)


def test_read_only_views_and_semantic_ids() -> None:
    twin = Twin()
    twin.create(_kinds())
    with pytest.raises(TypeError):
        twin.submodels["urn:x"] = _big()  # type: ignore[index]
    assert twin.live(KINDS, "Speed").semantic_id == "urn:speed"
    assert twin.live(KINDS, "Limits").semantic_id is None
    assert isinstance(twin.bus, ChangeBus)


async def test_putting_a_whole_element_that_differs_only_in_value_is_a_value_write() -> None:
    twin = Twin()
    twin.create(_kinds())
    subscription = twin.bus.subscribe()
    semantic = model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, "urn:speed"),))
    await twin.put_element(KINDS, "Speed", model.Property("Speed", model.datatypes.Double, value=3.0,
                                                          semantic_id=semantic))
    batch = subscription.drain()
    assert batch.structure == [] and [event.value for event in batch.values] == [3.0]
    await twin.put_element(KINDS, "Speed", model.Property("Speed", model.datatypes.Double, value=4.0,
                                                          category="PARAMETER"))
    batch = subscription.drain()
    assert batch.values == [] and [event.path for event in batch.structure] == ["Speed"]
    assert twin.element(KINDS, "Speed").category == "PARAMETER"
    twin.bind(twin.live(KINDS, "Limits"))
    with pytest.raises(NotWritable, match="fed by a device"):
        await twin.put_element(KINDS, "Limits", model.Range("Limits", model.datatypes.Int, min=1, max=2))


def test_property_values_round_trip_the_log_exactly() -> None:
    samples: list[tuple[type, object]] = [
        (model.datatypes.Double, 0.1), (model.datatypes.Double, float("inf")), (model.datatypes.Double, float("nan")),
        (model.datatypes.Float, model.datatypes.Float(1.5)), (model.datatypes.Int, model.datatypes.Int(-7)),
        (model.datatypes.UnsignedLong, model.datatypes.UnsignedLong(2**64 - 1)), (model.datatypes.Boolean, False),
        (model.datatypes.Integer, model.datatypes.Integer(2**70)),
        (model.datatypes.String, "1.5"), (model.datatypes.Decimal, model.datatypes.Decimal("1.10")),
        (model.datatypes.Date, model.datatypes.Date(2026, 11, 30)), (model.datatypes.HexBinary, None),
    ]
    for value_type, value in samples:
        source = model.Property("p", value_type, value=value)
        target = model.Property("p", value_type)
        kind = find_value_kind(source)
        assert kind is not None
        kind.load(target, kind.dump(source))
        assert type(target.value) is type(source.value), value_type
        assert repr(target.value) == repr(source.value), value_type


async def test_a_flush_past_the_bound_saves_the_submodel_whole(database: Path) -> None:
    store = SqliteStore(database)
    twin = Twin(store)
    twin.create(_big(20))
    handles = [twin.live(BIG, f"p{n}") for n in range(20)]
    rounds = COMPACT_MIN_ENTRIES // 20
    for round_ in range(rounds + 1):
        for handle in handles:
            twin.update(handle, float(round_))
        assert twin.flush() == 20
    await twin.persisted()
    assert store.log_length(BIG) == 0  # the last flush saved the document instead of 20 more rows
    twin.close()
    again = Twin(SqliteStore(database))
    assert {again.element(BIG, f"p{n}").value for n in range(20)} == {float(rounds)}  # type: ignore[attr-defined]
    again.close()
