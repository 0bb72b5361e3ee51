"""Value writes in flight on the PostgreSQL store (``store.postgres_pipeline``): concurrent writes
all land, in order, each with its outbox row; a connection cut with batches in flight applies
none of them twice and loses none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from basyx.aas import model

from tests.postgres import SERVER, fresh_store_url, require_postgres
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import ElementOp, LogElement, SaveDocument
from twinbridge.aas.store.postgres import PostgresStore
from twinbridge.aas.store.postgres_pipeline import ValuePipeline
from twinbridge.aas.store.postgres_schema import StoreUrl
from twinbridge.aas.twin import Twin

SM = "urn:twinbridge:test:pipeline"
ELEMENTS = 8


@pytest.fixture
def url() -> Iterator[str]:
    require_postgres()
    with fresh_store_url("pipe") as fresh:
        yield fresh


def _rows(url: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(SERVER) as conn:
        conn.execute(f"SET search_path TO {StoreUrl(url).schema}")
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached"
        time.sleep(0.01)


def _value(path: str, value: int) -> LogElement:
    return LogElement(SM, ElementOp.VALUE, path, str(value).encode())


def _writer_backend(url: str, store: PostgresStore) -> list[tuple[object, ...]]:
    return _rows(url, "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                 (f"twinbridge writer {store.instance[:8]}",))


async def test_concurrent_value_writes_all_land_in_order_with_their_outbox_rows(url: str) -> None:
    store = PostgresStore(StoreUrl(url))
    twin = Twin(store)
    twin.create(model.Submodel(SM, id_short="Pipe", submodel_element=[
        model.Property(f"p{n}", model.datatypes.Int, 0) for n in range(ELEMENTS)]))
    await twin.persisted()
    submitted: list[tuple[str, bytes]] = []

    async def client(number: int) -> None:
        for round_ in range(25):
            path, value = f"p{(number + round_) % ELEMENTS}", number * 1_000 + round_
            await twin.write_value(twin.live(SM, path), value)
            submitted.append((path, str(value).encode()))
            await twin.persisted()  # as a PATCH does before its 2xx

    await asyncio.gather(*(client(n) for n in range(32)))
    rows = _rows(url, "SELECT path, body, batch FROM outbox WHERE op = 'value' ORDER BY id")
    assert [(path, bytes(body)) for path, body, _ in rows] == submitted  # every write once, in order
    batches = {batch for _, _, batch in rows}
    assert 1 < len(batches) < len(submitted)  # grouped, and more than one transaction
    stored = {str(path): bytes(body) for path, body in _rows(url, "SELECT path, body FROM element_values")}
    assert stored == {f"p{n}": str(twin.submodel(SM).get_referable(f"p{n}").value).encode()  # type: ignore[attr-defined]
                      for n in range(ELEMENTS)}
    assert _writer_backend(url, store)  # the values went through the pipelined connection
    twin.close()


def _cut(url: str, store: PostgresStore) -> None:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                     (f"twinbridge writer {store.instance[:8]}",))


def test_a_batch_that_committed_before_the_connection_broke_is_not_applied_again(url: str) -> None:
    store = PostgresStore(StoreUrl(url))
    store.write([SaveDocument(ObjectKind.SUBMODEL, SM, b"{}")])
    pipeline = ValuePipeline(store)
    pipeline.send([_value("p0", 1), _value("p1", 1)])
    # committed (its rows are there) but its results not read yet when the connection goes
    _until(lambda: len(_rows(url, "SELECT 1 FROM outbox WHERE op = 'value'")) == 2)
    _cut(url, store)
    assert pipeline.wait(None) == [None]
    assert len(_rows(url, "SELECT 1 FROM outbox WHERE op = 'value'")) == 2  # not written twice
    assert store.own[("submodel", SM, "p1")] > 0  # known as this instance's own write all the same
    pipeline.send([_value("p0", 2)])  # a new connection takes over
    assert pipeline.wait(None) == [None]
    assert _rows(url, "SELECT path, body FROM element_values ORDER BY path") == [("p0", b"2"), ("p1", b"1")]
    pipeline.close()
    store.close()


def test_batches_cut_off_before_they_committed_are_written_once_in_order(url: str) -> None:
    store = PostgresStore(StoreUrl(url))
    store.write([SaveDocument(ObjectKind.SUBMODEL, SM, b"{}")])
    pipeline = ValuePipeline(store)
    with psycopg.connect(SERVER) as blocker:  # holds the store's lock: both batches wait in flight
        blocker.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (StoreUrl(url).schema,))
        pipeline.send([_value("p0", 1), _value("p1", 1)])
        pipeline.send([_value("p0", 2)])
        assert pipeline.in_flight == 2
        _until(lambda: len(_writer_backend(url, store)) == 1)
        _cut(url, store)
        blocker.rollback()
    assert pipeline.wait(None) == [None, None]
    rows = _rows(url, "SELECT path, body FROM outbox WHERE op = 'value' ORDER BY id")
    assert rows == [("p0", b"1"), ("p1", b"1"), ("p0", b"2")]  # once each, in send order
    assert _rows(url, "SELECT path, body FROM element_values ORDER BY path") == [("p0", b"2"), ("p1", b"1")]
    pipeline.close()
    store.close()
