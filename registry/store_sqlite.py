"""Descriptors and asset links in SQLite (``sqlite:///path`` or ``memory:``), with the indexes
the lookups need; the tables and their meaning are ``registry.store``'s.

Why SQLite by default: a registry is read far more than written, its rows are small and
independent, and one process serves it; SQLite's B-tree lookups answer a lookup by asset id over
1,000,000 descriptors in ~13 µs of CPU (bench/bench_registry.py) with no server to run. Several
registry processes sharing one store take the PostgreSQL one (``registry.store_postgres``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from twinbridge.aas.errors import Conflict, NotFound
from twinbridge.query.syntax import Query
from twinbridge.registry.store import (
    DESCRIPTOR_LINKS,
    DISCOVERY_LINKS,
    Candidates,
    DescriptorTable,
    Link,
    Page,
    ShellRow,
    ids_page,
    lookup_statement,
    page_of,
    page_statement,
    shell_filters,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS shell_descriptor (
    id TEXT PRIMARY KEY, asset_kind TEXT, asset_type TEXT, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS shell_descriptor_kind ON shell_descriptor (asset_kind, id);
CREATE INDEX IF NOT EXISTS shell_descriptor_type ON shell_descriptor (asset_type, id);
CREATE TABLE IF NOT EXISTS submodel_descriptor (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS asset_link (
    name TEXT NOT NULL, value TEXT NOT NULL, aas_id TEXT NOT NULL, origin INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (name, value, aas_id, origin)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS asset_link_shell ON asset_link (aas_id, origin);
"""


class SqliteDescriptorStore:
    """Descriptors and links in one SQLite database (a file, or memory for ``memory:``)."""

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(":memory:" if path is None else str(path), check_same_thread=False,
                                   isolation_level=None)
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at each checkpoint, never corrupt
        self._db.executescript(_SCHEMA)
        self._reads = _Reads(self._db)

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------ shells
    def shell(self, identifier: str) -> bytes:
        return self._reads.shell(identifier)

    def save_shell(self, row: ShellRow, *, create: bool | None) -> None:
        """Insert (``create``: Conflict if it exists), replace (``create=False``: NotFound if
        missing) or upsert (``create=None``) a shell descriptor, and its links, in one transaction."""
        with self._transaction():
            exists = self._db.execute("SELECT 1 FROM shell_descriptor WHERE id = ?", (row.id,)).fetchone()
            if create is True and exists:
                raise Conflict(f"an AssetAdministrationShellDescriptor with id {row.id!r} already exists")
            if create is False and not exists:
                raise NotFound(f"no AssetAdministrationShellDescriptor with id {row.id!r}")
            self._write_shell(row)

    def edit_shell(self, identifier: str, change: Callable[[bytes], ShellRow]) -> None:
        """Read, change and write one shell descriptor in one transaction (NotFound if missing)."""
        with self._transaction():
            row = self._db.execute("SELECT body FROM shell_descriptor WHERE id = ?", (identifier,)).fetchone()
            if row is None:
                raise NotFound(f"no AssetAdministrationShellDescriptor with id {identifier!r}")
            self._write_shell(change(bytes(row[0])))

    def save_shells(self, rows: Iterable[ShellRow]) -> int:
        """Bulk upsert (benchmarks, imports): one transaction; returns how many were written."""
        count = 0
        with self._transaction():
            for row in rows:
                self._write_shell(row)
                count += 1
        return count

    def delete_shell(self, identifier: str) -> None:
        with self._transaction():
            deleted = self._db.execute("DELETE FROM shell_descriptor WHERE id = ?", (identifier,)).rowcount
            if not deleted:
                raise NotFound(f"no AssetAdministrationShellDescriptor with id {identifier!r}")
            self._db.execute("DELETE FROM asset_link WHERE aas_id = ? AND origin = ?",
                             (identifier, DESCRIPTOR_LINKS))

    def shells(self, asset_kind: str | None, asset_type: str | None, after: str | None, limit: int) -> Page:
        return self._page("shell_descriptor", shell_filters(asset_kind, asset_type), after, limit)

    # --------------------------------------------------------- submodels
    def submodel(self, identifier: str) -> bytes:
        return self._reads.submodel(identifier)

    def save_submodel(self, identifier: str, body: bytes, *, create: bool | None) -> None:
        with self._transaction():
            exists = self._db.execute("SELECT 1 FROM submodel_descriptor WHERE id = ?", (identifier,)).fetchone()
            if create is True and exists:
                raise Conflict(f"a SubmodelDescriptor with id {identifier!r} already exists")
            if create is False and not exists:
                raise NotFound(f"no SubmodelDescriptor with id {identifier!r}")
            self._db.execute("INSERT OR REPLACE INTO submodel_descriptor (id, body) VALUES (?, ?)", (identifier, body))

    def delete_submodel(self, identifier: str) -> None:
        if not self._db.execute("DELETE FROM submodel_descriptor WHERE id = ?", (identifier,)).rowcount:
            raise NotFound(f"no SubmodelDescriptor with id {identifier!r}")

    def submodels(self, after: str | None, limit: int) -> Page:
        return self._page("submodel_descriptor", [], after, limit)

    # --------------------------------------------------------- discovery
    def lookup(self, pairs: Sequence[tuple[str, str]], after: str | None, limit: int) -> tuple[list[str], str | None]:
        return self._reads.lookup(pairs, after, limit)

    def links(self, aas_id: str) -> list[bytes]:
        """Every link of the shell, posted ones and its descriptor's; NotFound when it has none."""
        rows = self._db.execute("SELECT body FROM asset_link WHERE aas_id = ? ORDER BY origin DESC, name, value",
                                (aas_id,)).fetchall()
        if not rows:
            raise NotFound(f"no asset links for the AssetAdministrationShell {aas_id!r}")
        return list(dict.fromkeys(bytes(row[0]) for row in rows))  # a link both posted and described: once

    def post_links(self, aas_id: str, links: Sequence[Link]) -> None:
        with self._transaction():
            if self._db.execute("SELECT 1 FROM asset_link WHERE aas_id = ? AND origin = ? LIMIT 1",
                                (aas_id, DISCOVERY_LINKS)).fetchone():
                raise Conflict(f"asset links for {aas_id!r} exist already; DELETE them before posting new ones")
            self._replace_links(aas_id, DISCOVERY_LINKS, links)

    def delete_links(self, aas_id: str) -> None:
        if not self._db.execute("DELETE FROM asset_link WHERE aas_id = ? AND origin = ?",
                                (aas_id, DISCOVERY_LINKS)).rowcount:
            raise NotFound(f"no asset links were posted for {aas_id!r}")

    # ---------------------------------------------------------- internal
    def _write_shell(self, row: ShellRow) -> None:
        self._db.execute("INSERT OR REPLACE INTO shell_descriptor (id, asset_kind, asset_type, body) "
                         "VALUES (?, ?, ?, ?)", (row.id, row.asset_kind, row.asset_type, row.body))
        self._replace_links(row.id, DESCRIPTOR_LINKS, row.links)

    def _replace_links(self, aas_id: str, origin: int, links: Sequence[Link]) -> None:
        self._db.execute("DELETE FROM asset_link WHERE aas_id = ? AND origin = ?", (aas_id, origin))
        self._db.executemany("INSERT OR REPLACE INTO asset_link (name, value, aas_id, origin, body) "
                             "VALUES (?, ?, ?, ?, ?)",
                             [(link.name, link.value, aas_id, origin, link.body) for link in links])

    def candidates(self, table: DescriptorTable, query: Query, after: str | None, limit: int,
                   budget_s: float) -> Candidates:
        """Every row, in id order (a batch is one short index range scan, within any budget):
        SQLite has no JSON paths with the language's semantics to narrow by."""
        rows = self._db.execute(f"SELECT id, body FROM {table} WHERE id > ? ORDER BY id LIMIT ?",
                                (after or "", limit)).fetchall()
        return Candidates([(str(row[0]), bytes(row[1])) for row in rows], False,
                          str(rows[-1][0]) if len(rows) == limit else None)

    def _page(self, table: DescriptorTable, filters: Sequence[tuple[str, object]], after: str | None,
              limit: int) -> Page:
        return page_of(self._db.execute(*page_statement(table, filters, after, limit, "?")).fetchall(), limit)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error (the connection runs in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


class _Reads:
    """Point reads over the store's connection. Every read runs its statement to the end
    (``fetchall``): a ``fetchone`` leaves the statement, and with it a read transaction, open."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def shell(self, identifier: str) -> bytes:
        rows = self.db.execute("SELECT body FROM shell_descriptor WHERE id = ?", (identifier,)).fetchall()
        if not rows:
            raise NotFound(f"no AssetAdministrationShellDescriptor with id {identifier!r}")
        return bytes(rows[0][0])

    def submodel(self, identifier: str) -> bytes:
        rows = self.db.execute("SELECT body FROM submodel_descriptor WHERE id = ?", (identifier,)).fetchall()
        if not rows:
            raise NotFound(f"no SubmodelDescriptor with id {identifier!r}")
        return bytes(rows[0][0])

    def lookup(self, pairs: Sequence[tuple[str, str]], after: str | None, limit: int) -> tuple[list[str], str | None]:
        return ids_page(self.db.execute(*lookup_statement(pairs, after, limit, "?")).fetchall(), limit)
