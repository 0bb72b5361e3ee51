"""The live RDF view of the twin and the plant tree, and read-only SPARQL over it.

The graph (mapping in ``rdf_mapping``) follows the twin through the change bus: a value
event replaces exactly one triple, a structure event re-emits only the identifiable it names.
Besides the ontology's predicates it carries four shortcuts under ``tb:``
(``https://twinbridge.io/ns#``): ``tb:hasPart`` / ``tb:isPartOf`` between shells,
``tb:level`` (plant, line, cell, machine, component) and ``tb:hasSubmodel`` from a shell to
its submodel nodes. Queries get prefixes for the ontology's classes (``Referable:idShort``,
``Property:value``, ...) because ``aas:Referable/idShort`` is not a valid SPARQL prefixed name.

SPARQL runs under a lock shared with the bus consumer (a query never sees a half-applied
batch) and against a deadline checked inside the graph's triple lookups, at every lookup
and every 1024 triples: a query past its time limit stops with ``QueryTimeout``. Pattern
groups are ordered by ``query_plan`` rather than by rdflib's bound-term count.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from basyx.aas import model
from pyparsing import ParseException
from rdflib import Graph, URIRef
from rdflib.plugins.sparql import algebra, prepareQuery
from rdflib.plugins.sparql.parser import parseUpdate
from rdflib.term import Node

from twinbridge.aas.bus import ChangeBatch, Follower
from twinbridge.aas.errors import InvalidInput, TwinError
from twinbridge.aas.events import ChangeKind, ObjectKind, StructureChanged
from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.submodels import query_plan
from twinbridge.submodels.hierarchy import PlantHierarchy, changes_tree
from twinbridge.submodels.rdf_mapping import PREFIXES, PROPERTY_VALUE, TB, Emitter, Terms, Triple, iri

log = logging.getLogger(__name__)

_CHECK_EVERY = 1024


class QueryError(InvalidInput):
    """The SPARQL text is malformed."""


class QueryRejected(TwinError):
    """The query asks for something this read-only endpoint does not do (UPDATE, SERVICE, FROM)."""


class QueryTimeout(TwinError):
    """The query ran past its time limit and was stopped."""


class _DeadlineGraph(Graph):
    """A graph whose triple lookups stop a query that runs past ``deadline`` (monotonic seconds)."""

    deadline = float("inf")

    def triples(self, triple: Any) -> Iterator[Any]:  # type: ignore[override]
        deadline = self.deadline
        if deadline != float("inf"):
            _check(deadline)
            for count, found in enumerate(super().triples(triple)):
                if not count % _CHECK_EVERY:
                    _check(deadline)
                yield found
        else:
            yield from super().triples(triple)


query_plan.register(_DeadlineGraph)


def _check(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise QueryTimeout("the SPARQL query ran past its time limit and was stopped")


class SemanticGraph:
    """The live RDF view of ``twin`` and ``hierarchy``. ``await start()`` to follow the bus."""

    def __init__(self, twin: Twin, hierarchy: PlantHierarchy) -> None:
        self._twin = twin
        self._hierarchy = hierarchy
        self.graph = _new_graph()
        self._owned: dict[tuple[ObjectKind, str], list[Node]] = {}
        self._tree_triples: list[Triple] = []
        self._terms = Terms()
        self._value_nodes: dict[int, URIRef] = {}
        self._lock = threading.Lock()
        self._follower = Follower(twin.bus, self._on_batch, "semantic graph")
        self.rebuild()

    # ---------------------------------------------------------------- building
    def rebuild(self) -> None:
        """Emit everything from scratch (start-up; a change of the plant tree re-emits only the tree)."""
        with self._lock, collector_paused():
            self.graph = _new_graph()
            self._owned.clear()
            self._value_nodes.clear()
            self._terms = Terms()
            triples: list[Triple] = []
            twin = self._twin
            for kind, table in ((ObjectKind.CONCEPT_DESCRIPTION, twin.concept_descriptions),
                                (ObjectKind.SUBMODEL, twin.submodels), (ObjectKind.SHELL, twin.shells)):
                for obj in table.values():
                    triples.extend(self._emit(kind, obj))
            triples.extend(self._tree())
            add = self.graph.store.add
            graph = self.graph
            for triple in triples:
                add(triple, graph)

    def _emit(self, kind: ObjectKind, obj: Any) -> list[Triple]:
        emitter = Emitter(self._terms)
        if kind is ObjectKind.SHELL:
            level = self._hierarchy.level(obj.id) if obj.id in self._hierarchy else None
            emitter.shell(obj, level or obj.asset_information.asset_type)
        elif kind is ObjectKind.SUBMODEL:
            emitter.submodel(obj)
        else:
            emitter.concept(obj)
        self._owned[(kind, obj.id)] = emitter.subjects
        return emitter.triples

    def _tree(self) -> list[Triple]:
        hierarchy = self._hierarchy
        triples: list[Triple] = []
        for shell_id in hierarchy.shells():
            parent = hierarchy.parent(shell_id)
            if parent is not None:
                triples.append((iri(parent), TB.hasPart, iri(shell_id)))
                triples.append((iri(shell_id), TB.isPartOf, iri(parent)))
        self._tree_triples = triples
        return triples

    # ------------------------------------------------------------- following
    async def start(self) -> None:
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def _on_batch(self, batch: ChangeBatch) -> None:
        while not self._lock.acquire(blocking=False):  # a query is running in a worker thread
            await asyncio.sleep(0.005)
        try:
            self.apply(batch)
        finally:
            self._lock.release()

    def apply(self, batch: ChangeBatch) -> None:
        """Apply one bus batch; the caller holds the lock (or owns the graph exclusively)."""
        tree_changed = False
        # Value writes of non-Property kinds arrive as ValueChanged since issue 8; their triples
        # are re-emitted with the submodel's, as for the structure event they used to be.
        structure = batch.structure + [
            StructureChanged(ChangeKind.UPDATED, ObjectKind.SUBMODEL, event.element.submodel_id, event.element.path)
            for event in batch.values if not isinstance(event.element.element, model.Property)
        ]
        for change in structure:
            self._forget(change.object_kind, change.identifier)
            if change.kind is not ChangeKind.DELETED:
                obj = self._twin.get(change.object_kind, change.identifier)
                self._add(self._emit(change.object_kind, obj))
            if change.object_kind is ObjectKind.SHELL or change.object_kind is ObjectKind.SUBMODEL:
                self._value_nodes.clear()
            tree_changed = tree_changed or changes_tree(self._twin, change)
        if tree_changed:
            self._reload_tree()
        graph = self.graph
        for event in batch.values:
            node = self._value_node(event.element)
            if node is None:
                continue
            if event.value is None:
                graph.remove((node, PROPERTY_VALUE, None))
            else:
                graph.set((node, PROPERTY_VALUE, self._terms.literal(model.datatypes.xsd_repr(event.value))))

    def _value_node(self, handle: LiveElement) -> URIRef | None:
        node = self._value_nodes.get(handle.key)
        if node is None:
            if not isinstance(handle.element, model.Property):
                return None
            node = self._value_nodes[handle.key] = URIRef(f"{iri(handle.submodel_id)}#{handle.path}")
        return node

    def _forget(self, kind: ObjectKind, identifier: str) -> None:
        remove = self.graph.remove
        for subject in self._owned.pop((kind, identifier), ()):
            remove((subject, None, None))

    def _add(self, triples: list[Triple]) -> None:
        add = self.graph.store.add
        for triple in triples:
            add(triple, self.graph)

    def _reload_tree(self) -> None:
        if not self._hierarchy.refresh(self._twin):
            return
        for triple in self._tree_triples:
            self.graph.remove(triple)
        self._add(self._tree())

    # ---------------------------------------------------------------- output
    def turtle(self) -> bytes:
        """The graph as Turtle, written in its N-Triples subset after the prefix declarations.

        rdflib's pretty Turtle writer sorts and nests the whole graph (~150 µs a triple: minutes
        for a big plant); one triple per line is valid Turtle and ~60 times faster.
        """
        with self._lock:
            return _turtle(self.graph)

    def query(self, sparql: str, timeout_s: float = 5.0) -> tuple[str, bytes]:
        """(content type, body): SPARQL JSON results for SELECT/ASK, Turtle for CONSTRUCT/DESCRIBE."""
        prepared = _prepare(sparql)
        with self._lock:
            self.graph.deadline = time.monotonic() + timeout_s
            try:
                result = self.graph.query(prepared)
                if result.type in ("SELECT", "ASK"):
                    body = result.serialize(format="json")
                    content_type = "application/sparql-results+json"
                else:
                    assert result.graph is not None
                    body = _turtle(result.graph)
                    content_type = "text/turtle"
            except RecursionError:
                raise QueryTimeout("the SPARQL query is too deeply nested to evaluate") from None
            finally:
                self.graph.deadline = float("inf")
        assert body is not None
        return content_type, body


def _turtle(graph: Graph) -> bytes:
    header = "".join(f"@prefix {prefix}: <{namespace}> .\n" for prefix, namespace in PREFIXES.items())
    return header.encode() + b"\n" + graph.serialize(format="nt", encoding="utf-8")


def _new_graph() -> _DeadlineGraph:
    graph = _DeadlineGraph(store="SimpleMemory")
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def _prepare(sparql: str) -> Any:
    try:
        prepared = prepareQuery(sparql, initNs=PREFIXES)
    except ParseException as error:
        if _is_update(sparql):
            raise QueryRejected("SPARQL UPDATE is not allowed: this endpoint is read-only") from None
        raise QueryError(f"malformed SPARQL query at line {error.lineno}, column {error.col}: {error.msg}") from None
    except Exception as error:  # rdflib reports unknown prefixes and the like with plain exceptions
        raise QueryError(f"malformed SPARQL query: {error}") from None
    if prepared.algebra.get("datasetClause"):
        raise QueryRejected("FROM / FROM NAMED are not supported: the query runs over the twin's graph")
    services: list[Any] = []
    algebra.traverse(prepared.algebra, visitPre=_collect_service(services))
    if services:
        raise QueryRejected("SERVICE (federated queries) is not allowed on this endpoint")
    return prepared


def _is_update(sparql: str) -> bool:
    try:
        parseUpdate(sparql)
    except Exception:  # any parse failure: it is not a valid update either
        return False
    return True


def _collect_service(found: list[Any]) -> Callable[[Any], None]:
    def visit(node: Any) -> None:
        if getattr(node, "name", None) == "ServiceGraphPattern":
            found.append(node)
    return visit
