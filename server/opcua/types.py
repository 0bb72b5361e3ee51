"""The OPC 30270 ("OPC UA for AAS") style ObjectTypes, defined in code in the project namespace.

Type names follow OPC 30270 (``AASSubmodelType``, ``AASPropertyType``...); they live in
``NAMESPACE`` rather than the companion spec's namespace because we do not load its NodeSet
and do not claim conformance to every optional part of it. Types are few, so the ordinary
per-node helpers are fine here; only instances are built in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asyncua import Node, Server, ua
from basyx.aas import model

from twinbridge.server.opcua.datatypes import node_id

NAMESPACE = "urn:twinbridge:opcua:aas"
"""The project's namespace for the AAS ObjectTypes and every instance node."""

VT = ua.VariantType

# (type name, parent type name or None for BaseObjectType, abstract, [(child, variant type or None, mandatory)])
# a child with variant type None is a component object of AASReferenceType.
_TYPES: list[tuple[str, str | None, bool, list[tuple[str, ua.VariantType | None, bool]]]] = [
    ("AASReferenceType", None, False, [("Keys", VT.String, True), ("Type", VT.String, True)]),
    ("AASReferableType", None, True, [("IdShort", VT.String, True), ("Category", VT.String, False),
                                      ("SemanticId", VT.String, False)]),
    ("AASIdentifiableType", "AASReferableType", True, [("Id", VT.String, True)]),
    ("AASAssetAdministrationShellType", "AASIdentifiableType", False,
     [("GlobalAssetId", VT.String, False), ("AssetKind", VT.String, False)]),
    ("AASSubmodelType", "AASIdentifiableType", False, [("Kind", VT.String, False)]),
    ("AASSubmodelElementType", "AASReferableType", True, []),
    ("AASPropertyType", "AASSubmodelElementType", False,
     [("Value", VT.Variant, True), ("ValueType", VT.String, True)]),
    ("AASMultiLanguagePropertyType", "AASSubmodelElementType", False, [("Value", VT.LocalizedText, True)]),
    ("AASRangeType", "AASSubmodelElementType", False,
     [("Min", VT.Variant, False), ("Max", VT.Variant, False), ("ValueType", VT.String, True)]),
    ("AASFileType", "AASSubmodelElementType", False,
     [("Value", VT.String, False), ("ContentType", VT.String, True)]),
    ("AASBlobType", "AASSubmodelElementType", False,
     [("Value", VT.ByteString, False), ("ContentType", VT.String, True)]),
    ("AASReferenceElementType", "AASSubmodelElementType", False, [("Value", None, False)]),
    ("AASRelationshipElementType", "AASSubmodelElementType", False, [("First", None, True), ("Second", None, True)]),
    ("AASAnnotatedRelationshipElementType", "AASRelationshipElementType", False, []),
    ("AASSubmodelElementCollectionType", "AASSubmodelElementType", False, []),
    ("AASSubmodelElementListType", "AASSubmodelElementType", False, [("TypeValueListElement", VT.String, True)]),
    ("AASEntityType", "AASSubmodelElementType", False,
     [("EntityType", VT.String, True), ("GlobalAssetId", VT.String, False)]),
    ("AASOperationType", "AASSubmodelElementType", False, []),
    ("AASCapabilityType", "AASSubmodelElementType", False, []),
    ("AASBasicEventElementType", "AASSubmodelElementType", False, []),
]

ELEMENT_TYPES: dict[type, str] = {
    model.Property: "AASPropertyType",
    model.MultiLanguageProperty: "AASMultiLanguagePropertyType",
    model.Range: "AASRangeType",
    model.File: "AASFileType",
    model.Blob: "AASBlobType",
    model.ReferenceElement: "AASReferenceElementType",
    model.AnnotatedRelationshipElement: "AASAnnotatedRelationshipElementType",
    model.RelationshipElement: "AASRelationshipElementType",
    model.SubmodelElementCollection: "AASSubmodelElementCollectionType",
    model.SubmodelElementList: "AASSubmodelElementListType",
    model.Entity: "AASEntityType",
    model.Operation: "AASOperationType",
    model.Capability: "AASCapabilityType",
    model.BasicEventElement: "AASBasicEventElementType",
}


@dataclass
class AasTypes:
    """NodeIds of the defined ObjectTypes by name, plus the namespace index."""

    namespace_index: int
    ids: dict[str, ua.NodeId] = field(default_factory=dict)

    def for_element(self, element: model.SubmodelElement) -> ua.NodeId:
        for cls in type(element).__mro__:
            name = ELEMENT_TYPES.get(cls)
            if name is not None:
                return self.ids[name]
        return self.ids["AASSubmodelElementType"]


async def define_types(server: Server, namespace_index: int) -> AasTypes:
    types = AasTypes(namespace_index)
    base = server.nodes.base_object_type
    nodes: dict[str, Node] = {}
    for name, parent_name, abstract, children in _TYPES:
        parent = nodes[parent_name] if parent_name else base
        node = await parent.add_object_type(node_id(name, namespace_index), ua.QualifiedName(name, namespace_index))
        if abstract:
            await node.write_attribute(ua.AttributeIds.IsAbstract, ua.DataValue(ua.Variant(True, VT.Boolean)))
        for child, variant_type, mandatory in children:
            member_id = node_id(f"{name}.{child}", namespace_index)
            browse_name = ua.QualifiedName(child, namespace_index)
            if variant_type is None:
                created = await node.add_object(member_id, browse_name, objecttype=types.ids["AASReferenceType"])
            elif child in ("Value", "Min", "Max"):
                created = await node.add_variable(member_id, browse_name, ua.Variant(),
                                                  datatype=node_id(variant_type.value))
            else:
                created = await node.add_property(member_id, browse_name, ua.Variant(),
                                                  datatype=node_id(variant_type.value))
            await created.set_modelling_rule(mandatory)
        types.ids[name] = node.nodeid
        nodes[name] = node
    return types
