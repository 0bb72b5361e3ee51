"""The shared store: one PostgreSQL database (``postgresql://host:port/db?schema=NAME``) that
several twinbridge instances use at once.

Tables (schema ``NAME``, default ``twinbridge``; created and upgraded by ``MIGRATIONS``):

- ``documents``: each identifiable's AAS JSON as ``jsonb``, with generated, indexed columns for
  idShort, the first semanticId key and the global asset id (a GIN index over the specific asset
  ids) so filters and lookups can run in SQL; ``ord`` keeps first-insertion order for listings.
- ``element_values``: the live value of each element written since its submodel's document was
  saved, one row per element: a value write is an upsert of that row, never a whole document.
- ``element_log``: structural element changes (add/replace/delete), replayed over the document
  with the values in one ``seq`` order at load; a structural change first moves the submodel's
  value rows into the log, so list indices shifted by it cannot mix up old and new values.
- ``versions``: each identifiable's version, the id of the last outbox row that changed it
  (the ETag every instance agrees on); ``files``; ``outbox`` (below); ``schema_migrations``.

Several instances: every transaction takes one advisory lock first, so transactions commit
one after another and outbox ids grow in commit order; every change to a document or a value
adds an ``outbox`` row (instance, kind, id, op: save/delete/element/value, path, value) in the same transaction, and the
commit sends one ``NOTIFY`` with the highest id and the writing instance (no data: a NOTIFY is
never replayed, the table is, see ``aas.replication``). Rows older than ``OUTBOX_RETENTION_S`` are pruned.

A batch of value writes only (the PATCH flood) goes out as one pipelined round trip on a
connection of its own (``store.postgres_values``); everything else as below.

Faults: a lost connection is reopened and the transaction retried for up to ``RETRY_FOR_S``
(a PostgreSQL restart stalls writes instead of failing them). Whether a transaction whose
connection broke did commit is looked up by its ``batch`` token in the outbox before it is
written again, so nothing is applied twice. The keys of every failed change are handed to the
replica, which reloads them from the database.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from twinbridge.aas.errors import PreconditionFailed, StorageError, TimedOut
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import (
    Change,
    CheckVersion,
    DeleteDocument,
    DeleteFile,
    ElementOp,
    LogElement,
    SaveDocument,
    SaveFile,
    StoredDocument,
    content_bytes,
)
from twinbridge.aas.store.postgres_documents import PostgresDocuments
from twinbridge.aas.store.postgres_schema import (
    StoreUrl,
    as_bytes,
    as_int,
    connect,
    logs_of,
    migrate,
)
from twinbridge.aas.store.postgres_shells import PostgresShells

if TYPE_CHECKING:
    from twinbridge.aas.store.postgres_values import ValueWriter

log = logging.getLogger(__name__)

RETRY_FOR_S = 30.0
OUTBOX_RETENTION_S = 3600
_PRUNE_EVERY_S = 60.0
_SUBMODEL = ObjectKind.SUBMODEL.value

PRUNE_SQL = ("WITH gone AS (DELETE FROM outbox WHERE created < now() - make_interval(secs => %s) RETURNING id)"
             " UPDATE outbox_pruned SET through = greatest(through, (SELECT coalesce(max(id), 0) FROM gone))")
OUTBOX_SQL = (
    # versions and the NOTIFY (one per transaction: equal payloads are sent once) come from the
    # outbox rows themselves, in the same statement; the NOTIFY names the writing instance, whose
    # own replica then skips the round (``replication.Replica``)
    "WITH o AS (INSERT INTO outbox (instance, batch, kind, identifier, op, path, body)"
    "  SELECT %s, %s, * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bytea[])"
    "  RETURNING id, kind, identifier, op, path),"
    " v AS (INSERT INTO versions (kind, id, version) SELECT kind, identifier, max(id) FROM o"
    "  GROUP BY kind, identifier ON CONFLICT (kind, id) DO UPDATE SET version = excluded.version)"
    " SELECT id, kind, identifier, op, path, pg_notify(%s, (SELECT max(id) FROM o) || ' ' || %s) FROM o")
UPSERT_VALUES_SQL = (
    "INSERT INTO element_values (submodel_id, path, seq, body)"
    " SELECT s, p, nextval('change_seq'), b FROM unnest(%s::text[], %s::text[], %s::bytea[]) AS v(s, p, b)"
    " ON CONFLICT (submodel_id, path) DO UPDATE SET seq = excluded.seq, body = excluded.body")
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(%s))"

Key = tuple[str, str, str]
"""(kind, identifier, part): part ``""`` is the whole document, ``"*"`` anything in it, else an
element path (its value)."""

class PostgresStore:
    """The ``Store`` over PostgreSQL; one connection, used by the twin's writer thread."""

    blocking = True
    values_in_place = True

    def __init__(self, url: StoreUrl, instance: str | None = None) -> None:
        self.url = url
        self.instance = instance or uuid.uuid4().hex
        self.loaded_through = 0
        """The outbox id the loaded state includes (a replica follows from there)."""
        self.versions: dict[tuple[ObjectKind, str], int] = {}
        self.own: dict[Key, int] = {}
        """The outbox id of this instance's last committed change of each key (see ``forget_own``)."""
        self._own_lock = threading.Lock()
        self.failed: set[Key] = set()
        """Keys of changes that did not become durable: the replica reloads them."""
        self.failed_lock = threading.Lock()
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._query_conn: psycopg.Connection[tuple[object, ...]] | None = None  # queries: never the writer's
        self._query_lock = threading.Lock()
        self._next_prune = 0.0
        self._last_own = 0  # this instance's highest outbox id: a lookup in doubt starts there
        self.resident_limit = url.cache
        """At most this many submodels (and as many shells) in the twin's memory (``?cache=N``); None: all."""
        self._documents: PostgresDocuments | None = None
        self._shells: PostgresShells | None = None
        self._values: ValueWriter | None = None
        try:
            conn = self._connection()
            migrate(conn, url.schema)
        except psycopg.Error as error:
            raise StorageError(f"the store {self.where} cannot be opened: {error}") from None

    @property
    def where(self) -> str:
        parts = urlsplit(self.url.conninfo)
        return f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path} (schema {self.url.schema})"

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, name=f"twinbridge store {self.instance[:8]}")
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    # ------------------------------------------------------------------ reads
    def load(self) -> Iterator[StoredDocument]:
        """Everything in one snapshot, with the outbox id it includes (``loaded_through``)."""
        return self.load_kinds(tuple(ObjectKind))

    def load_kinds(self, kinds: Sequence[ObjectKind]) -> Iterator[StoredDocument]:
        """``load`` of only these kinds (a twin with a bounded cache leaves its submodels here)."""
        names = [kind.value for kind in kinds]
        with self._lock:
            conn = self._connection()
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                row = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
                self.loaded_through = as_int(row[0]) if row else 0
                self.versions = {(ObjectKind(kind), str(identifier)): as_int(version)
                                 for kind, identifier, version in conn.execute(
                                     "SELECT kind, id, version FROM versions WHERE kind = ANY(%s)",
                                     (names,)).fetchall()}
                logs = logs_of(conn, "", ()) if _SUBMODEL in names else {}
                cursor = conn.cursor(name="twinbridge_load")  # server-side: a large store streams
                cursor.itersize = 2_000
                cursor.execute("SELECT kind, id, body::text FROM documents WHERE kind = ANY(%s) ORDER BY ord",
                               (names,))
                documents = [(str(kind), str(identifier), str(body)) for kind, identifier, body in cursor]
                cursor.close()
        for kind, identifier, body in documents:
            entries = logs.get(identifier, []) if kind == _SUBMODEL else []
            yield StoredDocument(ObjectKind(kind), identifier, body.encode(), entries)

    def documents(self) -> PostgresDocuments:
        """Documents on demand, over a connection of their own (reads on the event loop must not
        queue behind the writer thread's transactions)."""
        if self._documents is None:
            self._documents = PostgresDocuments(self.url, self.instance)
        return self._documents

    def shell_source(self) -> PostgresShells:
        """Shells found in SQL (``postgres_shells``), over the connection of ``documents``."""
        if self._shells is None:
            self._shells = PostgresShells(self.documents())
        return self._shells

    def load_one(self, kind: ObjectKind, identifier: str) -> StoredDocument | None:
        with self._lock:
            conn = self._connection()
            with conn.transaction():
                row = conn.execute("SELECT body::text FROM documents WHERE kind = %s AND id = %s",
                                   (kind.value, identifier)).fetchone()
                logs = logs_of(conn, "WHERE submodel_id = %s", (identifier,)) if kind is ObjectKind.SUBMODEL else {}
        if row is None:
            return None
        return StoredDocument(kind, identifier, str(row[0]).encode(), logs.get(identifier, []))

    def version(self, kind: ObjectKind, identifier: str) -> int | None:
        return self.versions.get((kind, identifier), 0)

    def remember_version(self, kind: ObjectKind, identifier: str, version: int | None) -> None:
        key = (kind, identifier)
        if version is None:
            self.versions.pop(key, None)
        elif self.versions.get(key, 0) < version:
            self.versions[key] = version

    def load_file(self, name: str) -> tuple[str, bytes] | None:
        row = self._read("SELECT content_type, data FROM files WHERE name = %s", (name,))
        return None if not row else (str(row[0][0]), as_bytes(row[0][1]) or b"")

    def file_names(self, prefix: str = "") -> list[str]:
        rows = self._read("SELECT name FROM files WHERE left(name, %s) = %s ORDER BY name", (len(prefix), prefix))
        return [str(name) for (name,) in rows]

    def query_documents(self, kind: ObjectKind, where: sql.Composable, exact: bool, elements: bool, after: int,
                        limit: int, timeout_s: float) -> list[tuple[int, str, StoredDocument | None]]:
        """Up to ``limit`` documents of ``kind`` after insertion order ``after``, in that order, for
        which ``where`` (an SQL predicate over the jsonb ``d.body``, ``query.sql``) holds, and, when
        ``where`` reads submodel ``elements``, every submodel with element log or value rows (its
        body's elements are not their current state): (ord, id, document with its log), the document
        None where ``exact`` and the body is current (the predicate's answer is the answer).
        Stopped by PostgreSQL after ``timeout_s`` (TimedOut)."""
        body = sql.SQL("d.body::text") if not exact else sql.SQL("CASE WHEN logged THEN d.body::text END")
        logged = sql.SQL(
            "d.kind = {submodel} AND (EXISTS (SELECT 1 FROM element_log l WHERE l.submodel_id = d.id)"
            " OR EXISTS (SELECT 1 FROM element_values v WHERE v.submodel_id = d.id))").format(
            submodel=sql.Literal(_SUBMODEL)) if elements else sql.SQL("FALSE")
        statement = sql.SQL(
            "SELECT d.ord, d.id, {body}, logged FROM documents d, LATERAL (SELECT {logged}) AS x(logged)"
            " WHERE d.kind = %s AND d.ord > %s AND (logged OR ({where})) ORDER BY d.ord LIMIT %s").format(
            body=body, logged=logged, where=where)
        with self._query_lock:
            if self._query_conn is None or self._query_conn.closed:
                self._query_conn = connect(self.url, name=f"twinbridge queries {self.instance[:8]}")
            conn = self._query_conn
            try:
                with conn.transaction():
                    conn.execute("SELECT set_config('statement_timeout', %s, true)",
                                 (f"{max(1, int(timeout_s * 1000))}ms",))
                    rows = conn.execute(statement, (kind.value, after, limit)).fetchall()
                    with_log = [str(row[1]) for row in rows if row[3]]
                    logs = logs_of(conn, "WHERE submodel_id = ANY(%s)", (with_log,)) if with_log else {}
            except psycopg.errors.QueryCanceled:
                raise TimedOut(f"the query ran longer than its limit of {timeout_s:g} s in PostgreSQL and was "
                               "stopped") from None
            except psycopg.OperationalError as error:
                conn.close()
                raise StorageError(f"the store {self.where} is unreachable: {error}") from None
        return [(as_int(order), str(identifier),
                 None if text is None else StoredDocument(kind, str(identifier), str(text).encode(),
                                                          logs.get(str(identifier), [])))
                for order, identifier, text, _ in rows]

    def _read(self, query: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        with self._lock:
            deadline = time.monotonic() + RETRY_FOR_S
            while True:
                try:
                    conn = self._connection()
                    with conn.transaction():
                        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]
                except psycopg.OperationalError as error:
                    self._drop_connection()
                    if time.monotonic() > deadline:
                        raise StorageError(f"the store {self.where} is unreachable: {error}") from None
                    time.sleep(0.2)

    # ----------------------------------------------------------------- writes
    def write(self, changes: Sequence[Change]) -> None:
        if self._values is None:
            from twinbridge.aas.store.postgres_values import ValueWriter  # it builds on this module

            self._values = ValueWriter(self)
        if changes and self._values.accepts(changes):
            self._values.write(changes)  # one round trip on a connection of its own
        else:
            self.rewrite(changes, uuid.uuid4().hex, in_doubt=False)

    def rewrite(self, changes: Sequence[Change], batch: str, *, in_doubt: bool = True) -> None:
        """Write ``changes`` as transaction ``batch``; ``in_doubt``: that batch may have committed
        already (its connection broke after sending it): it is looked up first, never applied twice."""
        if not changes:
            return
        with self._lock:
            deadline = time.monotonic() + RETRY_FOR_S
            delay = 0.05
            while True:
                try:
                    conn = self._connection()
                    if in_doubt:
                        outbox = self._committed(conn, batch)
                        if outbox is not None:
                            break
                        in_doubt = False
                    in_doubt = True  # the connection broke while COMMIT may have been on its way
                    outbox = self._transaction(conn, changes, batch)
                    break
                except PreconditionFailed:
                    self._rollback()
                    self._failed(changes)
                    raise
                except psycopg.OperationalError as error:
                    self._drop_connection()
                    if time.monotonic() > deadline:
                        self._failed(changes)
                        raise StorageError(f"the store {self.where} failed: {error}") from None
                    log.warning("store %s: %s; reconnecting", self.where, str(error).strip())
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
                except psycopg.Error as error:
                    self._rollback()
                    self._failed(changes)
                    raise StorageError(f"the store {self.where} failed: {error}") from None
            self.record(outbox)

    def record(self, outbox: Sequence[tuple[str, str, str, int]]) -> None:
        """Remember this instance's committed outbox rows (kind, id, part, id): ``own`` for the
        replica's read-your-writes, ``versions`` for ETags."""
        with self._own_lock:
            for kind_name, identifier, part, outbox_id in outbox:
                self.own[(kind_name, identifier, part)] = outbox_id
                if part != "*":
                    self.own[(kind_name, identifier, "*")] = outbox_id
        for kind_name, identifier, _, outbox_id in outbox:
            document = (ObjectKind(kind_name), identifier)
            if self.versions.get(document, 0) < outbox_id:
                self.versions[document] = outbox_id
            self._last_own = max(self._last_own, outbox_id)

    def forget_own(self, through: int) -> None:
        """Drop what ``own`` knows up to outbox id ``through``: once a replica has applied every row
        up to there, no row it reads later is older (so ``own`` stays as small as the lag)."""
        with self._own_lock:
            self.own = {key: outbox_id for key, outbox_id in self.own.items() if outbox_id > through}

    def _committed(self, conn: psycopg.Connection[tuple[object, ...]], batch: str,
                   ) -> list[tuple[str, str, str, int]] | None:
        """The outbox rows of ``batch`` if its transaction did commit before the connection broke
        (None: it did not, write it again). A transaction without outbox rows (files only) is
        written again either way: its upserts are idempotent."""
        with conn.transaction():
            rows = conn.execute("SELECT id, kind, identifier, op, path, NULL FROM outbox"
                                " WHERE id > %s AND instance = %s AND batch = %s ORDER BY id",
                                (self._last_own, self.instance, batch)).fetchall()
        return written(rows) if rows else None

    def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.rollback()
            except psycopg.Error:
                self._drop_connection()

    def failed_changes(self, changes: Sequence[Change]) -> None:
        """Hand the keys of changes that did not become durable to the replica (it reloads them)."""
        self._failed(changes)

    def _failed(self, changes: Sequence[Change]) -> None:
        with self.failed_lock:
            self.failed.update(key for change in changes if (key := document_key(change)) is not None)

    def _transaction(self, conn: psycopg.Connection[tuple[object, ...]], changes: Sequence[Change], batch: str,
                     ) -> list[tuple[str, str, str, int]]:
        """Apply and commit ``changes`` with their outbox rows; returns (kind, id, part, outbox id).

        One pipeline with the COMMIT, so a transaction is one round trip whatever it holds (on
        the loaded 2-core machine each round trip waits ~4-8 ms for a CPU);
        a run of value writes is one upsert over arrays (a single-row statement each cost ~100 us
        of Python and a round trip: 109 vs 3,816 writes/s alone vs in a batch of 1,000).
        """
        cur = conn.cursor()
        rows: list[tuple[str, str, str, str, bytes | None]] = []  # kind, id, op, path, body
        run: dict[tuple[str, str], bytes | None] = {}  # consecutive value writes, the last per element
        with conn.pipeline():
            cur.execute(LOCK_SQL, (self.url.schema,))
            for change in changes:
                if isinstance(change, LogElement) and change.op is ElementOp.VALUE:
                    run[(change.submodel_id, change.path)] = change.body
                    rows.append((_SUBMODEL, change.submodel_id, "value", change.path, change.body))
                    continue
                if run:
                    self._upsert_values(cur, run)
                    run = {}
                key = self._apply(cur, change)
                if key is not None:
                    rows.append(key)
            if run:
                self._upsert_values(cur, run)
            if not rows:
                conn.commit()
                return []
            cur.execute(
                OUTBOX_SQL, (self.instance, batch, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                 [r[3] for r in rows], [r[4] for r in rows], self.url.channel, self.instance))
            self._prune_if_due(conn)
            conn.commit()
            return written(cur.fetchall())

    @staticmethod
    def _upsert_values(cur: psycopg.Cursor[tuple[object, ...]], run: dict[tuple[str, str], bytes | None]) -> None:
        cur.execute(
            UPSERT_VALUES_SQL, ([s for s, _ in run], [p for _, p in run], list(run.values())))

    def _apply(self, cur: psycopg.Cursor[tuple[object, ...]], change: Change,
               ) -> tuple[str, str, str, str, bytes | None] | None:
        """One change other than a value write; its outbox row (kind, id, op, path, body), if any."""
        match change:
            case LogElement(submodel_id, op, path, body):
                cur.execute("INSERT INTO element_log SELECT seq, submodel_id, 'value', path, body"
                            " FROM element_values WHERE submodel_id = %s", (submodel_id,))
                cur.execute("DELETE FROM element_values WHERE submodel_id = %s", (submodel_id,))
                cur.execute("INSERT INTO element_log (seq, submodel_id, op, path, body)"
                            " VALUES (nextval('change_seq'), %s, %s, %s, %s)", (submodel_id, op.value, path, body))
                return (_SUBMODEL, submodel_id, "element", path, None)
            case SaveDocument(kind, identifier, body):
                cur.execute("INSERT INTO documents (kind, id, body) VALUES (%s, %s, %s::jsonb)"
                            " ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
                            (kind.value, identifier, body.decode()))
                if kind is ObjectKind.SUBMODEL:
                    self._clear_log(cur, identifier)
                return (kind.value, identifier, "save", "", None)
            case DeleteDocument(kind, identifier):
                cur.execute("DELETE FROM documents WHERE kind = %s AND id = %s", (kind.value, identifier))
                if kind is ObjectKind.SUBMODEL:
                    self._clear_log(cur, identifier)
                return (kind.value, identifier, "delete", "", None)
            case SaveFile(name, content_type, data):
                cur.execute("INSERT INTO files (name, content_type, data) VALUES (%s, %s, %s) ON CONFLICT (name)"
                            " DO UPDATE SET content_type = excluded.content_type, data = excluded.data",
                            (name, content_type, content_bytes(data)))  # bytea: no streamed parameter
            case DeleteFile(name):
                cur.execute("DELETE FROM files WHERE name = %s", (name,))
            case CheckVersion(kind, identifier, expected):
                cur.execute("SELECT version FROM versions WHERE kind = %s AND id = %s", (kind.value, identifier))
                found = cur.fetchone()
                current = as_int(found[0]) if found else 0
                if current != expected:
                    raise PreconditionFailed(
                        f"{kind.value} {identifier!r} changed since version {expected} (now {current})")
        return None

    @staticmethod
    def _clear_log(cur: psycopg.Cursor[tuple[object, ...]], submodel_id: str) -> None:
        cur.execute("DELETE FROM element_log WHERE submodel_id = %s", (submodel_id,))
        cur.execute("DELETE FROM element_values WHERE submodel_id = %s", (submodel_id,))

    def _prune_if_due(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        if self.prune_due():
            conn.execute(PRUNE_SQL, (OUTBOX_RETENTION_S,))

    def prune_due(self) -> bool:
        """True once every ``_PRUNE_EVERY_S``: the caller's transaction runs ``PRUNE_SQL``."""
        now = time.monotonic()
        if now < self._next_prune:
            return False
        self._next_prune = now + _PRUNE_EVERY_S
        return True

    def release(self) -> None:
        """Close the connection until the next use (it reopens by itself): a process holding many
        idle stores (a test session) keeps PostgreSQL's connection slots free."""
        with self._lock:
            self._drop_connection()
        with self._query_lock:
            if self._query_conn is not None:
                self._query_conn.close()
            self._query_conn = None
        if self._values is not None:
            self._values.close()

    def close(self) -> None:
        self.release()
        if self._documents is not None:
            self._documents.close()


def written(rows: Sequence[tuple[object, ...]]) -> list[tuple[str, str, str, int]]:
    """(kind, id, part, outbox id) of outbox rows (id, kind, identifier, op, path, _)."""
    return [(str(kind), str(identifier),
             str(path) if op == "value" else ("" if op in ("save", "delete") else "*"), as_int(outbox_id))
            for outbox_id, kind, identifier, op, path, _ in rows]


def document_key(change: Change) -> Key | None:
    """The key whose replica state a change affects ("*": anything in the identifiable)."""
    match change:
        case LogElement(submodel_id, op, path, _):
            return (_SUBMODEL, submodel_id, path if op is ElementOp.VALUE else "*")
        case SaveDocument(kind, identifier, _) | DeleteDocument(kind, identifier):
            return (kind.value, identifier, "")
    return None
