"""The submodel list of a twin with a bounded cache (``?cache=N``): pages and filters in SQL.

The in-memory ``Catalog`` indexes every submodel; with most of them in the database only, the
store answers ``GET /submodels`` instead (``DocumentSource.page``): keyset paging on the
first-insertion order (the cursor is the last item's position, so a page after a creation or
deletion neither skips nor repeats an item that stayed, as in memory) and the ``idShort`` and
``semanticId`` filters over indexed columns. A page costs the same at any repository size
(BENCHMARKS.md). Submodels that memory holds are taken from memory (newer than the row while a
change is on its way to the store); the others are decoded for the page and not cached, so
listing does not push the hot submodels out.
"""

from __future__ import annotations

from basyx.aas import model

from twinbridge.aas import documents, tree
from twinbridge.aas.errors import StorageError
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.resident import ResidentTable
from twinbridge.aas.store import StoredDocument
from twinbridge.aas.store.base import SubmodelFilter


class StoredSubmodels:
    """``GET /submodels`` over the store (see the module docstring)."""

    def __init__(self, table: ResidentTable[model.Submodel]) -> None:
        self._table = table

    def page(self, where: SubmodelFilter, after: int, limit: int | None) -> tuple[list[model.Submodel], int | None]:
        """The matching submodels after position ``after``, at most ``limit``, and the position
        to continue after when more remain."""
        table = self._table
        rows, more = table.source.page(ObjectKind.SUBMODEL, where, after, limit)
        found: list[model.Submodel] = []
        for _, stored in rows:
            identifier = stored.identifier
            if table.resident(identifier):
                found.append(table[identifier])
            elif not table.gone(identifier):
                found.append(_decode(stored))
        return found, rows[-1][0] if more and rows else None


def _decode(stored: StoredDocument) -> model.Submodel:
    obj = documents.decode(stored.body)
    if not isinstance(obj, model.Submodel):
        raise StorageError(f"the store holds a {type(obj).__name__} as submodel {stored.identifier!r}")
    if stored.log:
        tree.replay(obj, stored.log)
    return obj
