"""Runs of value writes in flight on one PostgreSQL connection (libpq's pipeline mode).

Why: the writer thread used to send one transaction and wait for its COMMIT before taking the
next batch, so value writes ran at (writes per batch) / (commit round trip). On the shared
2-core machine a round trip is mostly waiting for a CPU (PostgreSQL's backend, then this thread,
then the GIL): 10-20 ms with 10-16 writes in it at load 5-7, ~1,000 PATCH/s. Here the next batch
is sent while the last one commits, so PostgreSQL goes on from one COMMIT to the next without
waiting for this process, and the batches that pile up meanwhile become the next transaction.

Each batch is its own implicit transaction ending at a pipeline Sync (the connection is in
autocommit): the advisory lock, the upsert of the values, the outbox rows with versions and
NOTIFY (the same statements as ``PostgresStore._transaction``). One connection runs them in send
order, so they commit in order. A batch that fails does not stop the ones after it (the Sync
ends its abort); its units fail as a whole, without the one-by-one retry of ``write``: a later
batch may already have written the same elements, and re-reading the store (the writer's
``on_failure``) then gives memory the newer value.

A broken connection leaves every batch in flight in doubt: each is handed, oldest first, to
``PostgresStore.rewrite`` on the store's own connection, which looks its token up in the outbox
and writes it only if it did not commit (never twice). Those batches commit in order: on one
connection a batch runs only after the one before it finished, so if one did not commit, no
later one did either (except after a failed batch whose error was lost with the connection,
which a run of value upserts does not produce).

Only value writes are pipelined (the PATCH flood); documents, files and ``If-Match`` checks go
through ``write`` once everything in flight is done.
"""

from __future__ import annotations

import re
import select
import uuid
from collections import deque
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

WINDOW = 2
"""Batches in flight: one committing, the next queued behind it in PostgreSQL's socket buffer.
More would only cut the queue into smaller batches, each with its own WAL flush."""

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
class _Sent:
    changes: Sequence[Change]
    batch: str
    statements: int
    done: int = 0  # statements whose results were read
    error: str | None = None
    rows: list[tuple[object, ...]] | None = None  # the outbox statement's rows
    outcome: StorageError | None = None
    finished: bool = False


class ValuePipeline:
    """The ``Pipeline`` of a ``PostgresStore``; used by the store writer's thread only."""

    window = WINDOW

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._sent: deque[_Sent] = deque()

    @property
    def in_flight(self) -> int:
        return len(self._sent)

    def accepts(self, changes: Sequence[Change]) -> bool:
        return all(isinstance(change, LogElement) and change.op is _VALUE and change.body is not None
                   for change in changes)

    # ----------------------------------------------------------------- sending
    def send(self, changes: Sequence[Change]) -> None:
        run: dict[tuple[str, str], bytes] = {}  # the last value per element
        for change in changes:
            assert isinstance(change, LogElement) and change.body is not None
            run[(change.submodel_id, change.path)] = change.body
        store = self.store
        sent = _Sent(changes, uuid.uuid4().hex, 3)
        statements: list[tuple[bytes, list[bytes | None]]] = [
            (_LOCK, [_text(store.url.schema)]),
            (_UPSERT, [_text_array([s for s, _ in run]), _text_array([p for _, p in run]),
                       _bytea_array(list(run.values()))]),
            (_OUTBOX, [_text(store.instance), sent.batch.encode(),
                       _text_array([_SUBMODEL] * len(changes)),
                       _text_array([change.submodel_id for change in changes if isinstance(change, LogElement)]),
                       _text_array(["value"] * len(changes)),
                       _text_array([change.path for change in changes if isinstance(change, LogElement)]),
                       _bytea_array([change.body for change in changes
                                     if isinstance(change, LogElement) and change.body is not None]),
                       _text(store.url.channel)]),
        ]
        if store.prune_due():
            statements.append((_PRUNE, [str(OUTBOX_RETENTION_S).encode()]))
            sent.statements += 1
        self._sent.append(sent)
        try:
            pg = self._pgconn()
            for query, params in statements:
                pg.send_query_params(query, params)
            pg.pipeline_sync()
            while pg.flush() == 1:  # nonblocking: the rest when the socket takes it
                select.select([pg.socket], [pg.socket], [])
        except psycopg.Error:
            self._recover()

    def _pgconn(self) -> pq.abc.PGconn:
        if self._conn is None or self._conn.closed:
            conn = connect(self.store.url, autocommit=True, name=f"twinbridge writer {self.store.instance[:8]}")
            conn.pgconn.nonblocking = 1
            conn.pgconn.enter_pipeline_mode()
            self._conn = conn
        return self._conn.pgconn

    # --------------------------------------------------------------- receiving
    def wait(self, wake: int | None) -> list[StorageError | None]:
        while True:
            done = self._take_finished()
            if done or not self._sent:
                return done
            try:
                pg = self._pgconn()
                readable, _, _ = select.select([pg.socket] + ([wake] if wake is not None else []), [], [])
                if pg.socket in readable:
                    pg.consume_input()
                    self._read(pg)
                if pg.status == pq.ConnStatus.BAD:
                    raise psycopg.OperationalError("the connection broke")
            except psycopg.Error:
                self._recover()
                continue
            if wake is not None and wake in readable:
                return self._take_finished()

    def _read(self, pg: pq.abc.PGconn) -> None:
        """Match the results available to the batches in flight (each: its statements' results,
        each followed by None, then the Sync's)."""
        pending = (sent for sent in self._sent if not sent.finished)
        sent = next(pending, None)
        while sent is not None and not pg.is_busy():
            result = pg.get_result()
            if result is None:
                if sent.done == sent.statements:
                    break  # its Sync has not arrived yet
                sent.done += 1
                continue
            status = result.status
            if status == pq.ExecStatus.PIPELINE_SYNC:
                self._finish(sent)
                sent = next(pending, None)
            elif status == pq.ExecStatus.FATAL_ERROR:
                sent.error = sent.error or (result.error_message.decode(errors="replace").strip() or "failed")
            elif status == pq.ExecStatus.TUPLES_OK and sent.done == 2:  # the outbox statement
                sent.rows = [tuple(result.get_value(row, column) for column in range(5))
                             for row in range(result.ntuples)]

    def _finish(self, sent: _Sent) -> None:
        sent.finished = True
        if sent.error is not None or sent.rows is None:
            self.store.failed_changes(sent.changes)
            sent.outcome = StorageError(f"the store {self.store.where} failed: {sent.error or 'no outbox rows'}")
            return
        self.store.record(written([(int(_decoded(i)), _decoded(k), _decoded(d), _decoded(o), _decoded(p), None)
                                   for i, k, d, o, p in sent.rows]))

    def _take_finished(self) -> list[StorageError | None]:
        done: list[StorageError | None] = []
        while self._sent and self._sent[0].finished:
            done.append(self._sent.popleft().outcome)
        return done

    def _recover(self) -> None:
        """The connection broke: settle every batch in flight through the store's own connection."""
        self.close()
        for sent in self._sent:
            if sent.finished:
                continue
            sent.finished = True
            try:
                self.store.rewrite(sent.changes, sent.batch)
            except StorageError as error:
                sent.outcome = error

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _decoded(value: object) -> str:
    if not isinstance(value, bytes):
        raise StorageError(f"the store returned {value!r} where text belongs")
    return value.decode()
