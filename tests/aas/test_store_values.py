"""Runs of value writes on the PostgreSQL store (``store.postgres_values``): concurrent writes all
land, in order, each with its outbox row; a connection cut with a batch in flight applies it
neither twice nor never."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from basyx.aas import model

from tests.postgres import SERVER, fresh_store_url, require_postgres
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import ElementOp, LogElement, SaveDocument
from twinbridge.aas.store.postgres import PostgresStore
from twinbridge.aas.store.postgres_schema import StoreUrl
from twinbridge.aas.store.postgres_values import ValueWriter
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
    assert _writer_backend(url, store)  # the values went through the value writer's connection
    twin.close()


def _cut(url: str, store: PostgresStore) -> None:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                     (f"twinbridge writer {store.instance[:8]}",))


def test_a_batch_that_committed_before_the_connection_broke_is_not_applied_again(url: str) -> None:
    store = PostgresStore(StoreUrl(url))
    store.write([SaveDocument(ObjectKind.SUBMODEL, SM, b"{}")])
    values = ValueWriter(store)
    sent = values.send([_value("p0", 1), _value("p1", 1)])
    # committed (its rows are there) but its outcome not read yet when the connection goes
    _until(lambda: len(_rows(url, "SELECT 1 FROM outbox WHERE op = 'value'")) == 2)
    _cut(url, store)
    values.finish(sent)
    assert len(_rows(url, "SELECT 1 FROM outbox WHERE op = 'value'")) == 2  # not written twice
    assert store.own[("submodel", SM, "p1")] > 0  # known as this instance's own write all the same
    values.write([_value("p0", 2)])  # a new connection takes over
    assert _rows(url, "SELECT path, body FROM element_values ORDER BY path") == [("p0", b"2"), ("p1", b"1")]
    values.close()
    store.close()


def test_a_batch_cut_off_before_it_committed_is_written_once(url: str) -> None:
    store = PostgresStore(StoreUrl(url))
    store.write([SaveDocument(ObjectKind.SUBMODEL, SM, b"{}")])
    store.write([_value("p0", 1)])
    with psycopg.connect(SERVER) as blocker, ThreadPoolExecutor(1) as pool:
        # the store's lock held elsewhere: the batch waits in PostgreSQL when its connection goes
        blocker.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (StoreUrl(url).schema,))
        writing = pool.submit(store.write, [_value("p0", 2), _value("p1", 2)])
        _until(lambda: _rows(url, "SELECT 1 FROM pg_stat_activity WHERE application_name = %s"
                                  " AND wait_event_type = 'Lock'", (f"twinbridge writer {store.instance[:8]}",)) != [])
        _cut(url, store)
        blocker.rollback()
        writing.result(timeout=30)
    rows = _rows(url, "SELECT path, body FROM outbox WHERE op = 'value' ORDER BY id")
    assert rows == [("p0", b"1"), ("p0", b"2"), ("p1", b"2")]  # once each, in order
    assert _rows(url, "SELECT path, body FROM element_values ORDER BY path") == [("p0", b"2"), ("p1", b"2")]
    store.close()
