"""Several instances on one PostgreSQL store: each follows the others' changes into its twin.

The store writes an outbox row per change in the change's own transaction, and transactions
commit in outbox-id order (``store.postgres``). A replica thread LISTENs for the ids, reads the
other instances' rows after the last one it applied (its own only move that position on; a
missed NOTIFY, a dropped connection or a PostgreSQL restart only delays it: it catches up from
the table; it also polls every ``POLL_S``) and hands them to the event loop, which applies
them in id order through the twin (``adopt``, ``adopt_value``): the same bus events as a
local change, nothing written again.

- A value row carries the value: applied as is. A document or structural row makes the
  replica read the identifiable's current document, log and values (one snapshot) and adopt it.
- Read-your-writes: a row is skipped when this instance changed the same key later (its own
  committed id is higher) or has a change of it in flight (that change will commit after the
  row, so it wins). A snapshot is not adopted while a local change of the identifiable is in
  flight or was made after the snapshot was read: it is read again on the next round.
- A change of this instance that failed (the store was unreachable, an ``If-Match`` lost)
  leaves the model ahead of the store: its identifiable is read back from the database.
- An instance away for longer than the outbox keeps its rows reads every document again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import psycopg
from basyx.aas import model

from twinbridge.aas import documents, tree
from twinbridge.aas.events import ObjectKind, Origin
from twinbridge.aas.store.base import Change, StoredDocument
from twinbridge.aas.store.postgres import Key, PostgresStore, document_key
from twinbridge.aas.store.postgres_schema import as_bytes, as_int, connect, read_documents
from twinbridge.aas.twin import Identifiable, Twin

log = logging.getLogger(__name__)

POLL_S = 0.5
BATCH_ROWS = 5_000
_FORGET_PAST = 10_000  # keys remembered before the bookkeeping of applied changes is trimmed
REPLICA = Origin("replica", "replica")
_DOCUMENT_OPS = frozenset({"save", "delete", "element"})

DocumentId = tuple[str, str]


@dataclass(slots=True)
class _Row:
    id: int
    instance: str
    kind: str
    identifier: str
    op: str
    path: str
    body: bytes | None


@dataclass(slots=True)
class _Round:
    rows: list[_Row]
    snapshots: dict[DocumentId, tuple[Identifiable | None, int]]
    position: int  # the writer's position when the snapshots were read
    everything: bool  # a full resync: identifiables the database no longer has are dropped
    through: int  # the outbox id read up to (this instance's own rows are not among ``rows``)


class Replica:
    """Follows a shared store's outbox into ``twin`` (a service: ``start``/``stop``)."""

    def __init__(self, twin: Twin, store: PostgresStore) -> None:
        self.twin = twin
        self.store = store
        self.applied = store.loaded_through
        """The last outbox id applied; the thread reads from there."""
        self.connected = False
        self._touched: dict[Key, int] = {}
        self._pending: set[DocumentId] = set()
        self._pending_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        twin.store.observe(self._submitted)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="twinbridge replica", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)
            self._thread = None

    # ---------------------------------------------------------- on the loop
    def _submitted(self, changes: Sequence[Change], seq: int) -> None:
        touched = self._touched
        for change in changes:
            key = document_key(change)
            if key is not None:
                touched[key] = seq
                touched[(key[0], key[1], "*")] = seq

    def _in_flight(self, key: Key) -> bool:
        return self._touched.get(key, 0) > self.twin.store.durable

    def _superseded(self, key: Key, row_id: int) -> bool:
        return self.store.own.get(key, 0) > row_id or self._in_flight(key)

    def _apply(self, batch: _Round) -> None:
        twin, store = self.twin, self.store
        adopted: set[DocumentId] = set()
        retry: set[DocumentId] = set()

        def adopt(document: DocumentId) -> None:
            if document in adopted or document in retry:
                return
            whole: Key = (document[0], document[1], "*")
            if self._touched.get(whole, 0) > batch.position or self._in_flight(whole):
                retry.add(document)  # a local change the snapshot may not hold: read it again
                return
            obj, version = batch.snapshots[document]
            kind = ObjectKind(document[0])
            if obj is not None or twin.exists(kind, document[1]):
                twin.adopt(kind, document[1], obj, origin=REPLICA)
            store.versions[(kind, document[1])] = max(version, store.versions.get((kind, document[1]), 0))
            adopted.add(document)

        for row in batch.rows:
            document = (row.kind, row.identifier)
            if row.instance != store.instance:
                if row.op == "value":
                    if document not in adopted and not self._superseded((row.kind, row.identifier, row.path), row.id) \
                            and not self._superseded((row.kind, row.identifier, ""), row.id):
                        assert row.body is not None
                        if not twin.adopt_value(row.identifier, row.path, row.body, origin=REPLICA):
                            retry.add(document)
                elif not self._superseded((row.kind, row.identifier, ""), row.id):
                    if document in batch.snapshots:
                        adopt(document)
                    elif not twin.holds(ObjectKind(row.kind), row.identifier):
                        twin.changed_elsewhere(ObjectKind(row.kind), row.identifier, deleted=row.op == "delete",
                                               origin=REPLICA)
                    else:
                        retry.add(document)
                key = (ObjectKind(row.kind), row.identifier)
                if row.op != "delete" and (key in store.versions or twin.holds(*key)):  # (none for the uncached)
                    store.versions[key] = max(row.id, store.versions.get(key, 0))
            self.applied = row.id
        self.applied = max(self.applied, batch.through)
        for document in batch.snapshots:
            if not any(r.kind == document[0] and r.identifier == document[1] for r in batch.rows):
                adopt(document)  # a read-back (failed local change, earlier retry or resync)
        if batch.everything:
            for kind in ObjectKind:
                for identifier in twin.held_ids(kind):
                    if (kind.value, identifier) not in batch.snapshots:
                        twin.adopt(kind, identifier, None, origin=REPLICA)
        if retry:
            with self._pending_lock:
                self._pending.update(retry)
        if len(self._touched) > _FORGET_PAST:  # neither in flight nor newer than any snapshot to come
            settled = min(twin.store.durable, batch.position)
            self._touched = {key: seq for key, seq in self._touched.items() if seq > settled}
        if len(store.own) > _FORGET_PAST:
            store.forget_own(self.applied)

    async def _apply_soon(self, batch: _Round) -> None:
        self._apply(batch)

    # -------------------------------------------------------- in the thread
    def _run(self) -> None:
        delay = 0.05
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = connect(self.store.url, autocommit=True,
                                   name=f"twinbridge replica {self.store.instance[:8]}")
                    conn.execute(f'LISTEN "{self.store.url.channel}"')  # our own checked schema name
                    if self.connected is False and self.applied:
                        log.info("replica connected to %s; catching up after outbox id %d",
                                 self.store.where, self.applied)
                    self.connected = True
                    delay = 0.05
                while self._round(conn):
                    pass
                self._wait(conn)
            except psycopg.Error as error:
                if self.connected:
                    log.warning("replica lost %s: %s; reconnecting", self.store.where, str(error).strip())
                self.connected = False
                if conn is not None:
                    conn.close()
                conn = None
                self._stop.wait(delay)
                delay = min(delay * 2, 1.0)
        if conn is not None:
            conn.close()

    def _wait(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        """Until another instance announces a change or the poll is due (``POLL_S``; 50 ms while
        a read-back is pending). This instance's own NOTIFYs (one per committed batch) start no
        round: reading the outbox after each cost the writing instance ~30 us of CPU per value
        write in a PATCH flood (and PostgreSQL a transaction). A round after another instance's
        NOTIFY or the poll still moves ``applied`` past the own rows."""
        own = f" {self.store.instance}"
        started = time.monotonic()
        while not self._stop.is_set():
            left = started + (0.05 if self._pending or self.store.failed else POLL_S) - time.monotonic()
            if left <= 0:
                return
            heard = [notify.payload for notify in conn.notifies(timeout=left, stop_after=1)]
            if not heard or not all(payload.endswith(own) for payload in heard):
                return

    def _round(self, conn: psycopg.Connection[tuple[object, ...]]) -> bool:
        """Read and apply one batch; True when there may be more right away."""
        with self._pending_lock:
            wanted, self._pending = self._pending, set()
        with self.store.failed_lock:
            wanted.update((kind, identifier) for kind, identifier, _ in self.store.failed)
            self.store.failed.clear()
        try:
            position = self.twin.store.position
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                # this instance's own rows are applied already: only their ids count (reading
                # them back cost the writing instance ~35 µs of CPU per value write)
                rows = [_Row(as_int(i), str(inst), str(k), str(ident), str(op), str(path), as_bytes(body))
                        for i, inst, k, ident, op, path, body in conn.execute(
                            "SELECT id, instance, kind, identifier, op, path, body FROM outbox"
                            " WHERE id > %s AND instance <> %s ORDER BY id LIMIT %s",
                            (self.applied, self.store.instance, BATCH_ROWS)).fetchall()]
                last, pruned = (as_int(value) for value in conn.execute(
                    "SELECT (SELECT coalesce(max(id), 0) FROM outbox), (SELECT through FROM outbox_pruned)",
                ).fetchall()[0])
                through = rows[-1].id if len(rows) == BATCH_ROWS else max(last, self.applied)
                everything = self._missed_rows(pruned)
                if everything:  # (of a bounded cache's kinds, only what memory holds: the rest is read when asked)
                    bounded = [kind for kind in ObjectKind if self.twin.bounded(kind)]
                    wanted.update((str(k), str(i)) for k, i in conn.execute(
                        "SELECT kind, id FROM documents WHERE NOT kind = ANY(%s)", ([kind.value for kind in bounded],)))
                    for kind in bounded:
                        wanted.update((kind.value, i) for i in self.twin.held_ids(kind))
                wanted.update((r.kind, r.identifier) for r in rows
                              if r.op in _DOCUMENT_OPS and self.twin.holds(ObjectKind(r.kind), r.identifier))
                stored = read_documents(conn, wanted)
        except BaseException:
            with self._pending_lock:
                self._pending.update(wanted)
            raise
        if not rows and not stored:
            self.applied = max(self.applied, through)  # only this instance's own rows came
            return False
        snapshots = {key: (self._build(document), version) for key, (document, version) in stored.items()}
        loop = self._loop
        assert loop is not None
        future: Future[None] = asyncio.run_coroutine_threadsafe(
            self._apply_soon(_Round(rows, snapshots, position, everything, through)), loop)
        future.result()
        return len(rows) == BATCH_ROWS

    def _missed_rows(self, pruned: int) -> bool:
        """True when rows after ``applied`` were pruned (``pruned``: the last id gone) before this
        instance read them."""
        if pruned > self.applied:
            log.warning("replica was away longer than the outbox keeps rows (%d > %d): reading everything",
                        pruned, self.applied)
            self.applied = pruned
            return True
        return False

    @staticmethod
    def _build(stored: StoredDocument | None) -> Identifiable | None:
        if stored is None:
            return None
        obj = documents.decode(stored.body)
        if stored.log and isinstance(obj, model.Submodel):
            tree.replay(obj, stored.log)
        return obj  # type: ignore[return-value]


def follow(twin: Twin) -> Replica | None:
    """A replica for a twin on a shared store; None for a store only this process uses."""
    backend = twin.store.backend
    return Replica(twin, backend) if isinstance(backend, PostgresStore) else None
