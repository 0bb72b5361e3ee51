"""Bulk node creation straight into asyncua's address space.

asyncua's ``add_nodes`` checks every new node against all references of its parent
(duplicate BrowseName, duplicate reference), which goes quadratic with thousands of
siblings, and ``delete_nodes`` scans the whole address space per node. The mirror knows
its nodes are unique by construction (idShorts are unique per parent), so it writes
``NodeData`` entries directly: O(1) per node and reference. Attribute values that are the
same for many nodes (NodeClass, DataType, AccessLevel, the BrowseName of every "Value"
child...) are shared objects, never written, which keeps 100,000 properties in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

from asyncua import ua
from asyncua.server.address_space import AddressSpace, AttributeValue, NodeData

from twinbridge.server.opcua.datatypes import node_id, status

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
_STRING = node_id(VT.String.value)
_HIERARCHICAL = (HAS_COMPONENT, HAS_PROPERTY)


def _constant(value: Any, variant_type: ua.VariantType) -> AttributeValue:
    return AttributeValue(ua.DataValue(ua.Variant(value, variant_type)))


def _node_id_attribute() -> AttributeValue:
    """One shared NodeId attribute: asyncua passes the node id to the read callback."""
    attribute = AttributeValue(ua.DataValue(ua.Variant(None, VT.Null)))
    attribute.value = None
    attribute.value_callback = lambda node_id, _attr: ua.DataValue(ua.Variant(node_id, VT.NodeId))
    return attribute


class Names:
    """BrowseName/DisplayName attribute pair; shared by every child with the same name."""

    __slots__ = ("browse", "browse_name", "display", "display_name")

    def __init__(self, browse_name: ua.QualifiedName, display_name: ua.LocalizedText) -> None:
        self.browse_name = browse_name
        self.display_name = display_name
        self.browse = _constant(browse_name, VT.QualifiedName)
        self.display = _constant(display_name, VT.LocalizedText)


class NodeFactory:
    """Creates, links and removes instance nodes without asyncua's per-node scans."""

    def __init__(self, aspace: AddressSpace, namespace_index: int) -> None:
        self.aspace = aspace
        self.ns = namespace_index
        self._node_id = _node_id_attribute()
        self._object_class = _constant(ua.NodeClass.Object.value, VT.Int32)
        self._variable_class = _constant(ua.NodeClass.Variable.value, VT.Int32)
        self._zero_mask = _constant(0, VT.UInt32)
        self._no_events = _constant(0, VT.Byte)
        self._no_description = _constant(ua.LocalizedText(""), VT.LocalizedText)
        self._scalar = _constant(-1, VT.Int32)
        self._array = _constant(1, VT.Int32)
        self._sampling = _constant(0.0, VT.Double)
        self._not_historizing = _constant(False, VT.Boolean)
        self._levels = {READ: _constant(READ, VT.Byte), READ_WRITE: _constant(READ_WRITE, VT.Byte)}
        self._data_types: dict[ua.NodeId, AttributeValue] = {}
        self._strings: dict[str | None, AttributeValue] = {}
        self._variable_templates: dict[tuple[object, ...], dict[ua.AttributeIds, AttributeValue]] = {}
        self._object_attributes: dict[ua.AttributeIds, AttributeValue] = {
            A.NodeId: self._node_id,
            A.NodeClass: self._object_class,
            A.Description: self._no_description,
            A.WriteMask: self._zero_mask,
            A.UserWriteMask: self._zero_mask,
            A.EventNotifier: self._no_events,
        }
        self._names: dict[str, Names] = {}
        self._type_refs: dict[ua.NodeId, ua.ReferenceDescription] = {}
        self._inverse: dict[tuple[int, object], ua.ReferenceDescription] = {}
        """Child → parent references, one per (parent NodeData, reference type); keyed by id() for speed."""

    # ------------------------------------------------------------ names
    def shared_names(self, name: str) -> Names:
        """Names of fixed children ("Value", "IdShort"...), one object for all of them."""
        names = self._names.get(name)
        if names is None:
            names = self._names[name] = self.names(name)
        return names

    def names(self, name: str, display: str | None = None) -> Names:
        return Names(ua.QualifiedName(name, self.ns), ua.LocalizedText(display if display is not None else name))

    def access_level(self, level: int | Callable[[ua.NodeId, ua.AttributeIds], ua.DataValue]) -> AttributeValue:
        """A shared AccessLevel attribute, or a computed one (writability that follows bindings)."""
        if callable(level):
            attribute = AttributeValue(ua.DataValue())
            attribute.value = None
            attribute.value_callback = level
            return attribute
        return self._levels[level]

    # ------------------------------------------------------------ nodes
    def add_object(self, parent: NodeData | None, node_id: ua.NodeId, names: Names, type_definition: ua.NodeId,
                   reference_type: ua.NodeId = HAS_COMPONENT) -> NodeData:
        node = NodeData(node_id)
        attributes = node.attributes = self._object_attributes.copy()
        attributes[A.BrowseName] = names.browse
        attributes[A.DisplayName] = names.display
        node.references.append(self._type_reference(type_definition, ua.NodeClass.ObjectType))
        self.aspace[node_id] = node
        if parent is not None:
            self._attach(parent, node, names, ua.NodeClass.Object, type_definition, reference_type)
        return node

    def add_variable(self, parent: NodeData, node_id: ua.NodeId, names: Names, value: ua.DataValue | AttributeValue,
                     data_type: ua.NodeId, *, is_property: bool = True, array: bool = False,
                     access_level: AttributeValue | None = None) -> tuple[NodeData, AttributeValue]:
        """A Variable child named by shared ``names``; returns the node and its Value attribute.

        ``value`` may be a shared, never-written AttributeValue (constant strings); a DataValue
        gets an attribute of its own (the mirror's fast path writes it).
        """
        node = NodeData(node_id)
        level = access_level if access_level is not None else self._levels[READ]
        key = (names.browse_name.Name, data_type.Identifier, array, id(level))
        template = self._variable_templates.get(key)
        if template is None:
            template = self._variable_templates[key] = self._variable_template(names, data_type, array, level)
        attributes = node.attributes = template.copy()
        value_attribute = value if isinstance(value, AttributeValue) else AttributeValue(value)
        attributes[A.Value] = value_attribute
        type_definition = PROPERTY_TYPE if is_property else DATA_VARIABLE_TYPE
        node.references.append(self._type_reference(type_definition, ua.NodeClass.VariableType))
        self.aspace[node_id] = node
        self._attach(parent, node, names, ua.NodeClass.Variable, type_definition,
                     HAS_PROPERTY if is_property else HAS_COMPONENT)
        return node, value_attribute

    def add_string(self, parent: NodeData, name: str, value: str | None) -> None:
        """A constant String property named ``name`` under ``parent`` (IdShort, Id, SemanticId...)."""
        shared = self._strings.get(value)
        if shared is None:
            shared = self._strings[value] = _constant(value, VT.String)
        self.add_variable(parent, child_id(parent.nodeid, name), self.shared_names(name), shared, _STRING)

    def describe(self, node: NodeData, text: str, locale: str) -> None:
        """Give ``node`` its own Description attribute (the default is a shared empty one)."""
        node.attributes[A.Description] = _constant(ua.LocalizedText(text, locale), VT.LocalizedText)

    def _variable_template(self, names: Names, data_type: ua.NodeId, array: bool,
                           level: AttributeValue) -> dict[ua.AttributeIds, AttributeValue]:
        data_type_attribute = self._data_types.get(data_type)
        if data_type_attribute is None:
            data_type_attribute = self._data_types[data_type] = _constant(data_type, VT.NodeId)
        return {
            A.NodeId: self._node_id,
            A.NodeClass: self._variable_class,
            A.BrowseName: names.browse,
            A.DisplayName: names.display,
            A.Description: self._no_description,
            A.WriteMask: self._zero_mask,
            A.UserWriteMask: self._zero_mask,
            A.DataType: data_type_attribute,
            A.ValueRank: self._array if array else self._scalar,
            A.AccessLevel: level,
            A.UserAccessLevel: level,
            A.MinimumSamplingInterval: self._sampling,
            A.Historizing: self._not_historizing,
        }

    # -------------------------------------------------------- references
    def link(self, source: NodeData, target: NodeData, reference_type: ua.NodeId) -> None:
        """A forward reference source → target (and its inverse) between existing nodes."""
        browse = target.attributes[A.BrowseName].value
        display = target.attributes[A.DisplayName].value
        names = Names.__new__(Names)
        names.browse_name = browse.Value.Value if browse and browse.Value else ua.QualifiedName()
        names.display_name = display.Value.Value if display and display.Value else ua.LocalizedText()
        node_class = ua.NodeClass(target.attributes[A.NodeClass].value.Value.Value)  # type: ignore[union-attr]
        self._attach(source, target, names, node_class, _type_of(target), reference_type)

    def unlink(self, source: NodeData, target_id: ua.NodeId, reference_type: ua.NodeId) -> None:
        source.references = [ref for ref in source.references
                             if not (ref.IsForward and ref.NodeId == target_id
                                     and ref.ReferenceTypeId == reference_type)]
        target = self.aspace.get(target_id)
        if target is not None:
            target.references = [ref for ref in target.references
                                 if ref.IsForward or ref.NodeId != source.nodeid
                                 or ref.ReferenceTypeId != reference_type]

    def remove(self, node_id: ua.NodeId, parent: NodeData | None = None) -> list[ua.NodeId]:
        """Delete a node and the subtree it owns; returns the removed node ids.

        A node owns the hierarchical children whose string id extends its own (so a shell does
        not own the submodels it references). Monitored items on removed nodes are told
        BadNodeIdUnknown, as asyncua's own delete does.
        """
        removed: list[ua.NodeId] = []
        for doomed in list(self._subtree(node_id)):
            node = self.aspace.get(doomed)
            if node is None:
                continue
            value = node.attributes.get(A.Value)
            if value is not None and value.datachange_callbacks:
                owners = self.aspace._handle_to_attribute_map
                for handle, callback in list(value.datachange_callbacks.items()):
                    if owners.get(handle, (doomed,))[0] == doomed:
                        _notify_deleted(callback, handle)
                        self.aspace.delete_datachange_callback(handle)
            del self.aspace[doomed]
            for reference_type in (HAS_COMPONENT, HAS_PROPERTY, ORGANIZES):
                self._inverse.pop((id(node), reference_type.Identifier), None)
            removed.append(doomed)
        if parent is not None:
            parent.references = [ref for ref in parent.references if ref.NodeId != node_id]
        return removed

    # ---------------------------------------------------------- internal
    def _subtree(self, node_id: ua.NodeId) -> Iterator[ua.NodeId]:
        stack = [node_id]
        while stack:
            current = stack.pop()
            yield current
            node = self.aspace.get(current)
            if node is None:
                continue
            prefix = str(current.Identifier)
            stack.extend(ref.NodeId for ref in node.references
                         if ref.IsForward and ref.ReferenceTypeId in _HIERARCHICAL
                         and str(ref.NodeId.Identifier).startswith(prefix))

    def _attach(self, parent: NodeData, node: NodeData, names: Names, node_class: ua.NodeClass,
                type_definition: ua.NodeId, reference_type: ua.NodeId) -> None:
        forward = ua.ReferenceDescription(
            ReferenceTypeId=reference_type, IsForward=True, NodeId=node.nodeid, BrowseName=names.browse_name,
            DisplayName=names.display_name, NodeClass=node_class, TypeDefinition=type_definition)
        parent.references.append(forward)
        node.references.append(self._inverse_reference(parent, reference_type))

    def _inverse_reference(self, parent: NodeData, reference_type: ua.NodeId) -> ua.ReferenceDescription:
        key = (id(parent), reference_type.Identifier)
        inverse = self._inverse.get(key)
        if inverse is None:
            browse = parent.attributes[A.BrowseName].value
            display = parent.attributes[A.DisplayName].value
            node_class = parent.attributes[A.NodeClass].value
            inverse = ua.ReferenceDescription(
                ReferenceTypeId=reference_type, IsForward=False, NodeId=parent.nodeid,
                BrowseName=browse.Value.Value if browse and browse.Value else ua.QualifiedName(),
                DisplayName=display.Value.Value if display and display.Value else ua.LocalizedText(),
                NodeClass=ua.NodeClass(node_class.Value.Value) if node_class and node_class.Value
                else ua.NodeClass.Object,
                TypeDefinition=_type_of(parent))
            self._inverse[key] = inverse
        return inverse

    def _type_reference(self, type_definition: ua.NodeId, node_class: ua.NodeClass) -> ua.ReferenceDescription:
        reference = self._type_refs.get(type_definition)
        if reference is None:
            reference = ua.ReferenceDescription()
            reference.ReferenceTypeId = HAS_TYPE_DEFINITION
            reference.IsForward = True
            reference.NodeId = type_definition
            reference.NodeClass = node_class
            type_node = self.aspace.get(type_definition)
            if type_node is not None:
                browse = type_node.attributes[A.BrowseName].value
                display = type_node.attributes[A.DisplayName].value
                if browse is not None and browse.Value is not None:
                    reference.BrowseName = browse.Value.Value
                if display is not None and display.Value is not None:
                    reference.DisplayName = display.Value.Value
            self._type_refs[type_definition] = reference
        return reference



def child_id(parent: ua.NodeId, name: str) -> ua.NodeId:
    """``<element id>/<name>``, or ``<shell/submodel id>#/<name>`` (their escaped ids hold no '#')."""
    identifier = str(parent.Identifier)
    separator = "/" if "#" in identifier else "#/"
    return node_id(f"{identifier}{separator}{name}", parent.NamespaceIndex)


def _type_of(node: NodeData) -> ua.NodeId:
    for ref in node.references:
        if ref.IsForward and ref.ReferenceTypeId == HAS_TYPE_DEFINITION:
            return ref.NodeId
    return ua.NodeId()


def _notify_deleted(callback: Callable[..., Any], handle: int) -> None:
    """Monitored-item callbacks are coroutines; schedule them so removal stays synchronous."""
    result = callback(handle, None, status(ua.StatusCodes.BadNodeIdUnknown))
    if asyncio.iscoroutine(result):
        asyncio.get_running_loop().create_task(result)
