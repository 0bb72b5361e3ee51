"""Shells found in the PostgreSQL store: ``GET /shells`` pages and filters in SQL and the shells
that reference a submodel, for a twin that keeps only some shells in memory (``?cache=N``).

Keyset paging on ``ord`` (the first-insertion order the in-memory catalog keeps too, so a
cursor means the same in both), over the indexes of ``postgres_schema``: ``idShort`` is a range
of (kind, id_short, ord), a SpecificAssetId a lookup in the GIN index of the shells'
``specificAssetIds`` (``@>`` a one-element array), a ``globalAssetId`` the global_asset_id
index, and a submodel reference the GIN index of migration 3. ``kind = 'shell'`` is spelled
out, not a parameter: the partial indexes are only used when the query names their predicate.

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

_SPECIFIC = sql.SQL("body -> 'assetInformation' -> 'specificAssetIds' @> {}::jsonb")
_GLOBAL = sql.SQL("(global_asset_id = {} OR body -> 'assetInformation' -> 'specificAssetIds' @> {}::jsonb)")


class PostgresShells:
    """``ShellSource`` over one PostgreSQL schema (see the module docstring)."""

    def __init__(self, documents: PostgresDocuments) -> None:
        self._documents = documents

    def page(self, where: ShellFilter, after: int, limit: int | None) -> tuple[list[tuple[int, StoredDocument]], bool]:
        clauses: list[sql.Composable] = [sql.SQL("kind = 'shell' AND ord > {}").format(sql.Literal(after))]
        if where.id_short is not None:
            clauses.append(sql.SQL("id_short = {}").format(sql.Literal(where.id_short)))
        for name, value in where.asset_ids:
            specific = sql.Literal(orjson.dumps([{"name": name, "value": value}]).decode())
            clauses.append(_GLOBAL.format(sql.Literal(value), specific) if name == "globalAssetId"
                           else _SPECIFIC.format(specific))
        query = sql.SQL("SELECT ord, id, body::text FROM documents WHERE {} ORDER BY ord{}").format(
            sql.SQL(" AND ").join(clauses),
            sql.SQL("") if limit is None else sql.SQL(" LIMIT {}").format(sql.Literal(limit + 1)))

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
