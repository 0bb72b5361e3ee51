"""The twin's single write path: structure, live values, handles, write-back rules and the bus."""

from __future__ import annotations

import asyncio

import pytest
from basyx.aas import model

from twinbridge.aas.errors import Conflict, InvalidInput, NotFound, NotWritable, WriteRejected
from twinbridge.aas.events import ChangeKind, ObjectKind
from twinbridge.aas.quality import Quality
from twinbridge.aas.store import MemoryStore
from twinbridge.aas.twin import Twin

SM_ID = "urn:test:sm:1"


def _submodel() -> model.Submodel:
    return model.Submodel(
        SM_ID,
        id_short="Operational",
        submodel_element=[
            model.Property("Temperature", model.datatypes.Double, 20.5),
            model.Property("Count", model.datatypes.Int, 1),
            model.SubmodelElementCollection("Spindle", value=[model.Property("Speed", model.datatypes.Float, 0.0)]),
            model.SubmodelElementList(
                "Readings", type_value_list_element=model.Property, value_type_list_element=model.datatypes.Int,
                value=[model.Property(None, model.datatypes.Int, 1), model.Property(None, model.datatypes.Int, 2)],
            ),
        ],
    )


@pytest.fixture
def twin() -> Twin:
    twin = Twin()
    twin.create(_submodel())
    return twin


def test_create_twice_is_a_conflict_and_keeps_the_first(twin: Twin) -> None:
    other = model.Submodel(SM_ID, id_short="Other")
    with pytest.raises(Conflict, match=SM_ID):
        twin.create(other)
    assert twin.submodel(SM_ID).id_short == "Operational"


def test_elements_resolve_by_path_including_list_indices(twin: Twin) -> None:
    assert twin.element(SM_ID, "Spindle.Speed").id_short == "Speed"
    readings = twin.element(SM_ID, "Readings[1]")
    assert isinstance(readings, model.Property) and readings.value == 2
    with pytest.raises(NotFound, match="no element 'Nope' in Spindle"):
        twin.element(SM_ID, "Spindle.Nope")


async def test_update_reaches_subscribers_coalesced_to_the_latest(twin: Twin) -> None:
    subscription = twin.bus.subscribe()
    handle = twin.live(SM_ID, "Temperature")
    for value in (21.0, 22.0, 23.0):
        twin.update(handle, value, timestamp=100.0 + value)
    batch = await asyncio.wait_for(subscription.next_batch(), 1)
    assert [(e.value, e.timestamp) for e in batch.values] == [(23.0, 123.0)]
    assert twin.element(SM_ID, "Temperature").value == 23.0  # type: ignore[attr-defined]


async def test_quality_only_change_keeps_the_value(twin: Twin) -> None:
    handle = twin.live(SM_ID, "Temperature")
    twin.update(handle, 30.0)
    twin.set_quality(handle, Quality.BAD)
    assert handle.quality is Quality.BAD
    assert twin.element(SM_ID, "Temperature").value == 30.0  # type: ignore[attr-defined]


def test_handles_follow_a_replaced_submodel_and_drop_vanished_elements(twin: Twin) -> None:
    temperature = twin.live(SM_ID, "Temperature")
    count = twin.live(SM_ID, "Count")
    replacement = _submodel()
    replacement.submodel_element.remove(replacement.submodel_element.get("id_short", "Count"))
    twin.replace(replacement)
    twin.update(temperature, 40.0)
    twin.update(count, 5)  # dropped: the element is gone
    assert twin.element(SM_ID, "Temperature").value == 40.0  # type: ignore[attr-defined]
    assert count.element is None


async def test_structure_events_name_the_changed_path(twin: Twin) -> None:
    subscription = twin.bus.subscribe(structure_only=True)
    path = twin.add_element(SM_ID, "Spindle", model.Property("Torque", model.datatypes.Double, 1.0))
    twin.delete_element(SM_ID, "Count")
    twin.delete(ObjectKind.SUBMODEL, SM_ID)
    batch = await asyncio.wait_for(subscription.next_batch(), 1)
    assert [(e.kind, e.path) for e in batch.structure] == [
        (ChangeKind.CREATED, "Spindle.Torque"), (ChangeKind.DELETED, "Count"), (ChangeKind.DELETED, None)
    ]
    assert path == "Spindle.Torque"


def test_duplicate_idshort_is_refused_and_nothing_changes(twin: Twin) -> None:
    with pytest.raises(Conflict):
        twin.add_element(SM_ID, None, model.Property("Temperature", model.datatypes.Double, 1.0))
    assert len(twin.submodel(SM_ID).submodel_element) == 4


def test_replace_element_keeps_position_and_checks_the_idshort(twin: Twin) -> None:
    twin.replace_element(SM_ID, "Count", model.Property("Count", model.datatypes.Int, 9))
    assert [e.id_short for e in twin.submodel(SM_ID).submodel_element][:2] == ["Temperature", "Count"]
    with pytest.raises(InvalidInput, match="differs"):
        twin.replace_element(SM_ID, "Count", model.Property("Other", model.datatypes.Int, 9))


async def test_client_writes_follow_the_binding(twin: Twin) -> None:
    unbound = twin.live(SM_ID, "Count")
    await twin.write_value(unbound, "7")
    assert twin.element(SM_ID, "Count").value == 7  # type: ignore[attr-defined]

    read_only = twin.live(SM_ID, "Temperature")
    twin.bind(read_only)
    with pytest.raises(NotWritable):
        await twin.write_value(read_only, 1.0)

    sent: list[object] = []

    async def device(value: object) -> None:
        sent.append(value)

    setpoint = twin.live(SM_ID, "Spindle.Speed")
    twin.bind(setpoint, device)
    await twin.write_value(setpoint, 1500)
    assert sent == [1500.0]
    assert twin.element(SM_ID, "Spindle.Speed").value == 1500.0  # type: ignore[attr-defined]
    with pytest.raises(WriteRejected):
        await twin.write_value(unbound, "not a number")


def test_structural_writes_persist_and_live_values_flush(twin: Twin) -> None:
    store = MemoryStore()
    first = Twin(store)
    first.create(_submodel())
    handle = first.live(SM_ID, "Temperature")
    first.update(handle, 99.0)
    assert Twin(store).element(SM_ID, "Temperature").value == 20.5  # type: ignore[attr-defined]
    assert first.flush() == 1
    assert Twin(store).element(SM_ID, "Temperature").value == 99.0  # type: ignore[attr-defined]
    assert first.flush() == 0
