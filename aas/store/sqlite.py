"""The default durable store: one SQLite file (``sqlite:///abs/path/twinbridge.sqlite3``).

Durability: WAL journal with ``synchronous=FULL``. Every ``write`` is one transaction, fsynced
before it returns; the twin's writer thread batches whatever queued up meanwhile into that one
transaction (group commit), so 32 concurrent REST writers share one fsync instead of paying
one each. ``NORMAL`` survives ``kill -9`` too (the WAL sits in the OS cache) but may lose the
last commits on power loss; it is available for deployments that prefer speed.

Tables: ``documents`` (kind, id → AAS JSON), ``element_log`` (seq, submodel_id, op, path, body:
one row per element change, replayed in seq order over the submodel's document at load, cleared
when the document is saved whole) and ``files`` (name → content type, bytes).

Threads: writes come from the twin's writer thread, reads (files at request time, everything at
load) from others; one connection serves all, guarded by a lock, so no read sees half a write.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from twinbridge.aas.errors import StorageError, StorageFull
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import (
    Change,
    DeleteDocument,
    DeleteFile,
    ElementOp,
    FileContent,
    LogElement,
    LoggedChange,
    SaveDocument,
    SaveFile,
    StoredDocument,
)

SCHEMA_VERSION = 2  # 2: element_log

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS element_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    submodel_id TEXT NOT NULL,
    op TEXT NOT NULL,
    path TEXT NOT NULL,
    body BLOB
);
CREATE INDEX IF NOT EXISTS element_log_submodel ON element_log (submodel_id, seq);
CREATE TABLE IF NOT EXISTS files (
    name TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL
);
"""

_SUBMODEL = ObjectKind.SUBMODEL.value


def storage_error(error: sqlite3.Error, where: Path) -> StorageError:
    """The twin's vocabulary for a SQLite failure: StorageFull when out of room."""
    code = getattr(error, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "full" in str(error).lower():
        return StorageFull(f"the store {where} is full: {error}")
    return StorageError(f"the store {where} failed: {error}")


_BLOB_STREAM_FROM = 1024 * 1024
_BLOB_CHUNK = 1024 * 1024


def _write_blob(db: sqlite3.Connection, name: str, content_type: str, size: int,
                chunks: Iterable[bytes | memoryview]) -> None:
    """A file written in place through incremental blob I/O. Bound as a parameter, SQLite copies
    a blob twice (the binding, then the record): a 200 MiB upload grew the server by 605 MiB.
    A zeroblob row filled chunk by chunk holds no copy beyond one chunk."""
    db.execute(
        "INSERT INTO files (name, content_type, data) VALUES (?, ?, zeroblob(?))"
        " ON CONFLICT (name) DO UPDATE SET content_type = excluded.content_type, data = excluded.data",
        (name, content_type, size),
    )
    rowid = db.execute("SELECT rowid FROM files WHERE name = ?", (name,)).fetchone()[0]
    written = 0
    with db.blobopen("files", "data", rowid) as blob:
        for chunk in chunks:
            written += len(chunk)
            if written > size:
                break
            blob.write(chunk)
    if written != size:  # the spooled file changed under us: store nothing rather than a torn file
        raise StorageError(f"the file for {name!r} holds {written} bytes, not the {size} announced")


def _refused(path: Path, why: str) -> StorageError:
    return StorageError(
        f"the store {path} is not a valid twinbridge store: {why}. Nothing was changed; restore a backup "
        "of it, or start with --data naming another directory (move the file away only to start over empty)")


def _create_private(path: Path) -> bool:
    """Create the store file 0600 whatever the umask (SQLite gives its -wal and -shm files the
    database file's mode); tighten an existing one. True when it was just created."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        fresh = True
    except FileExistsError:
        fresh = False
    except OSError as error:
        raise StorageError(f"cannot open the store {path}: {error.strerror or error}") from error
    with contextlib.suppress(PermissionError):  # a store someone else owns (read by an export): leave it
        if path.stat().st_mode & 0o777 != 0o600:
            os.chmod(path, 0o600)
    return fresh


class SqliteStore:
    blocking = True
    values_in_place = False

    def __init__(self, path: Path, synchronous: Literal["FULL", "NORMAL"] = "FULL",
                 max_bytes: int | None = None) -> None:
        """``max_bytes`` caps the database file: past it, writes fail with StorageFull (as on a
        full disk) instead of filling the disk that also holds logs and certificates."""
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = Path(path)
        self._lock = threading.Lock()
        fresh = _create_private(self.path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise StorageError(f"cannot open the store {self.path}: {error}") from error
        try:
            if not fresh:
                self._check()
            self._prepare(synchronous)
            if max_bytes is not None:
                page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
                self._db.execute(f"PRAGMA max_page_count={max(1, max_bytes // page_size)}")
        except sqlite3.Error as error:
            self._db.close()
            raise _refused(self.path, str(error)) from error
        except StorageError:
            self._db.close()
            raise

    def _check(self) -> None:
        """Refuse, before writing a byte, a file that is not a twinbridge store: starting empty
        over it would look like total data loss to the operator (a zero-length file, another
        application's database, a newer schema, a failed integrity check)."""
        if self.path.stat().st_size == 0:
            raise _refused(self.path, "it is empty (0 bytes)")
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION:
            raise _refused(self.path, f"its schema version {version} is newer than this twinbridge "
                                      f"understands ({SCHEMA_VERSION})")
        if "documents" not in tables and (tables or version):
            raise _refused(self.path, f"it is another application's database (tables: {', '.join(sorted(tables))})")
        problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise _refused(self.path, f"its integrity check failed ({'; '.join(problems)})")

    def _prepare(self, synchronous: str) -> None:
        db = self._db
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"WAL journal mode unavailable (got {mode!r})")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA busy_timeout=5000")  # a CLI export next to a running server waits, not fails
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def load(self) -> Iterator[StoredDocument]:
        """Documents in first-insertion order (upserts keep their row), so listings stay stable."""
        with self._lock:
            rows = self._db.execute("SELECT kind, id, body FROM documents ORDER BY rowid").fetchall()
            entries = self._db.execute("SELECT submodel_id, op, path, body FROM element_log ORDER BY seq").fetchall()
        logs: dict[str, list[LoggedChange]] = {}
        for submodel_id, op, path, body in entries:
            logs.setdefault(submodel_id, []).append(
                LoggedChange(ElementOp(op), path, None if body is None else bytes(body)))
        for kind, identifier, body in rows:
            log = logs.get(identifier, []) if kind == _SUBMODEL else []
            yield StoredDocument(ObjectKind(kind), identifier, bytes(body), log)

    def load_one(self, kind: ObjectKind, identifier: str) -> StoredDocument | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM documents WHERE kind = ? AND id = ?",
                                   (kind.value, identifier)).fetchone()
            entries = self._db.execute("SELECT op, path, body FROM element_log WHERE submodel_id = ? ORDER BY seq",
                                       (identifier,)).fetchall() if kind is ObjectKind.SUBMODEL else []
        if row is None:
            return None
        log = [LoggedChange(ElementOp(op), path, None if body is None else bytes(body)) for op, path, body in entries]
        return StoredDocument(kind, identifier, bytes(row[0]), log)

    def write(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                for change in changes:
                    self._apply(db, change)
                db.execute("COMMIT")
            except BaseException as error:
                if db.in_transaction:  # SQLITE_FULL and some I/O errors already rolled back
                    db.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise storage_error(error, self.path) from error
                raise

    @staticmethod
    def _apply(db: sqlite3.Connection, change: Change) -> None:
        match change:
            case LogElement(submodel_id, op, path, body):
                db.execute("INSERT INTO element_log (submodel_id, op, path, body) VALUES (?, ?, ?, ?)",
                           (submodel_id, op.value, path, body))
            case SaveDocument(kind, identifier, body):
                db.execute(
                    "INSERT INTO documents (kind, id, body) VALUES (?, ?, ?)"
                    " ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
                    (kind.value, identifier, body),
                )
                if kind is ObjectKind.SUBMODEL:
                    db.execute("DELETE FROM element_log WHERE submodel_id = ?", (identifier,))
            case DeleteDocument(kind, identifier):
                db.execute("DELETE FROM documents WHERE kind = ? AND id = ?", (kind.value, identifier))
                if kind is ObjectKind.SUBMODEL:
                    db.execute("DELETE FROM element_log WHERE submodel_id = ?", (identifier,))
            case SaveFile(name, content_type, FileContent() as content):
                _write_blob(db, name, content_type, content.size, content.chunks())
            case SaveFile(name, content_type, bytes() as data) if len(data) >= _BLOB_STREAM_FROM:
                view = memoryview(data)
                _write_blob(db, name, content_type, len(data),
                            (view[start:start + _BLOB_CHUNK] for start in range(0, len(view), _BLOB_CHUNK)))
            case SaveFile(name, content_type, data):
                db.execute(
                    "INSERT INTO files (name, content_type, data) VALUES (?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET content_type = excluded.content_type, data = excluded.data",
                    (name, content_type, data),
                )
            case DeleteFile(name):
                db.execute("DELETE FROM files WHERE name = ?", (name,))

    def log_length(self, submodel_id: str) -> int:
        """Rows in a submodel's element log (tests and diagnostics)."""
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM element_log WHERE submodel_id = ?", (submodel_id,)).fetchone()
        return int(row[0])

    def load_file(self, name: str) -> tuple[str, bytes] | None:
        with self._lock:
            row = self._db.execute("SELECT content_type, data FROM files WHERE name = ?", (name,)).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def file_names(self, prefix: str = "") -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name FROM files WHERE substr(name, 1, ?) = ? ORDER BY name", (len(prefix), prefix)
            ).fetchall()
        return [name for (name,) in rows]

    def version(self, kind: ObjectKind, identifier: str) -> int | None:
        return None

    def close(self) -> None:
        with self._lock:
            self._db.close()
