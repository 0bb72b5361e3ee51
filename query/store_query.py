"""Answering a query from the PostgreSQL store, not from memory: ``sql_page``.

Where not every submodel is in memory (a bounded cache over the shared store), the query routes
call ``sql_page`` (or ``StorePlanner(store, root).page``, the same signature as
``Planner.page``: a route picks one ``PageSource`` or the other). The condition runs in
PostgreSQL as its SQL form (``query.sql``) over the documents' jsonb; the rows it leaves are the
answer when that form is exact and the document current, and otherwise go through the in-memory
evaluator, decoded with their element logs replayed (``aas.tree.replay``, as the store loads them). Either way the
answer is the naive loop's: the property tests compare the two on random conditions.

Fields of another level of the hierarchy (``$aas`` in a submodel query, ``$sm`` in a shell
query) are read through ``StoreWorld``: a shell's submodels and a submodel's shells are fetched
from the store (once per run), since memory may hold neither.

The cursor is the documents' insertion order (``ord``), so pages hold across creations and
deletions as the in-memory catalog's sequence numbers do.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from basyx.aas import model
from psycopg import sql

from twinbridge.aas import documents, tree
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import StoredDocument
from twinbridge.aas.store.postgres import PostgresStore
from twinbridge.query.evaluate import compile_condition
from twinbridge.query.plan import Page, check_roots
from twinbridge.query.resolve import Deadline, Scope
from twinbridge.query.sql import compile_where
from twinbridge.query.syntax import Query, Root, fields_of

BATCH = 500
"""Rows fetched at a time: the page's end is usually near, and the deadline is checked between."""
_KINDS = {Root.AAS: ObjectKind.SHELL, Root.SM: ObjectKind.SUBMODEL, Root.CD: ObjectKind.CONCEPT_DESCRIPTION}
_DOCUMENT = sql.SQL("d.body")
_COLUMNS = {"id": sql.SQL("d.id"), "idShort": sql.SQL("d.id_short"), "semanticFirstKey": sql.SQL("d.semantic_id"),
            "globalAssetId": sql.SQL("d.global_asset_id")}
"""The documents table's indexed columns (``aas.store.postgres_schema``): an ``$eq`` on them is an
index lookup, not a jsonpath per row."""


def _build(stored: StoredDocument) -> model.Identifiable:
    obj = documents.decode(stored.body)
    if stored.log and isinstance(obj, model.Submodel):
        tree.replay(obj, stored.log)
    return obj


class StoreWorld:
    """The hierarchy read from the store: what a cross-level field needs, fetched on first use."""

    def __init__(self, store: PostgresStore, deadline: Deadline) -> None:
        self._store = store
        self._deadline = deadline
        self._submodels: dict[str, model.Submodel | None] = {}
        self._shells: dict[str, list[model.AssetAdministrationShell]] = {}

    def submodels_of(self, shell: model.AssetAdministrationShell) -> Iterable[model.Submodel]:
        for reference in shell.submodel:
            if not reference.key:
                continue
            identifier = reference.key[-1].value
            if identifier not in self._submodels:
                stored = self._store.load_one(ObjectKind.SUBMODEL, identifier)
                built = None if stored is None else _build(stored)
                self._submodels[identifier] = built if isinstance(built, model.Submodel) else None
            submodel = self._submodels[identifier]
            if submodel is not None:
                yield submodel

    def shells_of(self, submodel: model.Submodel) -> Iterable[model.AssetAdministrationShell]:
        found = self._shells.get(submodel.id)
        if found is None:
            where = sql.SQL("jsonb_path_exists(d.body, '$.submodels[*] ? (@.keys[last].value == $id)', "
                            "jsonb_build_object('id', {}::text))").format(sql.Literal(submodel.id))
            found = [shell for _, shell in self._rows(ObjectKind.SHELL, where)
                     if isinstance(shell, model.AssetAdministrationShell)]
            self._shells[submodel.id] = found
        return found

    def _rows(self, kind: ObjectKind, where: sql.Composable) -> Iterator[tuple[int, model.Identifiable]]:
        after = 0
        while True:
            rows = self._store.query_documents(kind, where, False, False, after, BATCH, self._deadline.remaining())
            for order, _, stored in rows:
                assert stored is not None  # not exact: every row comes with its document
                yield order, _build(stored)
            if len(rows) < BATCH:
                return
            after = rows[-1][0]


def sql_page(store: PostgresStore, query: Query, root: Root, after: int, limit: int | None,
             timeout: float) -> Page:
    """One page of the identifiers of the shells, submodels or concept descriptions (``root``) of
    the store that the query holds for, after the cursor ``after`` (an ``ord``; 0: from the
    start), and the cursor of the next page (None at the end)."""
    check_roots(query, root)
    deadline = Deadline(timeout, time.monotonic)
    compiled = compile_where(query, root, _DOCUMENT, _COLUMNS)
    # a submodel's element log changes its elements only: a condition without $sme trusts its body
    elements = any(field.root is Root.SME for field in fields_of(query.condition))
    condition = compile_condition(query)
    world = StoreWorld(store, deadline)
    chosen: list[tuple[int, str]] = []
    while True:
        deadline.check()
        rows = store.query_documents(_KINDS[root], compiled.where, compiled.exact, elements, after, BATCH,
                                     deadline.remaining())
        for order, identifier, stored in rows:
            deadline.tick()
            if stored is not None and not condition.holds(Scope(root, _build(stored), world, deadline)):
                continue
            if limit is not None and len(chosen) == limit:  # one match beyond: there is a next page
                return Page([identifier for _, identifier in chosen], chosen[-1][0])
            chosen.append((order, identifier))
        if len(rows) < BATCH:
            return Page([identifier for _, identifier in chosen], None)
        after = rows[-1][0]


class StorePlanner:
    """``sql_page`` behind the ``PageSource`` interface ``query.plan.Planner`` has."""

    def __init__(self, store: PostgresStore, root: Root) -> None:
        self.store = store
        self.root = root

    def page(self, query: Query, after: int, limit: int | None, timeout: float) -> Page:
        return sql_page(self.store, query, self.root, after, limit, timeout)
