"""Shells found in the PostgreSQL store: ``GET /shells`` pages and filters in SQL and the shells
that reference a submodel, for a twin that keeps only some shells in memory (``?cache=N``).

Keyset paging on ``ord`` (the first-insertion order the in-memory catalog keeps too, so a
cursor means the same in both), over the indexes of ``postgres_schema``: ``idShort`` is a range
of (kind, id_short, ord), an asset id a range of (name, value, ord) in ``shell_asset_ids`` (kept
by triggers, migration 3), a submodel reference the GIN index of migration 3: a page reads
about ``limit`` index entries whatever the total. Values are inlined as literals, not
parameters: the partial indexes are only used when the query names their predicate.

The filters mean what the in-memory catalog's keys mean (``server.api.catalog.shell_keys``):
an asset id (name, value) matches a SpecificAssetId with that name and value, and name
``globalAssetId`` matches the global asset id as well; several must all hold. A submodel
reference matches when its first key's value is the submodel's id (``server.api.scope.references``).
Reads share ``PostgresDocuments``' connection (never the writer's).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from psycopg import sql

from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import ShellFilter, StoredDocument
from twinbridge.aas.store.postgres_documents import Conn, PostgresDocuments
from twinbridge.aas.store.postgres_schema import as_int


class PostgresShells:
    """``ShellSource`` over one PostgreSQL schema (see the module docstring)."""

    def __init__(self, documents: PostgresDocuments) -> None:
        self._documents = documents

    def page(self, where: ShellFilter, after: int, limit: int | None) -> tuple[list[tuple[int, StoredDocument]], bool]:
        """With asset ids, the page is driven by the first one's (name, value, ord) range and the
        others are looked up per shell; else by the (kind, id_short, ord) or (kind, ord) range."""
        cap = sql.SQL("") if limit is None else sql.SQL(" LIMIT {}").format(sql.Literal(limit + 1))
        clauses: list[sql.Composable] = []
        if where.id_short is not None:
            clauses.append(sql.SQL(" AND d.id_short = {}").format(sql.Literal(where.id_short)))
        if not where.asset_ids:
            query = sql.SQL("SELECT d.ord, d.id, d.body::text FROM documents AS d WHERE d.kind = 'shell'"
                            " AND d.ord > {}{} ORDER BY d.ord{}").format(sql.Literal(after), sql.Composed(clauses), cap)
        else:
            (name, value), *others = where.asset_ids
            clauses += [sql.SQL(" AND EXISTS (SELECT 1 FROM shell_asset_ids AS o WHERE o.ord = a.ord"
                                " AND o.name = {} AND o.value = {})").format(sql.Literal(other), sql.Literal(wanted))
                        for other, wanted in others]
            query = sql.SQL("SELECT a.ord, d.id, d.body::text FROM shell_asset_ids AS a JOIN documents AS d"
                            " ON d.kind = 'shell' AND d.ord = a.ord WHERE a.name = {} AND a.value = {}"
                            " AND a.ord > {}{} ORDER BY a.ord{}").format(
                sql.Literal(name), sql.Literal(value), sql.Literal(after), sql.Composed(clauses), cap)

        def read(conn: Conn) -> list[tuple[int, StoredDocument]]:
            return [(as_int(position), StoredDocument(ObjectKind.SHELL, str(identifier), str(body).encode()))
                    for position, identifier, body in conn.execute(query).fetchall()]

        found = self._documents.read(read)
        if limit is not None and len(found) > limit:
            return found[:limit], True
        return found, False

    def referencing(self, submodel_ids: Sequence[str]) -> list[str]:
        """The GIN index narrows to shells with one of the ids in some key of a reference (one
        containment each, OR-ed: a BitmapOr); the first key decides."""
        if not submodel_ids:
            return []
        candidates = sql.SQL(" OR ").join(
            sql.SQL("body -> 'submodels' @> {}::jsonb").format(
                sql.Literal(orjson.dumps([{"keys": [{"value": identifier}]}]).decode()))
            for identifier in submodel_ids)
        query = sql.SQL("SELECT id FROM documents WHERE kind = 'shell' AND ({}) AND EXISTS (SELECT 1 FROM"
                        " jsonb_array_elements(body -> 'submodels') AS reference WHERE reference -> 'keys' -> 0"
                        " ->> 'value' = ANY({})) ORDER BY ord").format(candidates, sql.Literal(list(submodel_ids)))

        def read(conn: Conn) -> list[str]:
            return [str(identifier) for (identifier,) in conn.execute(query).fetchall()]

        return self._documents.read(read)
