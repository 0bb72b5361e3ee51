"""Two twins on one PostgreSQL schema in one process, each with its replica: convergence,
catching up after the replica's connection is cut, and a failed local write read back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest
from basyx.aas import model

from tests.postgres import SERVER, fresh_store_url, require_postgres
from twinbridge.aas.errors import PreconditionFailed
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.replication import POLL_S, Replica
from twinbridge.aas.store import CheckVersion
from twinbridge.aas.store.postgres import PostgresStore
from twinbridge.aas.store.postgres_schema import StoreUrl
from twinbridge.aas.twin import Twin

SM = "urn:twinbridge:test:replica"


async def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not reached"
        await asyncio.sleep(0.01)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Twin, Twin, Replica]]:
    require_postgres()
    with fresh_store_url("replica") as url:
        twins = [Twin(PostgresStore(StoreUrl(url))) for _ in range(2)]
        replicas = []
        for twin in twins:
            assert isinstance(twin.store.backend, PostgresStore)
            replica = Replica(twin, twin.store.backend)
            await replica.start()
            replicas.append(replica)
        try:
            yield twins[0], twins[1], replicas[1]
        finally:
            for replica in replicas:
                await replica.stop()
            for twin in twins:
                twin.close()


def _value(twin: Twin, path: str) -> object:
    if not twin.exists(ObjectKind.SUBMODEL, SM):
        return None
    return getattr(twin.submodel(SM).get_referable(path), "value", None)


async def test_a_replica_catches_up_from_the_outbox_after_its_connection_is_cut(
        pair: tuple[Twin, Twin, Replica]) -> None:
    a, b, b_replica = pair
    a.create(model.Submodel(SM, id_short="R", submodel_element=[model.Property("x", model.datatypes.Int, 0)]))
    await a.persisted()
    await _eventually(lambda: _value(b, "x") == 0)
    await _eventually(lambda: b_replica.connected)
    with psycopg.connect(SERVER, autocommit=True) as conn:  # cut B's replica off (as a network fault would)
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                     (f"twinbridge replica {b_replica.store.instance[:8]}",))
    for value in range(1, 51):  # written while B may be reconnecting: no NOTIFY reaches it
        await a.write_value(a.live(SM, "x"), value)
    await a.persisted()
    await _eventually(lambda: _value(b, "x") == 50)
    assert b.version(ObjectKind.SUBMODEL, SM) == a.version(ObjectKind.SUBMODEL, SM)


async def test_an_instances_own_commits_start_no_outbox_read_another_instances_do(
        pair: tuple[Twin, Twin, Replica], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, b_replica = pair
    b.create(model.Submodel(SM, id_short="R", submodel_element=[model.Property("x", model.datatypes.Int, 0)]))
    await b.persisted()
    await _eventually(lambda: _value(a, "x") == 0)
    rounds = 0
    read_outbox = b_replica._round

    def counted(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
        nonlocal rounds
        rounds += 1
        return read_outbox(conn)

    monkeypatch.setattr(b_replica, "_round", counted)
    started = asyncio.get_running_loop().time()
    for value in range(1, 41):  # 40 commits of B's own, 40 NOTIFYs naming B
        await b.write_value(b.live(SM, "x"), value)
        await b.persisted()
    polls = (asyncio.get_running_loop().time() - started) / POLL_S
    assert rounds <= polls + 2, f"{rounds} outbox reads for B's own 40 commits ({polls:.1f} polls due)"
    with psycopg.connect(SERVER, autocommit=True) as conn:  # the NOTIFY names the writing instance
        conn.execute(f'LISTEN "{b_replica.store.url.channel}"')
        await a.write_value(a.live(SM, "x"), 1000)
        await a.persisted()
        heard = [notify.payload for notify in conn.notifies(timeout=5, stop_after=1)]
    assert heard and heard[0].endswith(f" {a.store.backend.instance}")  # type: ignore[attr-defined]
    await _eventually(lambda: _value(b, "x") == 1000)  # another instance's NOTIFY: B reads and applies it
    assert b.version(ObjectKind.SUBMODEL, SM) == a.version(ObjectKind.SUBMODEL, SM)


async def test_a_local_write_the_store_refused_is_read_back(pair: tuple[Twin, Twin, Replica]) -> None:
    a, b, _ = pair
    a.create(model.Submodel(SM, id_short="R", submodel_element=[model.Property("x", model.datatypes.Int, 0)]))
    await a.persisted()
    await _eventually(lambda: _value(b, "x") == 0)
    stale = CheckVersion(ObjectKind.SUBMODEL, SM, b.version(ObjectKind.SUBMODEL, SM) - 1)  # an old If-Match
    with b.store.expecting(stale):
        await b.write_value(b.live(SM, "x"), 99)
    assert _value(b, "x") == 99  # optimistic in memory ...
    with pytest.raises(PreconditionFailed):
        await b.persisted()
    await _eventually(lambda: _value(b, "x") == 0)  # ... and back to the store's once refused
