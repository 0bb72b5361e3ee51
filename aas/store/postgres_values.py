"""A run of value writes as one transaction in one round trip (libpq's pipeline mode).

Why: the PATCH flood is batches of value writes (the writer thread takes whatever queued up
while the last transaction committed). Through psycopg's pipeline each statement was its own
``execute`` with its own wait on the socket, so the writer thread gave up and took back the GIL
several times a transaction while the event loop kept it busy. Here the statements go out
together on libpq's own pipeline and the thread waits once: 32 writers at load 17, 1,513 vs
1,149 writes/s and 64 vs 110 µs of CPU per write (``bench/bench_pg_writes.py``, BENCHMARKS.md).
Sending the next batch while one commits (two in flight) was measured too and not kept: each
transaction is one WAL flush, and splitting the waiting writers over two transactions made the
batches smaller and the rate no higher (1,456 vs 1,617 writes/s, load 12).

A batch is one implicit transaction ending at the pipeline's Sync (the connection is in
autocommit): the advisory lock, the upsert of the values, the outbox rows with versions and
NOTIFY: the same statements as ``PostgresStore._transaction``, on a connection of its own so
the store's reads never meet a pipeline in progress.

A broken connection leaves the batch in doubt: it is handed to ``PostgresStore.rewrite`` on the
store's own connection, which looks its token up in the outbox and writes it only if it did not
commit (never twice).
"""

from __future__ import annotations

import re
import select
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from psycopg import pq

from twinbridge.aas.errors import StorageError
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import Change, ElementOp, LogElement
from twinbridge.aas.store.postgres import (
    LOCK_SQL,
    OUTBOX_RETENTION_S,
    OUTBOX_SQL,
    PRUNE_SQL,
    UPSERT_VALUES_SQL,
    written,
)
from twinbridge.aas.store.postgres_schema import connect

if TYPE_CHECKING:
    from twinbridge.aas.store.postgres import PostgresStore

_SUBMODEL = ObjectKind.SUBMODEL.value
_VALUE = ElementOp.VALUE


def _numbered(query: str) -> bytes:
    """psycopg's ``%s`` placeholders as libpq's ``$1, $2, …``."""
    count = iter(range(1, 1_000))
    return re.sub(r"%s", lambda _: f"${next(count)}", query).encode()


_LOCK, _UPSERT, _OUTBOX, _PRUNE = (_numbered(q) for q in (LOCK_SQL, UPSERT_VALUES_SQL, OUTBOX_SQL, PRUNE_SQL))


def _text(value: str) -> bytes:
    if "\x00" in value:
        raise StorageError("a text value with a NUL character cannot be stored")
    return value.encode()


def _text_array(values: Sequence[str]) -> bytes:
    """A ``text[]`` literal (every element quoted, so no element is read as NULL)."""
    quoted = ('"' + _text(v).decode().replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return ("{" + ",".join(quoted) + "}").encode()


def _bytea_array(values: Sequence[bytes]) -> bytes:
    """A ``bytea[]`` literal in hex (``"\\\\x…"``: the array parser turns ``\\\\`` into one ``\\``)."""
    return b"{" + b",".join(b'"\\\\x' + value.hex().encode() + b'"' for value in values) + b"}"


@dataclass(slots=True)
class Sent:
    """One transaction sent: what was read of its results so far."""

    changes: Sequence[Change]
    batch: str
    statements: int
    done: int = 0  # statements whose results were read
    error: str | None = None
    rows: list[tuple[object, ...]] | None = None  # the outbox statement's rows
    outcome: StorageError | None = None
    finished: bool = False


class ValueWriter:
    """Writes runs of value changes for a ``PostgresStore`` (``PostgresStore.write`` hands them here)."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def accepts(changes: Sequence[Change]) -> bool:
        return all(isinstance(change, LogElement) and change.op is _VALUE and change.body is not None
                   for change in changes)

    def write(self, changes: Sequence[Change]) -> None:
        """Make ``changes`` (``accepts``) durable as one transaction; StorageError if not."""
        with self._lock:
            self.finish(self.send(changes))

    def send(self, changes: Sequence[Change]) -> Sent:
        """Send the transaction; ``finish`` reads its outcome."""
        run: dict[tuple[str, str], bytes] = {}  # the last value per element
        values: list[LogElement] = []
        for change in changes:
            assert isinstance(change, LogElement) and change.body is not None
            run[(change.submodel_id, change.path)] = change.body
            values.append(change)
        store = self.store
        sent = Sent(changes, uuid.uuid4().hex, 3)
        statements: list[tuple[bytes, list[bytes | None]]] = [
            (_LOCK, [_text(store.url.schema)]),
            (_UPSERT, [_text_array([s for s, _ in run]), _text_array([p for _, p in run]),
                       _bytea_array(list(run.values()))]),
            (_OUTBOX, [_text(store.instance), sent.batch.encode(), _text_array([_SUBMODEL] * len(values)),
                       _text_array([v.submodel_id for v in values]), _text_array(["value"] * len(values)),
                       _text_array([v.path for v in values]), _bytea_array([v.body or b"" for v in values]),
                       _text(store.url.channel), _text(store.instance)]),
        ]
        if store.prune_due():
            statements.append((_PRUNE, [str(OUTBOX_RETENTION_S).encode()]))
            sent.statements += 1
        try:
            pg = self._pgconn()
            for query, params in statements:
                pg.send_query_params(query, params)
            pg.pipeline_sync()
            while pg.flush() == 1:  # nonblocking: the rest when the socket takes it
                select.select([pg.socket], [pg.socket], [])
        except psycopg.Error:
            self._recover(sent)
        return sent

    def finish(self, sent: Sent) -> None:
        """Wait for ``sent`` to commit (or to be rewritten after a broken connection)."""
        while not sent.finished:
            try:
                pg = self._pgconn()
                select.select([pg.socket], [], [])
                pg.consume_input()
                self._read(pg, sent)
                if pg.status == pq.ConnStatus.BAD:
                    raise psycopg.OperationalError("the connection broke")
            except psycopg.Error:
                self._recover(sent)
        if sent.outcome is not None:
            raise sent.outcome

    def _pgconn(self) -> pq.abc.PGconn:
        if self._conn is None or self._conn.closed:
            conn = connect(self.store.url, autocommit=True, name=f"twinbridge writer {self.store.instance[:8]}")
            conn.pgconn.nonblocking = 1
            conn.pgconn.enter_pipeline_mode()
            self._conn = conn
        return self._conn.pgconn

    def _read(self, pg: pq.abc.PGconn, sent: Sent) -> None:
        """Take the results available: each statement's, each followed by None, then the Sync's."""
        while not pg.is_busy():
            result = pg.get_result()
            if result is None:
                if sent.done == sent.statements:
                    return  # the Sync has not arrived yet
                sent.done += 1
                continue
            status = result.status
            if status == pq.ExecStatus.PIPELINE_SYNC:
                self._finished(sent)
                return
            if status == pq.ExecStatus.FATAL_ERROR:
                sent.error = sent.error or (result.error_message.decode(errors="replace").strip() or "failed")
            elif status == pq.ExecStatus.TUPLES_OK and sent.done == 2:  # the outbox statement
                sent.rows = [tuple(result.get_value(row, column) for column in range(5))
                             for row in range(result.ntuples)]

    def _finished(self, sent: Sent) -> None:
        sent.finished = True
        if sent.error is not None or sent.rows is None:
            self.store.failed_changes(sent.changes)
            sent.outcome = StorageError(f"the store {self.store.where} failed: {sent.error or 'no outbox rows'}")
            return
        self.store.record(written([(int(_decoded(i)), _decoded(k), _decoded(d), _decoded(o), _decoded(p), None)
                                   for i, k, d, o, p in sent.rows]))

    def _recover(self, sent: Sent) -> None:
        """The connection broke: settle the batch through the store's own connection."""
        self._drop()
        sent.finished = True
        try:
            self.store.rewrite(sent.changes, sent.batch)
        except StorageError as error:
            sent.outcome = error

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _decoded(value: object) -> str:
    if not isinstance(value, bytes):
        raise StorageError(f"the store returned {value!r} where text belongs")
    return value.decode()
