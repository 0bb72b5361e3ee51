"""The shell list of a twin with a bounded cache (``?cache=N``): pages and filters in SQL.

The in-memory ``Catalog`` indexes every shell; with most of them in the database only, the store
answers ``GET /shells`` (and its ``$reference`` form) instead (``aas.store.postgres_shells``):
keyset paging on the first-insertion order (the cursor is the last item's position, so a
page after a creation or deletion neither skips nor repeats a shell that stayed, as in memory)
and the ``idShort`` and ``assetIds`` filters over indexed columns; a page costs the same at any
repository size (BENCHMARKS.md). A shell memory holds is rendered from memory (newer than its row
while a change is on its way); the others from the row's JSON, which is the twin's own encoding
of the shell (``documents.encode``: the JSON ``render_json`` gives, keys in jsonb's order), never
decoded into objects and not admitted, so listing does not push the hot shells out.

``GET /shells/{id}`` reads as a submodel does (``ResidentTable.unadmitted``): a first read in a
while renders the row's JSON, a second read soon after makes the shell resident.
"""

from __future__ import annotations

import orjson
from basyx.aas import model

from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.errors import NotFound
from twinbridge.aas.resident import ResidentTable
from twinbridge.aas.store.base import ShellFilter, ShellSource


class StoredShells:
    """``GET /shells`` and ``GET /shells/{id}`` over the store (see the module docstring)."""

    def __init__(self, table: ResidentTable[model.AssetAdministrationShell], source: ShellSource) -> None:
        self._table = table
        self._source = source
        self._page_rows: dict[str, bytes] = {}
        """The rows of the page just read that memory does not hold, for the ``rendered`` that follows."""

    def page(self, where: ShellFilter, after: int, limit: int | None) -> tuple[list[str], int | None]:
        """The ids of the matching shells after position ``after``, at most ``limit``, and the
        position to continue after when more remain."""
        table = self._table
        rows, more = self._source.page(where, after, limit)
        ids: list[str] = []
        self._page_rows = {}
        for _, stored in rows:
            identifier = stored.identifier
            if table.resident(identifier):
                ids.append(identifier)
            elif not table.gone(identifier):
                ids.append(identifier)
                self._page_rows[identifier] = stored.body
        return ids, rows[-1][0] if more and rows else None

    def rendered(self, identifier: str) -> bytes:
        """The shell's AAS JSON bytes; NotFound naming it when there is none."""
        table = self._table
        if not table.resident(identifier):
            body = self._page_rows.pop(identifier, None)
            if body is None:
                stored = table.unadmitted(identifier)
                body = None if stored is None else stored.body
            if body is not None:
                return orjson.dumps(orjson.loads(body))
        shell = table.get(identifier)
        if shell is None:
            raise NotFound(f"no AssetAdministrationShell with id {identifier!r}")
        return orjson.dumps(to_jsonable(shell))
