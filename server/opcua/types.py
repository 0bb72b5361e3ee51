"""OPC 30270 ("OPC UA for AAS", I4AAS 1.00) types in their own namespace, defined in code.

The companion specification's ObjectTypes, interfaces, DataTypes and ReferenceTypes live in
``I4AAS_NAMESPACE`` with the NodeIds the specification gives them (``AASSubmodelType`` is
``i=1006``, ``AASValueTypeDataType`` ``i=3004``...), so a client that knows OPC 30270 finds
its types. They are defined here rather than imported from the published NodeSet because that
file is not shipped with any package we can depend on; only the part the AAS v3 model can fill
is defined (README, "OPC UA", lists what differs and why). Instance declarations (the
``ValueType`` below ``AASPropertyType``...) have string NodeIds: the NodeSet's numeric ones are
not in the specification text. Instances, and the one type AAS v3 adds
(``AASSubmodelElementListType``), live in the project's ``NAMESPACE``.

Types are few, so asyncua's ordinary per-node helpers are fine here (~0.2 s); only instances
are built in bulk.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from asyncua import Node, Server, ua
from asyncua.common.structures104 import new_struct_field
from basyx.aas import model

from twinbridge.server.opcua.datatypes import node_id

NAMESPACE = "urn:twinbridge:opcua:aas"
"""The project's namespace: every instance node, and the types OPC 30270 does not define."""
I4AAS_NAMESPACE = "http://opcfoundation.org/UA/I4AAS/"
"""OPC 30270's namespace."""

VT = ua.VariantType
IDS = ua.ObjectIds

# ------------------------------------------------------------------ data types
ENUMS: dict[str, tuple[int, tuple[str, ...]]] = {
    "AASKeyTypeDataType": (3002, ("IdShort", "FragmentId", "Custom", "IRDI", "IRI")),
    "AASAssetKindDataType": (3003, ("Type", "Instance")),
    "AASValueTypeDataType": (3004, ("Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64",
                                    "UInt64", "Float", "Double", "String", "DateTime", "ByteString",
                                    "LocalizedText", "UtcTime")),
    "AASEntityTypeDataType": (3006, ("CoManagedEntity", "SelfManagedEntity")),
    "AASIdentifierTypeDataType": (3010, ("IRDI", "IRI", "Custom")),
    "AASKeyElementsDataType": (3012, (
        "AccessPermissionRule", "AnnotatedRelationshipElement", "Asset", "AssetAdministrationShell", "Blob",
        "Capability", "ConceptDescription", "ConceptDictionary", "DataElement", "Entity", "Event", "File",
        "FragmentReference", "GlobalReference", "MultiLanguageProperty", "Operation", "Property", "Range",
        "ReferenceElement", "RelationshipElement", "Submodel", "SubmodelElement", "SubmodelElementCollection",
        "View")),
    "AASModelingKindDataType": (3015, ("Template", "Instance")),
}
"""Enumerations: (NodeId, field names in value order 0, 1, ...)."""
STRING_TYPES = {"AASMimeDataType": 3016, "AASPathDataType": 3005}
KEY_DATA_TYPE, KEY_BINARY_ENCODING = 3011, 5038
AAS_REFERENCE = 4003


class KeyElements(enum.IntEnum):
    """``AASKeyElementsDataType`` for asyncua's encoder (values as in ``ENUMS``)."""

    AccessPermissionRule = 0
    AnnotatedRelationshipElement = 1
    Asset = 2
    AssetAdministrationShell = 3
    Blob = 4
    Capability = 5
    ConceptDescription = 6
    ConceptDictionary = 7
    DataElement = 8
    Entity = 9
    Event = 10
    File = 11
    FragmentReference = 12
    GlobalReference = 13
    MultiLanguageProperty = 14
    Operation = 15
    Property = 16
    Range = 17
    ReferenceElement = 18
    RelationshipElement = 19
    Submodel = 20
    SubmodelElement = 21
    SubmodelElementCollection = 22
    View = 23


class KeyType(enum.IntEnum):
    """``AASKeyTypeDataType``."""

    IdShort = 0
    FragmentId = 1
    Custom = 2
    IRDI = 3
    IRI = 4


@dataclass
class AASKeyDataType:
    """One key of an ``AASReferenceType``'s ``Keys`` (OPC 30270 7.11), encoded by asyncua once registered."""

    Type: KeyElements
    Local: ua.Boolean  # asyncua's marker types: the values are a bool and a str
    Value: ua.String
    IdType: KeyType


def aas_key(element: KeyElements, local: bool, value: str, id_type: KeyType) -> AASKeyDataType:
    make: Any = AASKeyDataType  # see the field comment
    return make(element, local, value, id_type)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- object types
# A child: (BrowseName, kind, type, mandatory). kind "property" (HasProperty, PropertyType: every
# variable OPC 30270 declares is one) or "object" (HasComponent); type is a DataType (an ns=0 id or
# the name of an I4AAS DataType) or, for objects, the name of an ObjectType.
Child = tuple[str, str, int | str, bool]
ARRAY = "[]"
"""Suffix of a DataType name in a child: a one-dimensional array."""

# (name, NodeId in I4AAS (None: the project namespace), parent (name, or an ns=0 id), abstract,
#  the interface it implements, children)
_TYPES: list[tuple[str, int | None, str | int, bool, str | None, list[Child]]] = [
    ("IAASReferableType", 1033, IDS.BaseInterfaceType, True, None, [("Category", "property", IDS.String, True)]),
    ("AASIdentifierType", 1029, IDS.BaseObjectType, False, None,
     [("Id", "property", IDS.String, True), ("IdType", "property", "AASIdentifierTypeDataType", True)]),
    ("AASAdministrativeInformationType", 1030, IDS.BaseObjectType, False, None,
     [("Version", "property", IDS.String, False), ("Revision", "property", IDS.String, False)]),
    ("IAASIdentifiableType", 1034, "IAASReferableType", True, None,
     [("Administration", "object", "AASAdministrativeInformationType", True),
      ("Identification", "object", "AASIdentifierType", True)]),
    ("AASReferenceType", 1004, IDS.BaseObjectType, False, None, [("Keys", "property", "AASKeyDataType[]", True)]),
    ("AASAssetType", 1005, IDS.BaseObjectType, False, "IAASIdentifiableType",
     [("AssetKind", "property", "AASAssetKindDataType", True)]),
    ("AASAssetAdministrationShellType", 1002, IDS.BaseObjectType, False, "IAASIdentifiableType",
     [("Asset", "object", "AASAssetType", True), ("DerivedFrom", "object", "AASReferenceType", False)]),
    ("AASSubmodelType", 1006, IDS.BaseObjectType, False, "IAASIdentifiableType",
     [("ModelingKind", "property", "AASModelingKindDataType", True)]),
    ("AASSubmodelElementType", 1009, IDS.BaseObjectType, True, "IAASReferableType",
     [("Category", "property", IDS.String, True), ("ModelingKind", "property", "AASModelingKindDataType", True)]),
    ("AASPropertyType", 1013, "AASSubmodelElementType", False, None,
     [("Value", "property", IDS.BaseDataType, False), ("ValueId", "object", "AASReferenceType", False),
      ("ValueType", "property", "AASValueTypeDataType", True)]),
    ("AASMultiLanguagePropertyType", 1012, "AASSubmodelElementType", False, None,
     [("Value", "property", "LocalizedText[]", False), ("ValueId", "object", "AASReferenceType", False)]),
    ("AASRangeType", 1023, "AASSubmodelElementType", False, None,
     [("Max", "property", IDS.BaseDataType, False), ("Min", "property", IDS.BaseDataType, False),
      ("ValueType", "property", "AASValueTypeDataType", True)]),
    ("AASFileType", 1017, "AASSubmodelElementType", False, None,
     [("MimeType", "property", "AASMimeDataType", True), ("Value", "property", IDS.String, True)]),
    ("AASBlobType", 1016, "AASSubmodelElementType", False, None, []),
    ("AASReferenceElementType", 1020, "AASSubmodelElementType", False, None,
     [("Value", "object", "AASReferenceType", True)]),
    ("AASRelationshipElementType", 1018, "AASSubmodelElementType", False, None,
     [("First", "object", "AASReferenceType", True), ("Second", "object", "AASReferenceType", True)]),
    ("AASAnnotatedRelationshipElementType", 1019, "AASRelationshipElementType", False, None, []),
    ("AASSubmodelElementCollectionType", 1010, "AASSubmodelElementType", False, None,
     [("AllowDuplicates", "property", IDS.Boolean, False)]),
    ("AASOrderedSubmodelElementCollectionType", 1011, "AASSubmodelElementCollectionType", False, None, []),
    ("AASSubmodelElementListType", None, "AASOrderedSubmodelElementCollectionType", False, None,
     [("TypeValueListElement", "property", IDS.String, True)]),
    ("AASEntityType", 1022, "AASSubmodelElementType", False, None,
     [("Asset", "object", "AASReferenceType", False), ("EntityType", "property", "AASEntityTypeDataType", True)]),
    ("AASOperationType", 1015, "AASSubmodelElementType", False, None, []),
    ("AASCapabilityType", 1014, "AASSubmodelElementType", False, None, []),
    ("AASEventType", 1021, "AASSubmodelElementType", False, None, []),
    ("AASQualifierType", 1032, IDS.BaseObjectType, False, None,
     [("Type", "property", IDS.String, True), ("Value", "property", IDS.BaseDataType, False),
      ("ValueId", "object", "AASReferenceType", False), ("ValueType", "property", "AASValueTypeDataType", True)]),
    ("AASIrdiConceptDescriptionType", 1024, IDS.IrdiDictionaryEntryType, False, None, []),
    ("AASIriConceptDescriptionType", 1025, IDS.UriDictionaryEntryType, False, None, []),
    ("AASCustomConceptDescriptionType", 1026, IDS.DictionaryEntryType, False, None, []),
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
    model.BasicEventElement: "AASEventType",
}


@dataclass
class AasTypes:
    """NodeIds of the defined types and DataTypes by name, plus both namespace indexes."""

    namespace_index: int
    i4aas_index: int = 0
    ids: dict[str, ua.NodeId] = field(default_factory=dict)

    def for_element(self, element: model.SubmodelElement) -> ua.NodeId:
        for cls in type(element).__mro__:
            name = ELEMENT_TYPES.get(cls)
            if name is not None:
                return self.ids[name]
        return self.ids["AASSubmodelElementType"]


async def define_types(server: Server, namespace_index: int) -> AasTypes:
    """Register OPC 30270's namespace and define its DataTypes, ReferenceType and ObjectTypes."""
    i4aas = await server.register_namespace(I4AAS_NAMESPACE)
    types = AasTypes(namespace_index, i4aas)
    await _data_types(server, types)
    reference_type = await server.get_node(IDS.NonHierarchicalReferences).add_reference_type(
        node_id(AAS_REFERENCE, i4aas), ua.QualifiedName("AASReference", i4aas))
    await reference_type.write_attribute(ua.AttributeIds.InverseName, ua.DataValue(ua.Variant(
        ua.LocalizedText("IsAASReferenceOf"), VT.LocalizedText)))
    types.ids["AASReference"] = reference_type.nodeid
    nodes: dict[str, Node] = {}
    for name, number, parent, abstract, interface, children in _TYPES:
        parent_node = nodes[parent] if isinstance(parent, str) else server.get_node(node_id(parent))
        identifier = node_id(number, i4aas) if number is not None else node_id(name, namespace_index)
        namespace = i4aas if number is not None else namespace_index
        node = await parent_node.add_object_type(identifier, ua.QualifiedName(name, namespace))
        if abstract:
            await node.write_attribute(ua.AttributeIds.IsAbstract, ua.DataValue(ua.Variant(True, VT.Boolean)))
        if interface is not None:
            await node.add_reference(nodes[interface], node_id(IDS.HasInterface))
        types.ids[name] = node.nodeid
        nodes[name] = node
        for child in children:
            await _instance_declaration(node, name, child, types, namespace)
    return types


async def _instance_declaration(owner: Node, owner_name: str, child: Child, types: AasTypes, namespace: int) -> None:
    browse, kind, type_of, mandatory = child
    identifier = node_id(f"{owner_name}.{browse}", namespace)
    name = ua.QualifiedName(browse, types.i4aas_index)
    if kind == "object":
        created = await owner.add_object(identifier, name, objecttype=types.ids[str(type_of)])
    else:
        array = isinstance(type_of, str) and type_of.endswith(ARRAY)
        data_type = _data_type(type_of, types)
        created = await owner.add_property(identifier, name, ua.Variant(), datatype=data_type)
        if array:
            await created.write_value_rank(ua.ValueRank.OneDimension)
    await created.set_modelling_rule(mandatory)


def _data_type(type_of: int | str, types: AasTypes) -> ua.NodeId:
    if isinstance(type_of, int):
        return node_id(type_of)
    name = type_of.removesuffix(ARRAY)
    return node_id(getattr(IDS, name)) if hasattr(IDS, name) else types.ids[name]


async def _data_types(server: Server, types: AasTypes) -> None:
    i4aas = types.i4aas_index
    enumeration = server.get_node(node_id(IDS.Enumeration))
    for name, (number, names) in ENUMS.items():
        data_type = await enumeration.add_data_type(node_id(number, i4aas), ua.QualifiedName(name, i4aas))
        definition = ua.EnumDefinition(Fields=[ua.EnumField(Name=text, Value=value, DisplayName=ua.LocalizedText(text))
                                               for value, text in enumerate(names)])
        await data_type.write_data_type_definition(definition)
        texts = ua.Variant([ua.LocalizedText(text) for text in names], VT.LocalizedText, is_array=True)
        strings = await data_type.add_property(node_id(f"{name}.EnumStrings", i4aas),
                                               ua.QualifiedName("EnumStrings", 0), texts,
                                               datatype=node_id(IDS.LocalizedText))
        await strings.write_value_rank(ua.ValueRank.OneDimension)
        types.ids[name] = data_type.nodeid
    string = server.get_node(node_id(IDS.String))
    for name, number in STRING_TYPES.items():
        types.ids[name] = (await string.add_data_type(node_id(number, i4aas), ua.QualifiedName(name, i4aas))).nodeid
    await _key_data_type(server, types)


async def _key_data_type(server: Server, types: AasTypes) -> None:
    """``AASKeyDataType``: the structure node, its binary encoding and asyncua's class for it."""
    i4aas = types.i4aas_index
    structure = server.get_node(node_id(IDS.Structure))
    data_type = await structure.add_data_type(node_id(KEY_DATA_TYPE, i4aas), ua.QualifiedName("AASKeyDataType", i4aas))
    encoding = await data_type.add_object(node_id(KEY_BINARY_ENCODING, i4aas), ua.QualifiedName("Default Binary", 0),
                                          objecttype=node_id(IDS.DataTypeEncodingType))
    await data_type.delete_reference(encoding, node_id(IDS.HasComponent), forward=True, bidirectional=True)
    await data_type.add_reference(encoding, node_id(IDS.HasEncoding))
    fields = [new_struct_field("Type", types.ids["AASKeyElementsDataType"]), new_struct_field("Local", VT.Boolean),
              new_struct_field("Value", VT.String), new_struct_field("IdType", types.ids["AASKeyTypeDataType"])]
    await data_type.write_data_type_definition(ua.StructureDefinition(
        DefaultEncodingId=encoding.nodeid, BaseDataType=node_id(IDS.Structure),
        StructureType=ua.StructureType.Structure, Fields=fields))
    register: Any = ua.register_extension_object  # asyncua keys its codec registry by these NodeIds
    register("AASKeyDataType", encoding.nodeid, AASKeyDataType, data_type.nodeid)
    types.ids["AASKeyDataType"] = data_type.nodeid
