"""The AAS RDF mapping (ontology ``https://admin-shell.io/aas/3/0/``): identifiables → triples.

Nodes are IRIs derived from the AAS ids (element nodes are ``<submodel id>#<idShortPath>``),
so an element's triples can be found and replaced without a search. References are value
nodes shared by content (a plant repeats the same semanticIds thousands of times); Reference,
Key and language-string nodes carry no ``rdf:type`` (their class follows from the
predicate's range in the ontology), which keeps a big plant's graph about a fifth smaller.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import quote

from basyx.aas import model
from rdflib import RDF, XSD, BNode, Literal, Namespace, URIRef
from rdflib.term import Node

from twinbridge.aas import paths

Triple = tuple[Node, Node, Node]

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


def typed_literal(value: Any, value_type: type) -> Literal:
    """A Property/Range value typed by its valueType (``"24.8"^^xsd:double``), so SPARQL compares
    numbers as numbers; strings stay plain literals."""
    text = model.datatypes.xsd_repr(value)
    if value_type is str:
        return Literal(text)
    return Literal(text, datatype=XSD[_XSD_NAMES.get(value_type, "xs:string")[3:]])


class Terms:
    """Shared literal and reference nodes, reused across every emitted identifiable."""

    def __init__(self) -> None:
        self._literals: dict[str, Literal] = {}
        self._typed: dict[tuple[str, type], Literal] = {}
        self._references: dict[tuple[Any, ...], URIRef] = {}

    def literal(self, text: str) -> Literal:
        found = self._literals.get(text)
        if found is None:
            found = self._literals[text] = Literal(text)
        return found

    def value(self, value: Any, value_type: type) -> Literal:
        """``typed_literal``, interned: for a model's first emission, where values repeat."""
        text = model.datatypes.xsd_repr(value)
        if value_type is str:
            return self.literal(text)
        key = (text, value_type)
        found = self._typed.get(key)
        if found is None:
            found = self._typed[key] = typed_literal(value, value_type)
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


@functools.cache
def _p(name: str) -> URIRef:
    return URIRef(f"{AAS}{name}")


_TYPE = RDF.type
_ID, _ID_SHORT, _SEMANTIC = _p("Identifiable/id"), _p("Referable/idShort"), _p("HasSemantics/semanticId")
PROPERTY_VALUE, _VALUE_TYPE = _p("Property/value"), _p("Property/valueType")
SUBMODEL_ELEMENTS = _p("Submodel/submodelElements")
_CHILDREN: dict[type, URIRef] = {
    model.SubmodelElementCollection: _p("SubmodelElementCollection/value"),
    model.SubmodelElementList: _p("SubmodelElementList/value"),
    model.Entity: _p("Entity/statements"),
    model.AnnotatedRelationshipElement: _p("AnnotatedRelationshipElement/annotations"),
}
_VALUE_PREDICATES: tuple[tuple[type, tuple[URIRef, ...]], ...] = (
    (model.Property, (PROPERTY_VALUE,)),
    (model.MultiLanguageProperty, (_p("MultiLanguageProperty/value"),)),
    (model.Range, (_p("Range/min"), _p("Range/max"))),
    (model.File, (_p("File/contentType"), _p("File/value"))),
    (model.Blob, (_p("Blob/contentType"),)),
    (model.ReferenceElement, (_p("ReferenceElement/value"),)),
    (model.RelationshipElement, (_p("RelationshipElement/first"), _p("RelationshipElement/second"))),
    (model.Entity, (_p("Entity/entityType"), _p("Entity/globalAssetId"))),
)


def value_predicates(element: model.SubmodelElement) -> tuple[URIRef, ...]:
    """The predicates ``Emitter.value`` writes for this kind of element (empty: it has no value triples)."""
    return _value_predicates(type(element))


@functools.cache
def _value_predicates(cls: type) -> tuple[URIRef, ...]:
    return next((predicates for kind, predicates in _VALUE_PREDICATES if issubclass(cls, kind)), ())


def child_link(element: model.SubmodelElement) -> URIRef | None:
    """The predicate from a container element to its children (None: it has none)."""
    return _child_link(type(element))


@functools.cache
def _child_link(cls: type) -> URIRef | None:
    return next((link for kind, link in _CHILDREN.items() if issubclass(cls, kind)), None)


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
def _xsd_node(xsd_name: str) -> URIRef:
    name = xsd_name[3:]
    return _enum_node("DataTypeDefXsd", name[:1].upper() + name[1:])


def iri(identifier: str) -> URIRef:
    """The node of an identifiable: its id when that is an IRI, else a urn made from it."""
    return URIRef(identifier if _IRI.match(identifier) else f"urn:twinbridge:id:{quote(identifier, safe='')}")


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.lower().split("_"))


class Emitter:
    """Builds the triples of one identifiable (or of one element subtree, or of one element's value).

    What an identifiable owns is found again in the graph rather than remembered here (see
    ``SemanticGraph``): its own node, the element nodes ``<node>#path`` below it and the blank
    nodes hanging from those; remembering every subject cost 8 bytes a node plus a list per object.
    """

    def __init__(self, owner: Terms) -> None:
        self.owner = owner
        self.triples: list[tuple[Node, Node, Node]] = []

    def lit(self, text: str) -> Literal:
        return self.owner.literal(text)

    def referable(self, node: Node, obj: model.Referable, type_node: URIRef) -> None:
        add = self.triples.append
        add((node, _TYPE, type_node))
        if obj.id_short:
            add((node, _ID_SHORT, self.lit(obj.id_short)))
        if isinstance(obj, model.HasSemantics) and obj.semantic_id is not None:
            add((node, _SEMANTIC, self.owner.reference(obj.semantic_id, self.triples)))

    def identifiable(self, obj: model.Identifiable, type_name: str) -> URIRef:
        node = iri(obj.id)
        self.referable(node, obj, _p(type_name))
        self.triples.append((node, _ID, self.lit(obj.id)))
        return node

    def shell(self, shell: model.AssetAdministrationShell, level: str | None) -> None:
        add = self.triples.append
        node = self.identifiable(shell, "AssetAdministrationShell")
        info = shell.asset_information
        info_node = BNode()
        add((node, _p("AssetAdministrationShell/assetInformation"), info_node))
        add((info_node, _TYPE, _p("AssetInformation")))
        add((info_node, _p("AssetInformation/assetKind"), _enum_node("AssetKind", _camel(info.asset_kind.name))))
        if info.global_asset_id:
            add((info_node, _p("AssetInformation/globalAssetId"), self.lit(info.global_asset_id)))
        if info.asset_type:
            add((info_node, _p("AssetInformation/assetType"), self.lit(info.asset_type)))
        for specific in info.specific_asset_id:
            specific_node = BNode()
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
        link = SUBMODEL_ELEMENTS
        for element in sm.submodel_element:
            child = self.element(prefix, element, element.id_short or "")
            self.triples.append((node, link, child))

    def element(self, prefix: str, element: model.SubmodelElement, path: str) -> URIRef:
        """The subtree of ``element`` at ``path``; ``prefix`` is the submodel's node followed by ``#``."""
        add = self.triples.append
        node = URIRef(prefix + path)
        self.referable(node, element, _type_node(type(element)))
        if isinstance(element, model.Property):
            add((node, _VALUE_TYPE, _xsd_node(_XSD_NAMES.get(element.value_type, "xs:string"))))
        self.value(node, element, shared=True)
        link = child_link(element)
        if link is not None:
            in_list = isinstance(element, model.SubmodelElementList)
            for index, child in enumerate(paths.children(element)):
                child_path = f"{path}[{index}]" if in_list else f"{path}.{child.id_short}"
                add((node, link, self.element(prefix, child, child_path)))
        return node

    def value(self, node: URIRef, element: model.SubmodelElement, shared: bool = False) -> None:
        """The triples that a value write of ``element`` replaces (predicates: ``value_predicates``).

        ``shared`` interns the literals: right for a model's first emission (idShorts, units and
        initial values repeat thousands of times), wrong for a stream of live values, which would
        then stay in the intern table after the graph dropped them.
        """
        add = self.triples.append
        lit = self.lit if shared else Literal
        typed = self.owner.value if shared else typed_literal
        if isinstance(element, model.Property):
            if element.value is not None:
                add((node, PROPERTY_VALUE, typed(element.value, element.value_type)))
        elif isinstance(element, model.MultiLanguageProperty):
            self.lang_strings(node, _p("MultiLanguageProperty/value"), element.value)
        elif isinstance(element, model.Range):
            for bound in ("min", "max"):
                value = getattr(element, bound)
                if value is not None:
                    add((node, _p(f"Range/{bound}"), typed(value, element.value_type)))
        elif isinstance(element, model.File | model.Blob):
            kind = type(element).__name__
            if element.content_type:
                add((node, _p(f"{kind}/contentType"), self.lit(element.content_type)))
            if isinstance(element, model.File) and element.value:
                add((node, _p("File/value"), lit(element.value)))
        elif isinstance(element, model.ReferenceElement):
            if element.value is not None:
                add((node, _p("ReferenceElement/value"), self.owner.reference(element.value, self.triples)))
        elif isinstance(element, model.RelationshipElement):
            for end in ("first", "second"):
                ref = getattr(element, end)
                if ref is not None:
                    add((node, _p(f"RelationshipElement/{end}"), self.owner.reference(ref, self.triples)))
        elif isinstance(element, model.Entity):
            if element.entity_type is not None:
                add((node, _p("Entity/entityType"), _enum_node("EntityType", _camel(element.entity_type.name))))
            if element.global_asset_id:
                add((node, _p("Entity/globalAssetId"), lit(element.global_asset_id)))

    def lang_strings(self, node: Node, predicate: URIRef, strings: Any) -> None:
        if not strings:
            return
        add = self.triples.append
        for language, text in strings.items():
            string_node = BNode()
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
            spec_node, content_node = BNode(), BNode()
            add((node, _p("HasDataSpecification/embeddedDataSpecifications"), spec_node))
            add((spec_node, _p("EmbeddedDataSpecification/dataSpecificationContent"), content_node))
            add((content_node, _TYPE, _p("DataSpecificationIec61360")))
            if content.unit:
                add((content_node, _p("DataSpecificationIec61360/unit"), self.lit(content.unit)))
            self.lang_strings(content_node, _p("DataSpecificationIec61360/preferredName"), content.preferred_name)
