"""Descriptors and asset links in PostgreSQL (``postgresql://host/database?schema=name``), for
several registry processes on one database; the tables are ``registry.store``'s, in their own
schema (default ``twinbridge_registry``), ids in the "C" collation so pages follow byte order
as in SQLite.

Writes that read first (create vs. replace, the superpath edits, posting links) run in one
transaction that locks what they read (``FOR UPDATE``, or a transaction-scoped advisory lock
on the shell id for links), so two registry processes cannot interleave them. A lost
connection answers StorageError (503) and is opened again on the next call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from twinbridge.aas.errors import Conflict, InvalidInput, NotFound, StorageError, TimedOut
from twinbridge.query.sql import compile_where
from twinbridge.query.syntax import Query, Root
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

DEFAULT_SCHEMA = "twinbridge_registry"

_TABLES = """
CREATE TABLE IF NOT EXISTS shell_descriptor (
    id TEXT COLLATE "C" PRIMARY KEY, asset_kind TEXT, asset_type TEXT, body BYTEA NOT NULL);
CREATE INDEX IF NOT EXISTS shell_descriptor_kind ON shell_descriptor (asset_kind, id);
CREATE INDEX IF NOT EXISTS shell_descriptor_type ON shell_descriptor (asset_type, id);
CREATE TABLE IF NOT EXISTS submodel_descriptor (id TEXT COLLATE "C" PRIMARY KEY, body BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS asset_link (
    name TEXT NOT NULL, value TEXT NOT NULL, aas_id TEXT COLLATE "C" NOT NULL, origin SMALLINT NOT NULL,
    body BYTEA NOT NULL, PRIMARY KEY (name, value, aas_id, origin));
CREATE INDEX IF NOT EXISTS asset_link_shell ON asset_link (aas_id, origin);
"""


def split_url(url: str) -> tuple[str, str]:
    """(conninfo URL without ``schema``, schema name)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schemas = [value for key, value in query if key == "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    if not schema.replace("_", "").isalnum():
        raise InvalidInput(f"registry store {url!r}: schema {schema!r} must be letters, digits and _")
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), schema


class PostgresDescriptorStore:
    def __init__(self, url: str) -> None:
        self._conninfo, self._schema = split_url(url)
        self._conn: psycopg.Connection[Any] | None = None
        with self._connection() as conn, conn.transaction():
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")
            conn.execute(f"SET search_path TO {self._schema}")
            for statement in filter(str.strip, _TABLES.split(";")):
                conn.execute(statement)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(self._conninfo, autocommit=True)
                self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")
                self._conn.execute(f"SET search_path TO {self._schema}")
            yield self._conn
        except psycopg.OperationalError as error:
            raise StorageError(f"the registry's PostgreSQL store is unavailable: {error}") from None

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with self._connection() as conn, conn.transaction():
            yield conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _one(self, sql: str, parameters: Sequence[object]) -> tuple[Any, ...] | None:
        with self._connection() as conn:
            row: tuple[Any, ...] | None = conn.execute(sql, parameters).fetchone()
            return row

    # ------------------------------------------------------------ shells
    def shell(self, identifier: str) -> bytes:
        row = self._one("SELECT body FROM shell_descriptor WHERE id = %s", (identifier,))
        if row is None:
            raise NotFound(f"no AssetAdministrationShellDescriptor with id {identifier!r}")
        return bytes(row[0])

    def save_shell(self, row: ShellRow, *, create: bool | None) -> None:
        with self._transaction() as conn:
            if create is True:
                inserted = conn.execute(
                    "INSERT INTO shell_descriptor (id, asset_kind, asset_type, body) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (id) DO NOTHING", (row.id, row.asset_kind, row.asset_type, row.body)).rowcount
                if not inserted:
                    raise Conflict(f"an AssetAdministrationShellDescriptor with id {row.id!r} already exists")
            elif create is False:
                updated = conn.execute("UPDATE shell_descriptor SET asset_kind = %s, asset_type = %s, body = %s "
                                       "WHERE id = %s", (row.asset_kind, row.asset_type, row.body, row.id)).rowcount
                if not updated:
                    raise NotFound(f"no AssetAdministrationShellDescriptor with id {row.id!r}")
            else:
                self._upsert_shell(conn, row)
            self._replace_links(conn, row.id, DESCRIPTOR_LINKS, row.links)

    def edit_shell(self, identifier: str, change: Callable[[bytes], ShellRow]) -> None:
        with self._transaction() as conn:
            found = conn.execute("SELECT body FROM shell_descriptor WHERE id = %s FOR UPDATE",
                                 (identifier,)).fetchone()
            if found is None:
                raise NotFound(f"no AssetAdministrationShellDescriptor with id {identifier!r}")
            row = change(bytes(found[0]))
            self._upsert_shell(conn, row)
            self._replace_links(conn, row.id, DESCRIPTOR_LINKS, row.links)

    def save_shells(self, rows: Iterable[ShellRow]) -> int:
        count = 0
        with self._transaction() as conn, conn.cursor() as cursor:
            batch = list(rows)
            cursor.executemany(
                "INSERT INTO shell_descriptor (id, asset_kind, asset_type, body) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET asset_kind = EXCLUDED.asset_kind, "
                "asset_type = EXCLUDED.asset_type, body = EXCLUDED.body",
                [(r.id, r.asset_kind, r.asset_type, r.body) for r in batch])
            cursor.executemany("DELETE FROM asset_link WHERE aas_id = %s AND origin = %s",
                               [(r.id, DESCRIPTOR_LINKS) for r in batch])
            cursor.executemany(
                "INSERT INTO asset_link (name, value, aas_id, origin, body) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(link.name, link.value, r.id, DESCRIPTOR_LINKS, link.body) for r in batch for link in r.links])
            count = len(batch)
        return count

    def delete_shell(self, identifier: str) -> None:
        with self._transaction() as conn:
            if not conn.execute("DELETE FROM shell_descriptor WHERE id = %s", (identifier,)).rowcount:
                raise NotFound(f"no AssetAdministrationShellDescriptor with id {identifier!r}")
            conn.execute("DELETE FROM asset_link WHERE aas_id = %s AND origin = %s", (identifier, DESCRIPTOR_LINKS))

    def shells(self, asset_kind: str | None, asset_type: str | None, after: str | None, limit: int) -> Page:
        return self._page("shell_descriptor", shell_filters(asset_kind, asset_type), after, limit)

    # --------------------------------------------------------- submodels
    def submodel(self, identifier: str) -> bytes:
        row = self._one("SELECT body FROM submodel_descriptor WHERE id = %s", (identifier,))
        if row is None:
            raise NotFound(f"no SubmodelDescriptor with id {identifier!r}")
        return bytes(row[0])

    def save_submodel(self, identifier: str, body: bytes, *, create: bool | None) -> None:
        with self._transaction() as conn:
            if create is True:
                if not conn.execute("INSERT INTO submodel_descriptor (id, body) VALUES (%s, %s) "
                                    "ON CONFLICT (id) DO NOTHING", (identifier, body)).rowcount:
                    raise Conflict(f"a SubmodelDescriptor with id {identifier!r} already exists")
            elif create is False:
                if not conn.execute("UPDATE submodel_descriptor SET body = %s WHERE id = %s",
                                    (body, identifier)).rowcount:
                    raise NotFound(f"no SubmodelDescriptor with id {identifier!r}")
            else:
                conn.execute("INSERT INTO submodel_descriptor (id, body) VALUES (%s, %s) "
                             "ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body", (identifier, body))

    def delete_submodel(self, identifier: str) -> None:
        with self._connection() as conn:
            if not conn.execute("DELETE FROM submodel_descriptor WHERE id = %s", (identifier,)).rowcount:
                raise NotFound(f"no SubmodelDescriptor with id {identifier!r}")

    def submodels(self, after: str | None, limit: int) -> Page:
        return self._page("submodel_descriptor", [], after, limit)

    # --------------------------------------------------------- discovery
    def lookup(self, pairs: Sequence[tuple[str, str]], after: str | None, limit: int) -> tuple[list[str], str | None]:
        with self._connection() as conn:
            rows = conn.execute(*lookup_statement(pairs, after, limit, "%s")).fetchall()
        return ids_page(rows, limit)

    def links(self, aas_id: str) -> list[bytes]:
        with self._connection() as conn:
            rows = conn.execute("SELECT body FROM asset_link WHERE aas_id = %s ORDER BY origin DESC, name, value",
                                (aas_id,)).fetchall()
        if not rows:
            raise NotFound(f"no asset links for the AssetAdministrationShell {aas_id!r}")
        return list(dict.fromkeys(bytes(row[0]) for row in rows))

    def post_links(self, aas_id: str, links: Sequence[Link]) -> None:
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (aas_id,))
            if conn.execute("SELECT 1 FROM asset_link WHERE aas_id = %s AND origin = %s LIMIT 1",
                            (aas_id, DISCOVERY_LINKS)).fetchone():
                raise Conflict(f"asset links for {aas_id!r} exist already; DELETE them before posting new ones")
            self._replace_links(conn, aas_id, DISCOVERY_LINKS, links)

    def delete_links(self, aas_id: str) -> None:
        with self._connection() as conn:
            if not conn.execute("DELETE FROM asset_link WHERE aas_id = %s AND origin = %s",
                                (aas_id, DISCOVERY_LINKS)).rowcount:
                raise NotFound(f"no asset links were posted for {aas_id!r}")

    # ----------------------------------------------------------- queries
    def candidates(self, table: DescriptorTable, query: Query, after: str | None, limit: int,
                   budget_s: float) -> Candidates:
        """The rows the query's SQL form (``query.sql``) leaves, in id order: PostgreSQL reads each
        body as jsonb and tests it, so rows the condition cannot hold for never leave the database."""
        root = Root.AASDESC if table == "shell_descriptor" else Root.SMDESC
        columns = {"id": sql.SQL("id")}
        if root is Root.AASDESC:
            columns.update(assetKind=sql.SQL("asset_kind"), assetType=sql.SQL("asset_type"))
        compiled = compile_where(query, root, sql.SQL("convert_from(body, 'UTF8')::jsonb"), columns)
        statement = sql.SQL("SELECT id, body FROM {} WHERE id > %s AND ({}) ORDER BY id LIMIT %s").format(
            sql.Identifier(table), compiled.where)
        try:
            with self._transaction() as conn:  # the time limit holds inside PostgreSQL too
                conn.execute("SELECT set_config('statement_timeout', %s, true)", (f"{max(1, int(budget_s * 1000))}ms",))
                rows = conn.execute(statement, (after or "", limit)).fetchall()
        except psycopg.errors.QueryCanceled:
            raise TimedOut(f"the query ran longer than its limit of {budget_s:g} s in PostgreSQL and was "
                           "stopped") from None
        return Candidates([(str(row[0]), bytes(row[1])) for row in rows], compiled.exact,
                          str(rows[-1][0]) if len(rows) == limit else None)

    # ---------------------------------------------------------- internal
    @staticmethod
    def _upsert_shell(conn: psycopg.Connection[Any], row: ShellRow) -> None:
        conn.execute("INSERT INTO shell_descriptor (id, asset_kind, asset_type, body) VALUES (%s, %s, %s, %s) "
                     "ON CONFLICT (id) DO UPDATE SET asset_kind = EXCLUDED.asset_kind, "
                     "asset_type = EXCLUDED.asset_type, body = EXCLUDED.body",
                     (row.id, row.asset_kind, row.asset_type, row.body))

    @staticmethod
    def _replace_links(conn: psycopg.Connection[Any], aas_id: str, origin: int, links: Sequence[Link]) -> None:
        conn.execute("DELETE FROM asset_link WHERE aas_id = %s AND origin = %s", (aas_id, origin))
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO asset_link (name, value, aas_id, origin, body) "
                               "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                               [(link.name, link.value, aas_id, origin, link.body) for link in links])

    def _page(self, table: DescriptorTable, filters: Sequence[tuple[str, object]], after: str | None,
              limit: int) -> Page:
        with self._connection() as conn:
            rows = conn.execute(*page_statement(table, filters, after, limit, "%s")).fetchall()
        return page_of(rows, limit)
