"""The live RDF view of the twin and the plant tree, and read-only SPARQL over it.

The graph (mapping in ``rdf_mapping``) is built on first use and from then on follows the
twin through the change bus: a value event replaces only that element's value triples (one
triple for a Property), a structure event re-maps only the identifiable or element subtree
it names. Unbuilt, it costs nothing: a plain start never pays ~850 bytes per triple (about
13 triples a property on a plant) for a graph nobody queries.
Besides the ontology's predicates it carries four shortcuts under ``tb:``
(``https://twinbridge.io/ns#``): ``tb:hasPart`` / ``tb:isPartOf`` between shells,
``tb:level`` (plant, line, cell, machine, component) and ``tb:hasSubmodel`` from a shell to
its submodel nodes. Queries get prefixes for the ontology's classes (``Referable:idShort``,
``Property:value``, ...) because ``aas:Referable/idShort`` is not a valid SPARQL prefixed name.

SPARQL over HTTP runs in a forked child (``sparql_worker``: killed at its time limit);
``query`` runs in-process under a lock shared with the bus consumer (a query never sees a
half-applied batch). What a query may ask and its time limit are ``sparql``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from basyx.aas import model
from rdflib import BNode, Graph, URIRef
from rdflib.term import Node

from twinbridge.aas import paths
from twinbridge.aas.bus import ChangeBatch, Follower
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.submodels.hierarchy import PlantHierarchy, changes_tree
from twinbridge.submodels.rdf_mapping import (
    PROPERTY_VALUE,
    SUBMODEL_ELEMENTS,
    TB,
    Emitter,
    Terms,
    Triple,
    child_link,
    iri,
    typed_literal,
    value_predicates,
)
from twinbridge.submodels.sparql import DeadlineGraph, evaluate, new_graph, prepare, turtle

log = logging.getLogger(__name__)

SemanticMode = Literal["lazy", "eager", "off"]
"""When the graph is built: on first SPARQL/Turtle use, right after start, or never."""

_SLICE_S = 0.05


class SemanticGraph:
    """The live RDF view of ``twin`` and ``hierarchy``, built when it is first used.

    A plain start does not build it: ``query``/``turtle``/``graph`` build it on first use
    (``ensure_built`` in the event loop builds in slices of ~50 ms, so REST keeps answering
    meanwhile; a worker thread asks the loop to do it), or ``eager=True`` builds it in the
    background right after ``start``. It follows the bus only once built: an unbuilt graph
    costs no memory and no time per value change. Once built, a value event replaces only
    that element's value triples and an element's structure event re-maps only its subtree.
    """

    def __init__(self, twin: Twin, hierarchy: PlantHierarchy, *, eager: bool = False) -> None:
        self._twin = twin
        self._hierarchy = hierarchy
        self._eager = eager
        self._graph: DeadlineGraph | None = None
        self._terms = Terms()
        self._tree_triples: list[Triple] = []
        self._value_nodes: dict[int, URIRef] = {}
        self._lock = threading.Lock()
        self._follower = Follower(twin.bus, self._on_batch, "semantic graph")
        self._following = False
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._building: asyncio.Task[None] | None = None
        self.builds = 0
        """How many times the whole graph was emitted (once, on first use; tests check laziness)."""

    # ---------------------------------------------------------------- building
    @property
    def built(self) -> bool:
        return self._graph is not None

    @property
    def graph(self) -> Graph:
        """The rdflib graph, built first if needed. Read it only under the bus's event loop."""
        self._ensure_built_sync()
        assert self._graph is not None
        return self._graph

    def build(self) -> None:
        """Build now, in this thread, in one go (tools and tests that own the twin)."""
        if self._graph is not None:
            return
        started = time.perf_counter()
        self._install(self._emit_graph(), started)

    def _emit_graph(self) -> DeadlineGraph:
        with collector_paused():
            self._terms = Terms()
            graph = new_graph()
            add = graph.store.add
            for triples in self._emissions():
                for triple in triples:
                    add(triple, graph)
        return graph

    async def ensure_built(self) -> None:
        """Build inside the event loop, yielding every ~50 ms; concurrent callers share one build."""
        if self._graph is not None:
            return
        if self._building is None:
            self._building = asyncio.ensure_future(self._build_in_slices())
        await asyncio.shield(self._building)

    async def _build_in_slices(self) -> None:
        try:
            if self._running:
                self._follower.subscribe()  # changes made while we build are applied after it
            started = time.perf_counter()
            self._terms = Terms()
            graph = new_graph()
            add = graph.store.add
            slice_end = time.perf_counter() + _SLICE_S
            with collector_paused():
                for triples in self._emissions():
                    for triple in triples:
                        add(triple, graph)
                    if time.perf_counter() > slice_end:
                        await asyncio.sleep(0)
                        slice_end = time.perf_counter() + _SLICE_S
            self._install(graph, started)
        finally:
            self._building = None

    def _install(self, graph: DeadlineGraph, started: float) -> None:
        if self._graph is not None:  # a concurrent build finished first
            return
        with self._lock:
            self._graph = graph
        self.builds += 1
        log.info("semantic graph built: %d triples in %.1f s", len(graph), time.perf_counter() - started)
        if self._running:
            self._follow()

    def _ensure_built_sync(self) -> None:
        if self._graph is not None:
            return
        loop = self._loop
        if loop is not None and loop.is_running() and not _runs_on(loop):
            asyncio.run_coroutine_threadsafe(self.ensure_built(), loop).result()
        else:
            self.build()

    def emit_all(self) -> list[Triple]:
        """Every triple of the twin and the tree (what a build adds)."""
        return [triple for triples in self._emissions() for triple in triples]

    def _emissions(self) -> Iterator[list[Triple]]:
        for kind in (ObjectKind.CONCEPT_DESCRIPTION, ObjectKind.SUBMODEL, ObjectKind.SHELL):
            for obj in list(self._table(kind).values()):
                yield self._emit(kind, obj)
        yield self._tree()

    def _table(self, kind: ObjectKind) -> Mapping[str, Any]:
        twin = self._twin
        if kind is ObjectKind.SHELL:
            return twin.shells
        return twin.submodels if kind is ObjectKind.SUBMODEL else twin.concept_descriptions

    def _emit(self, kind: ObjectKind, obj: Any) -> list[Triple]:
        emitter = Emitter(self._terms)
        if kind is ObjectKind.SHELL:
            level = self._hierarchy.level(obj.id) if obj.id in self._hierarchy else None
            emitter.shell(obj, level or obj.asset_information.asset_type)
        elif kind is ObjectKind.SUBMODEL:
            emitter.submodel(obj)
        else:
            emitter.concept(obj)
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
        self._loop = asyncio.get_running_loop()
        self._running = True
        if self._graph is not None:
            self._follow()
        elif self._eager and self._building is None:
            self._building = asyncio.ensure_future(self._build_in_slices())

    async def stop(self) -> None:
        self._running = False
        building = self._building
        if building is not None:
            building.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await building
        await self._follower.stop()
        self._following = False

    def _follow(self) -> None:
        if self._following:
            return
        self._following = True
        self._follower.subscribe()
        loop = self._loop
        if loop is not None and not _runs_on(loop):  # built by a caller outside the loop (a sync test)
            loop.call_soon_threadsafe(self._follower.start)
        else:
            self._follower.start()

    async def _on_batch(self, batch: ChangeBatch) -> None:
        while not self._lock.acquire(blocking=False):  # a query is running in a worker thread
            await asyncio.sleep(0.005)
        try:
            self.apply(batch)
        finally:
            self._lock.release()

    def apply(self, batch: ChangeBatch) -> None:
        """Apply one bus batch; the caller holds the lock (or owns the graph exclusively)."""
        graph = self._graph
        if graph is None:  # not built: the build will read the current state
            return
        if batch.overflowed:  # structure events were lost: only the twin itself can tell what changed
            log.warning("the semantic graph missed structure changes (its queue was full): rebuilding it")
            self._graph = self._emit_graph()
            self.builds += 1
            return
        tree_changed = False
        for change in batch.structure:
            if change.object_kind is ObjectKind.SUBMODEL and change.path is not None:
                self._remap_element(graph, change.identifier, change.path)
            else:
                self._forget(graph, iri(change.identifier), (f"{iri(change.identifier)}#",))
                obj = self._table(change.object_kind).get(change.identifier)
                if obj is not None:
                    self._add(graph, self._emit(change.object_kind, obj))
            tree_changed = tree_changed or changes_tree(self._twin, change)
        if tree_changed:
            self._reload_tree(graph)
        for event in batch.values:
            self._apply_value(graph, event.element, event.value)

    def _apply_value(self, graph: Graph, handle: LiveElement, value: Any) -> None:
        element = handle.element
        if element is None:
            return
        node = self._value_nodes.get(handle.key)
        if node is None:
            node = self._value_nodes[handle.key] = URIRef(f"{iri(handle.submodel_id)}#{handle.path}")
        if isinstance(element, model.Property):  # the hot path: one triple
            if value is None:
                graph.remove((node, PROPERTY_VALUE, None))
            else:
                graph.set((node, PROPERTY_VALUE, typed_literal(value, element.value_type)))
            return
        if child_link(element) is not None:  # a container's value is its children's
            self._remap_element(graph, handle.submodel_id, handle.path)
            return
        for predicate in value_predicates(element):
            for old in list(graph.objects(node, predicate)):
                graph.remove((node, predicate, old))
                if isinstance(old, BNode):
                    graph.remove((old, None, None))
        emitter = Emitter(self._terms)
        emitter.value(node, element)
        self._add(graph, emitter.triples)

    def _remap_element(self, graph: Graph, submodel_id: str, path: str) -> None:
        """Forget the element subtree at ``path`` and emit it again from the twin (if it still exists).

        Inside a SubmodelElementList an insertion or removal renumbers the following items, so
        a path with an index is re-mapped from the outermost list on it.
        """
        cut = path.find("[")
        if cut > 0:
            path = path[:cut]
        base = iri(submodel_id)
        node = URIRef(f"{base}#{path}")
        self._forget(graph, node, (f"{node}.", f"{node}["))
        graph.remove((None, None, node))
        submodel = self._twin.submodels.get(submodel_id)
        if submodel is None:
            return
        parent_path = path.rpartition(".")[0]
        try:
            element = paths.resolve(submodel, path)
            parent = paths.resolve(submodel, parent_path) if parent_path else None
        except paths.PathError:
            return  # deleted
        link = SUBMODEL_ELEMENTS if parent is None else child_link(parent)
        if link is None:
            return
        emitter = Emitter(self._terms)
        emitter.element(f"{base}#", element, path)
        emitter.triples.append((URIRef(f"{base}#{parent_path}") if parent_path else base, link, node))
        self._add(graph, emitter.triples)

    @staticmethod
    def _forget(graph: Graph, root: Node, below: tuple[str, ...]) -> None:
        """Remove ``root``'s triples and those of everything it owns: blank nodes hanging from it
        and element nodes whose IRI starts with one of ``below`` (shared reference nodes stay)."""
        owned = [root]
        stack = [root]
        while stack:
            for found in graph.objects(stack.pop(), None):
                if isinstance(found, BNode) or (isinstance(found, URIRef) and str.startswith(found, below)):
                    owned.append(found)
                    stack.append(found)
        for node in owned:
            graph.remove((node, None, None))

    @staticmethod
    def _add(graph: Graph, triples: list[Triple]) -> None:
        add = graph.store.add
        for triple in triples:
            add(triple, graph)

    def _reload_tree(self, graph: Graph) -> None:
        if not self._hierarchy.refresh(self._twin):
            return
        for triple in self._tree_triples:
            graph.remove(triple)
        self._add(graph, self._tree())

    # ---------------------------------------------------------------- output
    def turtle(self) -> bytes:
        """The graph as Turtle (``sparql.turtle``: one triple a line, ~60 times rdflib's pretty writer)."""
        self._ensure_built_sync()
        with self._lock:
            assert self._graph is not None
            return turtle(self._graph)

    def query(self, sparql: str, timeout_s: float = 5.0) -> tuple[str, bytes]:
        """(content type, body): SPARQL JSON results for SELECT/ASK, Turtle for CONSTRUCT/DESCRIBE.

        In this process, under the lock (tools and tests); the HTTP endpoint runs queries in a
        forked child instead (``sparql_worker``), where the time limit also stops a regex.
        """
        deadline = time.monotonic() + timeout_s
        prepared = prepare(sparql)
        self._ensure_built_sync()
        with self._lock:
            assert self._graph is not None
            return evaluate(self._graph, prepared, deadline)

    def evaluate_unlocked(self, sparql: str, deadline: float) -> tuple[str, bytes]:
        """``query`` for a forked child, which owns its copy of the (built) graph: no lock."""
        assert self._graph is not None
        return evaluate(self._graph, prepare(sparql), deadline)

def _runs_on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
