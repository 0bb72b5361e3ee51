"""The environment as an RDF graph (AAS RDF ontology, ``https://admin-shell.io/aas/3/0/``) plus the plant tree.

Nodes are IRIs derived from the AAS ids (element nodes are ``<submodel id>#<idShortPath>``),
so an element's triples can be found and replaced without a search. The graph follows the
twin through the change bus: a value event replaces exactly one triple, a structure event
re-emits only the identifiable it names. References are value nodes shared by content
(a plant repeats the same semanticIds thousands of times).

Besides the ontology's predicates the graph carries four shortcuts under ``tb:``
(``https://twinbridge.io/ns#``): ``tb:hasPart`` / ``tb:isPartOf`` between shells,
``tb:level`` (plant, line, cell, machine, component) and ``tb:hasSubmodel`` from a shell to
its submodel nodes. Reference, Key and language-string nodes carry no ``rdf:type`` (their
class follows from the predicate's range in the ontology), which keeps a big plant's graph
about a fifth smaller. Queries get prefixes for the ontology's classes (``Referable:idShort``,
``Property:value``, ...) because ``aas:Referable/idShort`` is not a valid SPARQL prefixed name.

SPARQL runs under a lock shared with the bus consumer (a query never sees a half-applied
batch) and against a deadline checked inside the graph's triple lookups, at every lookup
and every 1024 triples: a query past its time limit stops with ``QueryTimeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from basyx.aas import model
from pyparsing import ParseException
from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.plugins.sparql import algebra, prepareQuery
from rdflib.plugins.sparql.parser import parseUpdate
from rdflib.term import Node

from aas import paths
from aas.bus import ChangeBatch, Subscription
from aas.errors import InvalidInput, TwinError
from aas.events import ChangeKind, ObjectKind
from aas.live import LiveElement
from aas.twin import Twin
from submodels import query_plan
from submodels.hierarchy import HierarchyError, PlantHierarchy
from submodels.templates import hierarchy_bom

log = logging.getLogger(__name__)

AAS = Namespace("https://admin-shell.io/aas/3/0/")
TB = Namespace("https://twinbridge.io/ns#")
_CLASS_PREFIXES = (
    "Referable", "Identifiable", "HasSemantics", "Reference", "Key", "AssetAdministrationShell", "AssetInformation",
    "SpecificAssetId", "Submodel", "SubmodelElementCollection", "SubmodelElementList", "Property",
    "MultiLanguageProperty", "AbstractLangString", "Entity", "RelationshipElement", "ReferenceElement", "File",
    "Blob", "Range", "HasDataSpecification", "EmbeddedDataSpecification", "DataSpecificationIec61360",
)
PREFIXES: dict[str, Namespace] = {
    "aas": AAS, "tb": TB, "rdf": Namespace(str(RDF)), "xsd": Namespace(str(XSD)),
    **{name: Namespace(f"{AAS}{name}/") for name in _CLASS_PREFIXES},
}
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
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


@functools.cache
def _p(name: str) -> URIRef:
    return URIRef(f"{AAS}{name}")


_TYPE = RDF.type
_ID, _ID_SHORT, _SEMANTIC = _p("Identifiable/id"), _p("Referable/idShort"), _p("HasSemantics/semanticId")
_PROPERTY_VALUE, _VALUE_TYPE = _p("Property/value"), _p("Property/valueType")
_CHILDREN: dict[type, URIRef] = {
    model.SubmodelElementCollection: _p("SubmodelElementCollection/value"),
    model.SubmodelElementList: _p("SubmodelElementList/value"),
    model.Entity: _p("Entity/statements"),
    model.AnnotatedRelationshipElement: _p("AnnotatedRelationshipElement/annotations"),
}
_CLASSES = (
    model.AnnotatedRelationshipElement, model.RelationshipElement, model.Property, model.MultiLanguageProperty,
    model.Range, model.File, model.Blob, model.ReferenceElement, model.SubmodelElementCollection,
    model.SubmodelElementList, model.Entity, model.Operation, model.Capability, model.BasicEventElement,
)
_XSD_NAMES = model.datatypes.XSD_TYPE_NAMES


@functools.cache
def _type_node(cls: type) -> URIRef:
    for candidate in _CLASSES:
        if issubclass(cls, candidate):
            return URIRef(f"{AAS}{candidate.__name__}")
    return URIRef(f"{AAS}{cls.__name__}")


@functools.cache
def _enum_node(enum_name: str, member: str) -> URIRef:
    return URIRef(f"{AAS}{enum_name}/{member}")


@functools.cache
def _xsd_node(value_type: type) -> URIRef:
    name = _XSD_NAMES.get(value_type, "xs:string")[3:]
    return _enum_node("DataTypeDefXsd", name[:1].upper() + name[1:])


def iri(identifier: str) -> URIRef:
    """The node of an identifiable: its id when that is an IRI, else a urn made from it."""
    return URIRef(identifier if _IRI.match(identifier) else f"urn:twinbridge:id:{quote(identifier, safe='')}")


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.lower().split("_"))


class _Emitter:
    """Builds the triples of one identifiable; remembers the subjects it owns (for removal)."""

    def __init__(self, owner: SemanticGraph) -> None:
        self.owner = owner
        self.triples: list[tuple[Node, Node, Node]] = []
        self.subjects: list[Node] = []

    def lit(self, text: str) -> Literal:
        return self.owner.literal(text)

    def subject(self, node: Node) -> Node:
        self.subjects.append(node)
        return node

    def referable(self, node: Node, obj: model.Referable, type_node: URIRef) -> None:
        add = self.triples.append
        add((node, _TYPE, type_node))
        if obj.id_short:
            add((node, _ID_SHORT, self.lit(obj.id_short)))
        if isinstance(obj, model.HasSemantics) and obj.semantic_id is not None:
            add((node, _SEMANTIC, self.owner.reference(obj.semantic_id, self.triples)))

    def identifiable(self, obj: model.Identifiable, type_name: str) -> URIRef:
        node = iri(obj.id)
        self.subject(node)
        self.referable(node, obj, _p(type_name))
        self.triples.append((node, _ID, self.lit(obj.id)))
        return node

    def shell(self, shell: model.AssetAdministrationShell, level: str | None) -> None:
        add = self.triples.append
        node = self.identifiable(shell, "AssetAdministrationShell")
        info = shell.asset_information
        info_node = self.subject(BNode())
        add((node, _p("AssetAdministrationShell/assetInformation"), info_node))
        add((info_node, _TYPE, _p("AssetInformation")))
        add((info_node, _p("AssetInformation/assetKind"), _enum_node("AssetKind", _camel(info.asset_kind.name))))
        if info.global_asset_id:
            add((info_node, _p("AssetInformation/globalAssetId"), self.lit(info.global_asset_id)))
        if info.asset_type:
            add((info_node, _p("AssetInformation/assetType"), self.lit(info.asset_type)))
        for specific in info.specific_asset_id:
            specific_node = self.subject(BNode())
            add((info_node, _p("AssetInformation/specificAssetIds"), specific_node))
            add((specific_node, _TYPE, _p("SpecificAssetId")))
            add((specific_node, _p("SpecificAssetId/name"), self.lit(specific.name)))
            add((specific_node, _p("SpecificAssetId/value"), self.lit(specific.value)))
        for ref in shell.submodel:
            add((node, _p("AssetAdministrationShell/submodels"), self.owner.reference(ref, self.triples)))
            add((node, TB.hasSubmodel, iri(ref.key[0].value)))
        if level:
            add((node, TB.level, self.lit(level)))

    def submodel(self, sm: model.Submodel) -> None:
        node = self.identifiable(sm, "Submodel")
        prefix = f"{node}#"
        link = _p("Submodel/submodelElements")
        for element in sm.submodel_element:
            child = self.element(prefix, element, element.id_short or "")
            self.triples.append((node, link, child))

    def element(self, prefix: str, element: model.SubmodelElement, path: str) -> URIRef:
        add = self.triples.append
        node = URIRef(prefix + path)
        self.subject(node)
        self.referable(node, element, _type_node(type(element)))
        if isinstance(element, model.Property):
            add((node, _VALUE_TYPE, _xsd_node(element.value_type)))
            if element.value is not None:
                add((node, _PROPERTY_VALUE, self.lit(model.datatypes.xsd_repr(element.value))))
        elif isinstance(element, model.MultiLanguageProperty):
            self.lang_strings(node, _p("MultiLanguageProperty/value"), element.value)
        elif isinstance(element, model.Range):
            for bound in ("min", "max"):
                value = getattr(element, bound)
                if value is not None:
                    add((node, _p(f"Range/{bound}"), self.lit(model.datatypes.xsd_repr(value))))
        elif isinstance(element, model.File | model.Blob):
            kind = type(element).__name__
            if element.content_type:
                add((node, _p(f"{kind}/contentType"), self.lit(element.content_type)))
            if isinstance(element, model.File) and element.value:
                add((node, _p("File/value"), self.lit(element.value)))
        elif isinstance(element, model.ReferenceElement) and element.value is not None:
            add((node, _p("ReferenceElement/value"), self.owner.reference(element.value, self.triples)))
        elif isinstance(element, model.RelationshipElement):
            for end in ("first", "second"):
                ref = getattr(element, end)
                if ref is not None:
                    add((node, _p(f"RelationshipElement/{end}"), self.owner.reference(ref, self.triples)))
        if isinstance(element, model.Entity):
            if element.entity_type is not None:
                add((node, _p("Entity/entityType"), _enum_node("EntityType", _camel(element.entity_type.name))))
            if element.global_asset_id:
                add((node, _p("Entity/globalAssetId"), self.lit(element.global_asset_id)))
        link = next((p for cls, p in _CHILDREN.items() if isinstance(element, cls)), None)
        if link is not None:
            in_list = isinstance(element, model.SubmodelElementList)
            for index, child in enumerate(paths.children(element)):
                child_path = f"{path}[{index}]" if in_list else f"{path}.{child.id_short}"
                add((node, link, self.element(prefix, child, child_path)))
        return node

    def lang_strings(self, node: Node, predicate: URIRef, strings: Any) -> None:
        if not strings:
            return
        add = self.triples.append
        for language, text in strings.items():
            string_node = self.subject(BNode())
            add((node, predicate, string_node))
            add((string_node, _p("AbstractLangString/language"), self.lit(language)))
            add((string_node, _p("AbstractLangString/text"), self.lit(text)))

    def concept(self, cd: model.ConceptDescription) -> None:
        add = self.triples.append
        node = self.identifiable(cd, "ConceptDescription")
        for spec in cd.embedded_data_specifications:
            content = spec.data_specification_content
            if not isinstance(content, model.DataSpecificationIEC61360):
                continue
            spec_node, content_node = self.subject(BNode()), self.subject(BNode())
            add((node, _p("HasDataSpecification/embeddedDataSpecifications"), spec_node))
            add((spec_node, _p("EmbeddedDataSpecification/dataSpecificationContent"), content_node))
            add((content_node, _TYPE, _p("DataSpecificationIec61360")))
            if content.unit:
                add((content_node, _p("DataSpecificationIec61360/unit"), self.lit(content.unit)))
            self.lang_strings(content_node, _p("DataSpecificationIec61360/preferredName"), content.preferred_name)


class SemanticGraph:
    """The live RDF view of ``twin`` and ``hierarchy``. ``await start()`` to follow the bus."""

    def __init__(self, twin: Twin, hierarchy: PlantHierarchy) -> None:
        self._twin = twin
        self._hierarchy = hierarchy
        self.graph = _new_graph()
        self._owned: dict[tuple[ObjectKind, str], list[Node]] = {}
        self._tree_triples: list[tuple[Node, Node, Node]] = []
        self._literals: dict[str, Literal] = {}
        self._references: dict[tuple[Any, ...], URIRef] = {}
        self._value_nodes: dict[int, URIRef] = {}
        self._lock = threading.Lock()
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.rebuild()

    # ---------------------------------------------------------------- building
    def literal(self, text: str) -> Literal:
        found = self._literals.get(text)
        if found is None:
            found = self._literals[text] = Literal(text)
        return found

    def reference(self, ref: model.Reference, sink: list[tuple[Node, Node, Node]]) -> URIRef:
        """A shared node for a reference value; its triples are emitted into ``sink`` the first time."""
        key = (type(ref).__name__, *((k.type.name, k.value) for k in ref.key))
        node = self._references.get(key)
        if node is not None:
            return node
        node = self._references[key] = URIRef(f"urn:twinbridge:ref:{len(self._references)}")
        external = isinstance(ref, model.ExternalReference)
        sink.append((node, _p("Reference/type"),
                     _enum_node("ReferenceTypes", "ExternalReference" if external else "ModelReference")))
        for index, k in enumerate(ref.key):
            key_node = URIRef(f"{node}/key{index}")
            sink.append((node, _p("Reference/keys"), key_node))
            sink.append((key_node, _p("Key/type"), _enum_node("KeyTypes", _camel(k.type.name))))
            sink.append((key_node, _p("Key/value"), self.literal(k.value)))
        return node

    def rebuild(self) -> None:
        """Emit everything from scratch (start-up; a change of the plant tree re-emits only the tree)."""
        with self._lock:
            self.graph = _new_graph()
            self._owned.clear()
            self._value_nodes.clear()
            self._references.clear()
            triples: list[tuple[Node, Node, Node]] = []
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

    def _emit(self, kind: ObjectKind, obj: Any) -> list[tuple[Node, Node, Node]]:
        emitter = _Emitter(self)
        if kind is ObjectKind.SHELL:
            level = self._hierarchy.level(obj.id) if obj.id in self._hierarchy else None
            emitter.shell(obj, level or obj.asset_information.asset_type)
        elif kind is ObjectKind.SUBMODEL:
            emitter.submodel(obj)
        else:
            emitter.concept(obj)
        self._owned[(kind, obj.id)] = emitter.subjects
        return emitter.triples

    def _tree(self) -> list[tuple[Node, Node, Node]]:
        hierarchy = self._hierarchy
        triples: list[tuple[Node, Node, Node]] = []
        for shell_id in hierarchy.shells():
            parent = hierarchy.parent(shell_id)
            if parent is not None:
                triples.append((iri(parent), TB.hasPart, iri(shell_id)))
                triples.append((iri(shell_id), TB.isPartOf, iri(parent)))
        self._tree_triples = triples
        return triples

    # ------------------------------------------------------------- following
    async def start(self) -> None:
        self._subscription = self._twin.bus.subscribe()
        self._task = asyncio.create_task(self._run(), name="semantic-graph")

    async def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = self._subscription = None

    async def _run(self) -> None:
        assert self._subscription is not None
        async for batch in self._subscription:
            while not self._lock.acquire(blocking=False):  # a query is running in a worker thread
                await asyncio.sleep(0.005)
            try:
                self.apply(batch)
            except Exception:  # keep following; the next structure event re-emits the object
                log.exception("the semantic graph could not apply a change batch")
            finally:
                self._lock.release()

    def apply(self, batch: ChangeBatch) -> None:
        """Apply one bus batch; the caller holds the lock (or owns the graph exclusively)."""
        tree_changed = False
        for change in batch.structure:
            self._forget(change.object_kind, change.identifier)
            if change.kind is not ChangeKind.DELETED:
                obj = self._twin.get(change.object_kind, change.identifier)
                self._add(self._emit(change.object_kind, obj))
                if change.object_kind is ObjectKind.SUBMODEL and _is_bom(obj):
                    tree_changed = True
            if change.object_kind is ObjectKind.SHELL or change.object_kind is ObjectKind.SUBMODEL:
                self._value_nodes.clear()
            if change.object_kind is ObjectKind.SHELL and change.kind in (ChangeKind.CREATED, ChangeKind.DELETED):
                tree_changed = True
        if tree_changed:
            self._reload_tree()
        graph = self.graph
        for event in batch.values:
            node = self._value_node(event.element)
            if node is None:
                continue
            if event.value is None:
                graph.remove((node, _PROPERTY_VALUE, None))
            else:
                graph.set((node, _PROPERTY_VALUE, self.literal(model.datatypes.xsd_repr(event.value))))

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

    def _add(self, triples: list[tuple[Node, Node, Node]]) -> None:
        add = self.graph.store.add
        for triple in triples:
            add(triple, self.graph)

    def _reload_tree(self) -> None:
        try:
            self._hierarchy.reload(PlantHierarchy.from_twin(self._twin))
        except HierarchyError as error:
            log.warning("the plant hierarchy was not changed: %s", error)
            return
        for triple in self._tree_triples:
            self.graph.remove(triple)
        self._add(self._tree())

    # ---------------------------------------------------------------- output
    def turtle(self) -> bytes:
        with self._lock:
            return self.graph.serialize(format="turtle").encode()

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
                    body = result.graph.serialize(format="turtle").encode()
                    content_type = "text/turtle"
            except RecursionError:
                raise QueryTimeout("the SPARQL query is too deeply nested to evaluate") from None
            finally:
                self.graph.deadline = float("inf")
        assert body is not None
        return content_type, body


def _new_graph() -> _DeadlineGraph:
    graph = _DeadlineGraph(store="SimpleMemory")
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def _is_bom(obj: Any) -> bool:
    ref = obj.semantic_id
    return ref is not None and bool(ref.key) and ref.key[0].value == hierarchy_bom.SUBMODEL


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
