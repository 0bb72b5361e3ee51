"""Where descriptors live: a small ``DescriptorStore`` protocol, chosen by URL.

- ``sqlite:///abs/path/registry.sqlite3`` (the default, in the data directory) or ``memory:``:
  ``registry.store_sqlite``, one process;
- ``postgresql://host/db?schema=name``: ``registry.store_postgres``, several registry
  processes on one database.

Both keep the same tables (one row per descriptor; the body is the descriptor's rendered JSON,
answered as is):

- ``shell_descriptor(id, asset_kind, asset_type, body)`` with indexes on (asset_kind, id) and
  (asset_type, id) for the Part 2 filters;
- ``submodel_descriptor(id, body)`` (the Submodel Registry);
- ``asset_link(name, value, aas_id, origin, body)``, primary key (name, value, aas_id, origin):
  a lookup by asset id is one range scan of the primary key. ``origin`` 0 are the links a shell
  descriptor carries (its globalAssetId and specificAssetIds, kept in step with it in the same
  transaction), 1 the links posted to the Discovery service.

Pages are keyset pages ordered by id (byte order): a cursor is the last id handed out, so pages
stay consistent while descriptors come and go and cost the same at any depth. Every method is
synchronous and runs on the store's own thread (``RegistryService``). Reads on the event loop
through a second SQLite connection were tried (two thread wake-ups less per lookup) and dropped:
the registry feeding test saw that connection answer from an old snapshot after the store's
thread had committed (2 of 3 runs), so a descriptor PUT did not show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

from twinbridge.aas.errors import InvalidInput
from twinbridge.query.syntax import Query

DESCRIPTOR_LINKS = 0
DISCOVERY_LINKS = 1


@dataclass(frozen=True, slots=True)
class Link:
    """One asset link: a SpecificAssetId's name and value, and its JSON as the client gave it."""

    name: str
    value: str
    body: bytes


@dataclass(frozen=True, slots=True)
class ShellRow:
    id: str
    asset_kind: str | None
    asset_type: str | None
    body: bytes
    links: Sequence[Link]


Page = tuple[list[bytes], str | None]
DescriptorTable = Literal["shell_descriptor", "submodel_descriptor"]


@dataclass(frozen=True, slots=True)
class Candidates:
    """One batch of a query's scan: (id, body) rows in id order; ``exact``: the store's own test
    answered the query for them (no evaluation needed); ``last``: the id to scan on after, None
    when the table has no more rows."""

    rows: list[tuple[str, bytes]]
    exact: bool
    last: str | None


def page_statement(table: DescriptorTable, filters: Sequence[tuple[str, object]], after: str | None, limit: int,
                   mark: str) -> tuple[str, list[object]]:
    """A keyset page of ``table`` with ``column = value`` ``filters``, one row beyond ``limit``
    (whether a next page exists); ``mark`` is the driver's placeholder (``?``, ``%s``)."""
    conditions = " AND ".join([*(f"{column} = {mark}" for column, _ in filters), f"id > {mark}"])
    return (f"SELECT id, body FROM {table} WHERE {conditions} ORDER BY id LIMIT {mark}",
            [*(value for _, value in filters), after or "", limit + 1])


def shell_filters(asset_kind: str | None, asset_type: str | None) -> list[tuple[str, object]]:
    """The Part 2 filters of ``GET /shell-descriptors`` that were given, as ``page_statement`` takes them."""
    return [(column, value) for column, value in (("asset_kind", asset_kind), ("asset_type", asset_type))
            if value is not None]


def page_of(rows: Sequence[Sequence[Any]], limit: int) -> Page:
    """The bodies of a ``page_statement``'s rows and the cursor (None on the last page)."""
    return [bytes(row[1]) for row in rows[:limit]], str(rows[limit - 1][0]) if len(rows) > limit else None


def lookup_statement(pairs: Sequence[tuple[str, str]], after: str | None, limit: int,
                     mark: str) -> tuple[str, list[object]]:
    """Ids of shells linked to *every* (name, value) pair, by either origin; all linked shells
    without pairs, each once (a link both posted and described matches twice). One primary-key
    range scan per pair, intersected by the database; one id beyond ``limit``."""
    if pairs:
        query = " INTERSECT ".join([f"SELECT DISTINCT aas_id FROM asset_link WHERE name = {mark} AND value = {mark}"]
                                  * len(pairs))
        parameters: list[object] = [part for pair in pairs for part in pair]
    else:
        query, parameters = "SELECT DISTINCT aas_id FROM asset_link", []
    return (f"SELECT aas_id FROM ({query}) AS linked WHERE aas_id > {mark} ORDER BY aas_id LIMIT {mark}",
            [*parameters, after or "", limit + 1])


def ids_page(rows: Sequence[Sequence[Any]], limit: int) -> tuple[list[str], str | None]:
    """The ids of a ``lookup_statement``'s rows and the cursor (None on the last page)."""
    ids = [str(row[0]) for row in rows[:limit]]
    return ids, ids[-1] if len(rows) > limit else None


class DescriptorStore(Protocol):
    def close(self) -> None: ...

    def shell(self, identifier: str) -> bytes: ...

    def save_shell(self, row: ShellRow, *, create: bool | None) -> None:
        """Insert (``create``: Conflict if it exists), replace (``create=False``: NotFound if
        missing) or upsert (``create=None``) a shell descriptor and its links, in one transaction."""
        ...

    def edit_shell(self, identifier: str, change: Callable[[bytes], ShellRow]) -> None:
        """Read, change and write one shell descriptor in one transaction (NotFound if missing)."""
        ...

    def save_shells(self, rows: Iterable[ShellRow]) -> int:
        """Bulk upsert (benchmarks, imports) in one transaction; returns how many were written."""
        ...

    def delete_shell(self, identifier: str) -> None: ...
    def shells(self, asset_kind: str | None, asset_type: str | None, after: str | None, limit: int) -> Page: ...
    def submodel(self, identifier: str) -> bytes: ...
    def save_submodel(self, identifier: str, body: bytes, *, create: bool | None) -> None: ...
    def delete_submodel(self, identifier: str) -> None: ...
    def submodels(self, after: str | None, limit: int) -> Page: ...

    def lookup(self, pairs: Sequence[tuple[str, str]], after: str | None, limit: int) -> tuple[list[str], str | None]:
        """Ids of shells linked to *every* (name, value) pair, by either origin (all linked shells
        without pairs), a page of them and the id to continue after."""
        ...

    def links(self, aas_id: str) -> list[bytes]:
        """Every link of the shell, posted ones and its descriptor's; NotFound when it has none."""
        ...

    def candidates(self, table: DescriptorTable, query: Query, after: str | None, limit: int,
                   budget_s: float) -> Candidates:
        """Up to ``limit`` rows after ``after`` that the query may hold for (every row, or those a
        database-side predicate leaves: ``query.sql``); TimedOut past ``budget_s`` seconds."""
        ...

    def post_links(self, aas_id: str, links: Sequence[Link]) -> None: ...
    def delete_links(self, aas_id: str) -> None: ...


def _open_sqlite(url: str) -> DescriptorStore:
    from twinbridge.registry.store_sqlite import SqliteDescriptorStore

    if url in ("memory:", "memory://"):
        return SqliteDescriptorStore(None)
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise InvalidInput(f"registry store {url!r}: a sqlite URL names a local file, sqlite:///abs/path/file")
    return SqliteDescriptorStore(Path(unquote(parts.path)))


def _open_postgres(url: str) -> DescriptorStore:
    from twinbridge.registry.store_postgres import PostgresDescriptorStore

    return PostgresDescriptorStore(url)


_OPENERS: dict[str, Callable[[str], DescriptorStore]] = {
    "sqlite": _open_sqlite, "memory": _open_sqlite, "postgresql": _open_postgres, "postgres": _open_postgres,
}


def open_descriptor_store(url: str) -> DescriptorStore:
    """The store a URL names; InvalidInput for an unknown scheme."""
    opener = _OPENERS.get(url.split(":", 1)[0].lower())
    if opener is None:
        raise InvalidInput(f"registry store {url!r}: use sqlite:///abs/path/registry.sqlite3, memory: "
                           "or postgresql://host/database?schema=name")
    return opener(url)
