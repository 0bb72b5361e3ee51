"""The default durable store: one SQLite file in the data directory.

Durability: WAL journal with ``synchronous=FULL``. Every write outside a batch is its own
transaction and is fsynced before the call returns, so a write the API acknowledged survives
``kill -9`` *and* a power cut. (``NORMAL`` would survive ``kill -9`` too, since the WAL sits in
the OS cache, but may lose the last commits on power loss; it is available for deployments
that prefer speed.) Imports and the twin's periodic ``flush`` use ``batch()``, so they pay one
fsync per batch, not per document.

Threads: the twin calls the store from the event loop thread; tests and tools may call it from
others. One connection serves all, guarded by a re-entrant lock that a ``batch()`` holds from
BEGIN to COMMIT, so no other thread's write can slip into (or out of) a batch.

Other databases: ``aas.store.base.Store`` is the whole contract (two tables: documents by
(kind, id) and files by name, plus ``batch``/``close``). A PostgreSQL backend implements the
same methods over a connection pool with ``INSERT ... ON CONFLICT`` upserts and one
transaction per ``batch()``; the twin needs nothing else.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from twinbridge.aas.events import ObjectKind

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS files (
    name TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL
);
"""


class SqliteStore:
    def __init__(self, path: Path, synchronous: Literal["FULL", "NORMAL"] = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise sqlite3.DatabaseError(f"cannot open the store {self.path}: {error}") from error
        try:
            self._prepare(synchronous)
        except sqlite3.Error as error:
            self._db.close()
            raise sqlite3.DatabaseError(f"cannot open the store {self.path}: {error}") from error

    def _prepare(self, synchronous: str) -> None:
        db = self._db
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"WAL journal mode unavailable (got {mode!r})")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA busy_timeout=5000")  # a CLI export next to a running server waits, not fails
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this twinbridge understands ({SCHEMA_VERSION})"
            )
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # ------------------------------------------------------------ documents
    def load_documents(self) -> Iterator[tuple[ObjectKind, str, bytes]]:
        """In first-insertion order (upserts keep their row), so listings stay stable across restarts."""
        with self._lock:
            rows = self._db.execute("SELECT kind, id, body FROM documents ORDER BY rowid").fetchall()
        for kind, identifier, body in rows:
            yield ObjectKind(kind), identifier, bytes(body)

    def save_document(self, kind: ObjectKind, identifier: str, document: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO documents (kind, id, body) VALUES (?, ?, ?)"
                " ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
                (kind.value, identifier, document),
            )

    def delete_document(self, kind: ObjectKind, identifier: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM documents WHERE kind = ? AND id = ?", (kind.value, identifier))

    # ---------------------------------------------------------------- files
    def save_file(self, name: str, content_type: str, data: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO files (name, content_type, data) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET content_type = excluded.content_type, data = excluded.data",
                (name, content_type, data),
            )

    def load_file(self, name: str) -> tuple[str, bytes] | None:
        with self._lock:
            row = self._db.execute("SELECT content_type, data FROM files WHERE name = ?", (name,)).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def delete_file(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM files WHERE name = ?", (name,))

    def file_names(self, prefix: str = "") -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name FROM files WHERE substr(name, 1, ?) = ? ORDER BY name", (len(prefix), prefix)
            ).fetchall()
        return [name for (name,) in rows]

    # ---------------------------------------------------------- transactions
    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for everything inside; nested batches join the outermost one.

        An exception rolls the whole batch back, so an import is stored entirely or not at all.
        """
        with self._lock:
            if self._depth == 0:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
