"""Documents of the PostgreSQL store read on demand: what a twin with a bounded cache of
submodels (``?cache=N``, ``aas.resident``) asks for a submodel that is not in memory, and the
``/submodels`` pages and filters in SQL (keyset paging on ``ord``, the first-insertion order the
in-memory catalog keeps too, over the indexed generated columns of ``postgres_schema``).

Its own connection, so a read never waits for the writer thread's transaction (the store's
connection is the writer's), used by one caller at a time (a lock: the loop's reads and the
batched misses ``ResidentTable.ready`` reads on a worker thread); a lost connection is reopened
and the read retried for up to ``RETRY_FOR_S``, as the store's own reads do (on the worker
thread the loop serves other requests meanwhile).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

import orjson
import psycopg

from twinbridge.aas.errors import StorageError
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import StoredDocument, SubmodelFilter
from twinbridge.aas.store.postgres_schema import StoreUrl, as_int, connect, logs_of, read_documents

RETRY_FOR_S = 30.0
_SEMANTIC_KEYS = "jsonb_path_query_array(body, '$.semanticId.keys[*].value')"
_OTHER_KEYS = "jsonb_path_query_array(body, '$.semanticId.keys[1 to last].value')"  # indexed by migration 2

Conn = psycopg.Connection[tuple[object, ...]]
R = TypeVar("R")


class PostgresDocuments:
    """``DocumentSource`` over one PostgreSQL schema (see the module docstring)."""

    def __init__(self, url: StoreUrl, instance: str) -> None:
        self.url = url
        self._name = f"twinbridge reads {instance[:8]}"
        self._conn: Conn | None = None
        self._lock = threading.Lock()

    def fetch(self, kind: ObjectKind, identifiers: Sequence[str]) -> dict[str, tuple[StoredDocument, int]]:
        found = self._run(lambda conn: read_documents(conn, [(kind.value, identifier) for identifier in identifiers]))
        return {key[1]: (document, version) for key, (document, version) in found.items() if document is not None}

    def contains(self, kind: ObjectKind, identifier: str) -> bool:
        return bool(self._rows("SELECT 1 FROM documents WHERE kind = %s AND id = %s", (kind.value, identifier)))

    def count(self, kind: ObjectKind) -> int:
        rows = self._rows("SELECT count(*) FROM documents WHERE kind = %s", (kind.value,))
        return as_int(rows[0][0])

    def identifiers(self, kind: ObjectKind, after: int, limit: int) -> list[tuple[int, str]]:
        rows = self._rows("SELECT ord, id FROM documents WHERE kind = %s AND ord > %s ORDER BY ord LIMIT %s",
                          (kind.value, after, limit))
        return [(as_int(position), str(identifier)) for position, identifier in rows]

    def page(self, kind: ObjectKind, where: SubmodelFilter, after: int, limit: int | None,
             ) -> tuple[list[tuple[int, StoredDocument]], bool]:
        """One keyset page. A ``semantic_key`` matches the first key (a range of the
        (semantic_id, ord) index) or another key (a materialized lookup in their own index:
        few rows, as most semanticIds have one key); measured in BENCHMARKS.md."""
        clauses = ["kind = %s", "ord > %s"]
        params: list[object] = [kind.value, after]
        if where.id_short is not None:
            clauses.append("id_short = %s")
            params.append(where.id_short)
        if where.semantic_keys is not None:
            if not where.semantic_keys:
                return [], False
            clauses.append(f"semantic_id = %s AND {_SEMANTIC_KEYS} = %s::jsonb")  # the first key's index narrows
            params += [where.semantic_keys[0], orjson.dumps(list(where.semantic_keys)).decode()]
        cap = "" if limit is None else " LIMIT %s"
        caps: list[object] = [] if limit is None else [limit + 1]
        if where.semantic_key is None:
            query = f"SELECT ord, id, body::text FROM documents WHERE {' AND '.join(clauses)} ORDER BY ord{cap}"
            params += caps
        else:
            value = where.semantic_key
            common = " AND ".join(clauses)  # our own clauses
            query = ("WITH other AS MATERIALIZED (SELECT ord FROM documents"  # (the partial index: kind spelled out)
                     f" WHERE kind = 'submodel' AND {_OTHER_KEYS} @> %s::jsonb)"
                     f" SELECT ord, id, body::text FROM ((SELECT ord, id, body FROM documents WHERE {common}"
                     f" AND semantic_id = %s ORDER BY ord{cap}) UNION ALL (SELECT ord, id, body FROM documents"
                     f" WHERE {common} AND semantic_id IS DISTINCT FROM %s AND ord IN (SELECT ord FROM other)"
                     f" ORDER BY ord{cap})) AS found ORDER BY ord{cap}")
            params = [orjson.dumps([value]).decode(), *params, value, *caps, *params, value, *caps, *caps]

        def read(conn: Conn) -> list[tuple[int, StoredDocument]]:
            rows = conn.execute(query, params).fetchall()  # type: ignore[arg-type]
            ids = [str(row[1]) for row in rows[:limit]]
            logs = logs_of(conn, "WHERE submodel_id = ANY(%s)", (ids,)) if ids and kind is ObjectKind.SUBMODEL else {}
            return [(as_int(position), StoredDocument(kind, str(identifier), str(body).encode(),
                                                      logs.get(str(identifier), [])))
                    for position, identifier, body in rows]

        found = self._run(read)
        if limit is not None and len(found) > limit:
            return found[:limit], True
        return found, False

    def read(self, read: Callable[[Conn], R]) -> R:
        """``read`` in one transaction on this connection, retried as the reads above are (the
        shells' SQL of ``postgres_shells`` shares the connection)."""
        return self._run(read)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None

    # ------------------------------------------------------------- internal
    def _rows(self, query: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        return self._run(lambda conn: conn.execute(query, params).fetchall())  # type: ignore[arg-type]

    def _run(self, read: Callable[[Conn], R]) -> R:
        """``read`` in one transaction; reconnects and retries while the server is away."""
        with self._lock:
            deadline = time.monotonic() + RETRY_FOR_S
            while True:
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = connect(self.url, name=self._name)
                    with self._conn.transaction():
                        return read(self._conn)
                except psycopg.OperationalError as error:
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
                    if time.monotonic() > deadline:
                        parts = urlsplit(self.url.conninfo)
                        raise StorageError(f"the store postgresql://{parts.hostname}:{parts.port or 5432}"
                                           f"{parts.path} is unreachable: {error}") from None
                    time.sleep(0.2)
                except psycopg.Error as error:
                    raise StorageError(f"reading the store failed: {error}") from None
