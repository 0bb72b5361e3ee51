"""The mirror's node objects and the shared attribute values they are made of.

Measured on the 1,000-machine plant (113,308 properties): one materialized OPC UA node per
element, value and constant (IdShort, SemanticId, ValueType...) took 9.4 nodes and ~12.8 KB
per property even with shared attributes. So only folders, shells and submodels are stored
(``TwinNode`` with its own links); their children, and everything below a submodel, are
computed from the twin when a client browses or reads them (``element_nodes``). Attribute
values that many nodes have in common (NodeClass, DataType, AccessLevel, the BrowseName of
every "Value" child...) are one shared object each, never written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asyncua import ua

from twinbridge.server.opcua.compat_asyncua import AttributeValue, NodeData
from twinbridge.server.opcua.datatypes import node_id

A = ua.AttributeIds
VT = ua.VariantType
HAS_COMPONENT = node_id(ua.ObjectIds.HasComponent)
HAS_PROPERTY = node_id(ua.ObjectIds.HasProperty)
ORGANIZES = node_id(ua.ObjectIds.Organizes)
HAS_TYPE_DEFINITION = node_id(ua.ObjectIds.HasTypeDefinition)
PROPERTY_TYPE = node_id(ua.ObjectIds.PropertyType)
DATA_VARIABLE_TYPE = node_id(ua.ObjectIds.BaseDataVariableType)
READ = ua.AccessLevel.CurrentRead.mask
READ_WRITE = ua.AccessLevel.CurrentRead.mask | ua.AccessLevel.CurrentWrite.mask

Attributes = dict[ua.AttributeIds, AttributeValue]
ChildReferences = Callable[[], list[ua.ReferenceDescription]]
AccessLevel = Callable[[ua.NodeId, ua.AttributeIds], ua.DataValue]


class TwinNode(NodeData):
    """A node of the mirror (asyncua's ``NodeData`` shape).

    ``links`` are the references the node owns: its type, its parents, what the builder or the
    Plant view linked. ``children``, when set, computes the references to the children the
    twin defines at browse time, so a submodel with 5,000 elements stores none of them.
    """

    __slots__ = ("children", "links")

    def __init__(self, identifier: ua.NodeId, attributes: Attributes, links: list[ua.ReferenceDescription],
                 children: ChildReferences | None = None, call: Callable[..., Any] | None = None) -> None:
        # NodeData.__init__ is not called: it would allocate the dict and list this replaces
        self.nodeid = identifier
        self.attributes = attributes
        self.links = links
        self.children = children
        self.call = call

    @property  # type: ignore[override]
    def references(self) -> list[ua.ReferenceDescription]:
        children = self.children
        return self.links if children is None else [*self.links, *children()]

    @references.setter
    def references(self, value: list[ua.ReferenceDescription]) -> None:
        self.links = value


def constant(value: Any, variant_type: ua.VariantType) -> AttributeValue:
    return AttributeValue(ua.DataValue(ua.Variant(value, variant_type)))


def computed(read: AccessLevel) -> AttributeValue:
    """An attribute whose value asyncua asks ``read(node_id, attribute)`` for on every read."""
    attribute = AttributeValue(ua.DataValue())
    attribute.value = None
    attribute.value_callback = read
    return attribute


class Names:
    """BrowseName/DisplayName pair and their attribute values; shared by every node with that name."""

    __slots__ = ("browse", "browse_name", "display", "display_name")

    def __init__(self, browse_name: ua.QualifiedName, display_name: ua.LocalizedText) -> None:
        self.browse_name = browse_name
        self.display_name = display_name
        self.browse = constant(browse_name, VT.QualifiedName)
        self.display = constant(display_name, VT.LocalizedText)


class NodeKit:
    """Shared attribute values, attribute sets and references the mirror's nodes are made of."""

    def __init__(self, namespace_index: int) -> None:
        self.ns = namespace_index
        node_id_attribute = computed(lambda identifier, _attr: ua.DataValue(ua.Variant(identifier, VT.NodeId)))
        self._no_description = constant(ua.LocalizedText(""), VT.LocalizedText)
        self._zero_mask = constant(0, VT.UInt32)
        self._base: Attributes = {
            A.NodeId: node_id_attribute,
            A.Description: self._no_description,
            A.WriteMask: self._zero_mask,
            A.UserWriteMask: self._zero_mask,
        }
        self._object_class = constant(ua.NodeClass.Object.value, VT.Int32)
        self._variable_class = constant(ua.NodeClass.Variable.value, VT.Int32)
        self._method_class = constant(ua.NodeClass.Method.value, VT.Int32)
        self._no_events = constant(0, VT.Byte)
        self._true = constant(True, VT.Boolean)
        self._scalar = constant(-1, VT.Int32)
        self._array = constant(1, VT.Int32)
        self._sampling = constant(0.0, VT.Double)
        self._not_historizing = constant(False, VT.Boolean)
        self._historizing = constant(True, VT.Boolean)
        self._read_only = constant(READ, VT.Byte)
        self._data_types: dict[ua.NodeId, AttributeValue] = {}
        self._descriptions: dict[tuple[str, str], AttributeValue] = {}
        self._names: dict[str, Names] = {}
        # Keyed by the ids of the Names/attribute objects, which the key's tuple keeps alive in
        # ``_keep``: an id is only unique while its object lives, and a cache that let a Names die
        # handed its attributes to the next Names at the same address (a node named like another).
        self._objects: dict[tuple[int, int], Attributes] = {}
        self._variables: dict[tuple[int, ua.NodeId, bool, int, bool], Attributes] = {}
        self._methods: dict[int, Attributes] = {}
        self._keep: list[object] = []
        self._type_refs: dict[tuple[ua.NodeId, ua.NodeClass], ua.ReferenceDescription] = {}
        self.type_names: dict[ua.NodeId, Names] = {}
        """Names of the ObjectTypes and VariableTypes (for HasTypeDefinition references)."""

    # ------------------------------------------------------------ names
    def shared_names(self, name: str) -> Names:
        """The Names of ``name`` in the mirror's namespace, one object per distinct name."""
        names = self._names.get(name)
        if names is None:
            names = self._names[name] = self.names(name)
        return names

    def names_in(self, name: str, namespace_index: int) -> Names:
        """The Names of ``name`` in another namespace (OPC 30270's, the base one), one object per pair."""
        if namespace_index == self.ns:
            return self.shared_names(name)
        key = f"{namespace_index}:{name}"
        names = self._names.get(key)
        if names is None:
            names = self._names[key] = Names(ua.QualifiedName(name, namespace_index), ua.LocalizedText(name))
        return names

    def names(self, name: str, display: str | None = None) -> Names:
        return Names(ua.QualifiedName(name, self.ns), ua.LocalizedText(display if display is not None else name))

    def description(self, text: str, locale: str) -> AttributeValue:
        key = (text, locale)
        attribute = self._descriptions.get(key)
        if attribute is None:
            attribute = self._descriptions[key] = constant(ua.LocalizedText(text, locale), VT.LocalizedText)
        return attribute

    # ------------------------------------------------------- attributes
    def object_attributes(self, names: Names, description: AttributeValue | None = None) -> Attributes:
        """One shared attribute set per (names, description): object nodes are never written."""
        described = description if description is not None else self._no_description
        key = (id(names), id(described))
        attributes = self._objects.get(key)
        if attributes is None:
            self._keep += (names, described)
            attributes = self._objects[key] = {
                **self._base, A.NodeClass: self._object_class, A.BrowseName: names.browse,
                A.DisplayName: names.display, A.Description: described, A.EventNotifier: self._no_events}
        return attributes

    def variable_attributes(self, names: Names, data_type: ua.NodeId, value: AttributeValue, *, array: bool = False,
                            access: AttributeValue | None = None, historizing: bool = False) -> Attributes:
        """The attributes of a Variable: a shared template plus its own Value attribute."""
        level = access if access is not None else self._read_only
        key = (id(names), data_type, array, id(level), historizing)
        template = self._variables.get(key)
        if template is None:
            self._keep += (names, level)
            data_type_attribute = self._data_types.get(data_type)
            if data_type_attribute is None:
                data_type_attribute = self._data_types[data_type] = constant(data_type, VT.NodeId)
            template = self._variables[key] = {
                **self._base, A.NodeClass: self._variable_class, A.BrowseName: names.browse,
                A.DisplayName: names.display, A.DataType: data_type_attribute,
                A.ValueRank: self._array if array else self._scalar, A.AccessLevel: level,
                A.UserAccessLevel: level, A.MinimumSamplingInterval: self._sampling,
                A.Historizing: self._historizing if historizing else self._not_historizing}
        attributes = template.copy()
        attributes[A.Value] = value
        return attributes

    def method_attributes(self, names: Names) -> Attributes:
        attributes = self._methods.get(id(names))
        if attributes is None:
            self._keep.append(names)
            attributes = self._methods[id(names)] = {
                **self._base, A.NodeClass: self._method_class, A.BrowseName: names.browse,
                A.DisplayName: names.display, A.Executable: self._true, A.UserExecutable: self._true}
        return attributes

    # ------------------------------------------------------- references
    def type_reference(self, type_definition: ua.NodeId, node_class: ua.NodeClass) -> ua.ReferenceDescription:
        """The HasTypeDefinition reference to ``type_definition``, one object per type."""
        key = (type_definition, node_class)
        reference = self._type_refs.get(key)
        if reference is None:
            names = self.type_names.get(type_definition)
            reference = self._type_refs[key] = ua.ReferenceDescription(
                ReferenceTypeId=HAS_TYPE_DEFINITION, IsForward=True, NodeId=type_definition,
                BrowseName=names.browse_name if names else ua.QualifiedName(),
                DisplayName=names.display_name if names else ua.LocalizedText(), NodeClass=node_class)
        return reference


def reference(reference_type: ua.NodeId, target: ua.NodeId, names: Names, node_class: ua.NodeClass,
              type_definition: ua.NodeId, *, forward: bool = True) -> ua.ReferenceDescription:
    return ua.ReferenceDescription(
        ReferenceTypeId=reference_type, IsForward=forward, NodeId=target, BrowseName=names.browse_name,
        DisplayName=names.display_name, NodeClass=node_class, TypeDefinition=type_definition)


def child_id(parent: ua.NodeId, name: str) -> ua.NodeId:
    """``<element id>/<name>``, or ``<shell/submodel id>#/<name>`` (their escaped ids hold no '#')."""
    identifier = str(parent.Identifier)
    separator = "/" if "#" in identifier else "#/"
    return node_id(f"{identifier}{separator}{name}", parent.NamespaceIndex)
