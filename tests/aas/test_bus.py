"""Bus subscription modes: LATEST coalesces, EVERY keeps every sample up to its capacity and counts
what it dropped; filters by submodel, element and semanticId; bounded structure queues; drained()."""

from __future__ import annotations

import asyncio

import pytest
from basyx.aas import model

from twinbridge.aas import bus as bus_module
from twinbridge.aas.bus import ChangeBatch, DeliveryMode, Follower
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin

A = "urn:test:a"
B = "urn:test:b"
TEMPERATURE = "0173-1#02-AAA001#001"


def _submodel(identifier: str) -> model.Submodel:
    semantic = model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, TEMPERATURE),))
    return model.Submodel(identifier, submodel_element=[
        model.Property("t", model.datatypes.Double, value=0.0, semantic_id=semantic),
        model.Property("n", model.datatypes.Int, value=0),
    ])


def _twin() -> Twin:
    twin = Twin()
    twin.create(_submodel(A))
    twin.create(_submodel(B))
    return twin


async def test_every_mode_keeps_every_sample_in_order_under_its_capacity() -> None:
    twin = _twin()
    every = twin.bus.subscribe(mode=DeliveryMode.EVERY, capacity=100)
    latest = twin.bus.subscribe()
    handle = twin.live(A, "t")
    for n in range(100):
        twin.update(handle, float(n))
    batch = every.drain()
    assert [event.value for event in batch.values] == [float(n) for n in range(100)]
    assert every.dropped == 0 and batch.dropped == 0
    assert [event.value for event in latest.drain().values] == [99.0]  # LATEST coalesces per element


async def test_every_mode_drops_the_oldest_over_capacity_and_counts_them() -> None:
    twin = _twin()
    every = twin.bus.subscribe(mode=DeliveryMode.EVERY, capacity=10)
    handle = twin.live(A, "n")
    for n in range(25):
        twin.update(handle, n)
    batch = every.drain()
    assert [event.value for event in batch.values] == list(range(15, 25))
    assert batch.dropped == 15 and every.dropped == 15
    twin.update(handle, 99)
    assert every.drain().dropped == 0 and every.dropped == 15  # per batch, and since the start


async def test_every_mode_hands_out_structure_and_values_in_the_order_they_were_published() -> None:
    """A value write and an element added a moment later land in one batch: ``ordered()`` keeps
    them in order (the journal and the event hub must not swap them), evicted samples included."""
    twin = _twin()
    every = twin.bus.subscribe(mode=DeliveryMode.EVERY, capacity=4)
    handle = twin.live(A, "n")
    twin.update(handle, 1)
    twin.add_element(A, None, model.Property("extra", model.datatypes.Int, value=0))
    twin.update(handle, 2)
    twin.delete_element(A, "extra")

    def names(batch: ChangeBatch) -> list[object]:
        return [getattr(event, "value", None) if hasattr(event, "value") else event.kind.value
                for event in batch.ordered()]

    assert names(every.drain()) == [1, "created", 2, "deleted"]
    for n in range(3, 6):  # 3 values, then an edit, then 4 more: the queue (4) keeps the last 4
        twin.update(handle, n)
    twin.add_element(A, None, model.Property("extra", model.datatypes.Int, value=0))
    for n in range(6, 10):
        twin.update(handle, n)
    batch = every.drain()
    assert batch.dropped == 3 and names(batch) == ["created", 6, 7, 8, 9]
    latest = twin.bus.subscribe()  # LATEST: no order across kinds, structure first
    twin.update(handle, 10)
    twin.delete_element(A, "extra")
    assert names(latest.drain()) == ["deleted", 10]


async def test_filters_by_submodel_and_semantic_id() -> None:
    twin = _twin()
    only_b = twin.bus.subscribe(submodels=[B])
    temperatures = twin.bus.subscribe(mode=DeliveryMode.EVERY, semantic_ids=[TEMPERATURE])
    both = twin.bus.subscribe(submodels=[A], semantic_ids=[TEMPERATURE])
    for submodel_id in (A, B):
        for path in ("t", "n"):
            twin.update(twin.live(submodel_id, path), 1.0 if path == "t" else 1)
    assert {(e.element.submodel_id, e.element.path) for e in only_b.drain().values} == {(B, "t"), (B, "n")}
    assert [(e.element.submodel_id, e.element.path) for e in temperatures.drain().values] == [(A, "t"), (B, "t")]
    assert [(e.element.submodel_id, e.element.path) for e in both.drain().values] == [(A, "t")]
    twin.modify(ObjectKind.SUBMODEL, A, lambda submodel: setattr(submodel, "category", "x"))
    assert only_b.drain().structure == []  # structure of other submodels is filtered too


async def test_filters_by_element_and_offers_to_subscriptions_that_come_later() -> None:
    twin = _twin()
    a_t, a_n, b_t = twin.live(A, "t"), twin.live(A, "n"), twin.live(B, "t")
    just_a_t = twin.bus.subscribe(mode=DeliveryMode.EVERY, submodels=[A], elements=[a_t, b_t])  # b_t: not in A
    twin.update(a_t, 1.0)
    twin.update(a_n, 1)
    twin.update(b_t, 1.0)  # looked up once per element: a subscription that comes later must see it
    late = twin.bus.subscribe(elements=[b_t])
    twin.update(b_t, 2.0)
    assert [(e.element.path, e.value) for e in just_a_t.drain().values] == [("t", 1.0)]
    assert [(e.element.submodel_id, e.value) for e in late.drain().values] == [(B, 2.0)]
    late.close()
    twin.update(b_t, 3.0)
    assert not late.pending()


async def test_structure_overflow_marks_the_subscription_instead_of_losing_silently() -> None:
    twin = _twin()
    subscription = twin.bus.subscribe(structure_capacity=3)
    for n in range(5):
        twin.add_element(A, None, model.Property(f"x{n}", model.datatypes.Int, value=n))
    assert subscription.overflowed
    batch = await asyncio.wait_for(subscription.next_batch(), 1)
    assert batch.overflowed and len(batch.structure) <= 3
    assert not subscription.overflowed


async def test_drained_waits_until_followers_handled_everything() -> None:
    twin = _twin()
    seen: list[float] = []

    async def slow(batch: ChangeBatch) -> None:
        await asyncio.sleep(0.05)  # a consumer that takes its time
        seen.extend(event.value for event in batch.values)  # type: ignore[misc]

    follower = Follower(twin.bus, slow, "slow", mode=DeliveryMode.EVERY)
    follower.start()
    handle = twin.live(A, "t")
    for n in range(3):
        twin.update(handle, float(n))
        await asyncio.sleep(0)
    await asyncio.wait_for(twin.bus.drained(), 5)
    assert seen == [0.0, 1.0, 2.0]
    await follower.stop()
    await asyncio.wait_for(twin.bus.drained(), 1)  # nothing subscribed: returns at once


async def test_a_failing_handler_still_counts_as_handled() -> None:
    twin = _twin()

    async def broken(batch: ChangeBatch) -> None:
        raise RuntimeError("projection bug")

    follower = Follower(twin.bus, broken, "broken")
    follower.start()
    twin.update(twin.live(A, "t"), 1.0)
    await asyncio.wait_for(twin.bus.drained(), 5)
    await follower.stop()


async def test_short_lived_handles_do_not_grow_the_offer_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A handle of its own per write (a bounded cache's write to an evicted submodel, ``Twin.detached``):
    the bus's per-element cache of offers stays bounded, and every value still reaches its subscriber."""
    monkeypatch.setattr(bus_module, "_OFFERS_KEPT", 50)
    twin = _twin()
    every = twin.bus.subscribe(mode=DeliveryMode.EVERY, capacity=1_000)
    element = twin.element(A, "n")
    for n in range(500):
        twin.update(twin.detached(A, "n", element), n)
        assert len(twin.bus._offers) <= 50
    assert [event.value for event in every.drain().values] == list(range(500))
