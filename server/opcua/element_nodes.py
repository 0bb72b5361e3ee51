"""Every node below a shell or submodel, computed from the twin when a client asks for it.

The address space stores folders, shells and submodels only; for any other NodeId of the
mirror, asyncua asks ``ElementNodes`` (installed as its node source), which reads the NodeId
back (``ids.parse``), finds the element in the twin and builds the node: attributes from
shared sets (``NodeKit``), references computed when browsed, values read from the twin on
every read (so a read never shows a stale value). Nothing of an element stays in memory
except the values a client monitors (``Watchers``).

What a node has follows OPC 30270's types as defined in ``types``: every element an
``IdShort`` (list items have none: their BrowseName is ``[i]``), ``Category`` and
``SemanticId`` when set; a Property ``Value`` and ``ValueType``; a Range ``Min``/``Max``; a
ReferenceElement a ``Value`` AASReference object with ``Keys`` and ``Type``; an Operation an
``Invoke`` Method, and so on.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from asyncua import ua
from basyx.aas import model

from twinbridge.aas import paths
from twinbridge.aas.live import LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.compat_asyncua import NodeData
from twinbridge.server.opcua.datatypes import VT, Codec, codec_for, data_value, node_id, status, utc
from twinbridge.server.opcua.ids import (
    SHELL,
    SUBMODEL,
    ParsedId,
    element_node_id,
    parse,
    shell_node_id,
    submodel_node_id,
    unescape,
)
from twinbridge.server.opcua.methods import argument, inputs_of, outputs_of
from twinbridge.server.opcua.nodes import (
    DATA_VARIABLE_TYPE,
    HAS_COMPONENT,
    HAS_PROPERTY,
    PROPERTY_TYPE,
    READ,
    READ_WRITE,
    Names,
    NodeKit,
    TwinNode,
    child_id,
    computed,
    reference,
)
from twinbridge.server.opcua.types import AasTypes
from twinbridge.server.opcua.watched import Owner, Watchers

A = ua.AttributeIds
NC = ua.NodeClass
_STRING = node_id(VT.String.value)
_LOCALIZED_TEXT = node_id(VT.LocalizedText.value)
_BYTE_STRING = node_id(VT.ByteString.value)
_ARGUMENT = node_id(ua.ObjectIds.Argument)
_NULL = ua.DataValue(ua.Variant(None, VT.String))

Subject = Any
"""What a slot reads: an element, a submodel, a shell, a Reference or an Operation."""
Read = Callable[[Subject, LiveElement | None], ua.DataValue]
MethodCall = Callable[[str, str, model.Operation], Callable[..., Awaitable[Any]]]


@dataclass(frozen=True, slots=True)
class Slot:
    """One fixed child of a node: a Variable with a value read from its subject, an Object or a Method."""

    name: str
    node_class: ua.NodeClass = NC.Variable
    reference_type: ua.NodeId = HAS_PROPERTY
    type_definition: ua.NodeId = PROPERTY_TYPE
    data_type: ua.NodeId = _STRING
    array: bool = False
    read: Read | None = None
    codec: Codec | None = None
    """Set on a Property's Value: the value clients may write and the mirror encodes itself."""


def _text(value: object) -> ua.DataValue:
    return ua.DataValue(ua.Variant(None if value is None else str(value), VT.String))


def _string_slot(name: str, read: Callable[[Subject], object]) -> Slot:
    return Slot(name, read=lambda subject, _handle: _text(read(subject)))


def reference_keys(reference: model.Reference | None) -> list[str]:
    if reference is None:
        return []
    return [f"({key.type.name if hasattr(key.type, 'name') else key.type}){key.value}" for key in reference.key]


def reference_text(reference: model.Reference | None) -> str | None:
    """A reference as one string: the key value when there is one key, else ``(Type)value, ...``."""
    if reference is None or not reference.key:
        return None
    keys = list(reference.key)
    if len(keys) == 1:
        return str(keys[0].value)
    return ", ".join(reference_keys(reference))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _live(handle: LiveElement | None) -> tuple[Quality, datetime.datetime | None]:
    return (handle.quality, utc(handle.timestamp)) if handle is not None else (Quality.GOOD, None)


def _property_value(codec: Codec) -> Read:
    def read(element: model.Property, handle: LiveElement | None) -> ua.DataValue:
        quality, source = _live(handle)
        return data_value(codec, element.value, quality, source, _now())
    return read


def _bound(codec: Codec, name: str) -> Read:
    def read(element: model.Range, handle: LiveElement | None) -> ua.DataValue:
        quality, source = _live(handle)
        return data_value(codec, element.min if name == "Min" else element.max, quality, source, _now())
    return read


def _texts(element: model.MultiLanguageProperty, _handle: LiveElement | None) -> ua.DataValue:
    texts = [ua.LocalizedText(text, language) for language, text in (element.value or {}).items()]
    return ua.DataValue(ua.Variant(texts, VT.LocalizedText, is_array=True))


def _file(element: model.File, _handle: LiveElement | None) -> ua.DataValue:
    return ua.DataValue(ua.Variant(element.value, VT.String))


def _blob(element: model.Blob, _handle: LiveElement | None) -> ua.DataValue:
    return ua.DataValue(ua.Variant(bytes(element.value) if element.value else None, VT.ByteString))


def _keys(reference: model.Reference, _handle: LiveElement | None) -> ua.DataValue:
    return ua.DataValue(ua.Variant(reference_keys(reference), VT.String, is_array=True))


_ID_SHORT = _string_slot("IdShort", lambda referable: referable.id_short)
_CATEGORY = _string_slot("Category", lambda referable: referable.category)
_SEMANTIC_ID = _string_slot("SemanticId", lambda referable: reference_text(referable.semantic_id))
_ID = _string_slot("Id", lambda identifiable: identifiable.id)
_KIND = _string_slot("Kind", lambda submodel: submodel.kind.name if submodel.kind is not None else None)
_SHELL_ASSET = _string_slot("GlobalAssetId", lambda shell: shell.asset_information.global_asset_id)
_ASSET_KIND = _string_slot("AssetKind", lambda shell: shell.asset_information.asset_kind.name)
_CONTENT_TYPE = _string_slot("ContentType", lambda element: element.content_type)
_LIST_TYPE = _string_slot("TypeValueListElement", lambda element: element.type_value_list_element.__name__)
_ENTITY_TYPE = _string_slot("EntityType", lambda entity: entity.entity_type.name if entity.entity_type else None)
_ENTITY_ASSET = _string_slot("GlobalAssetId", lambda entity: entity.global_asset_id)
_MLP_VALUE = Slot("Value", reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE,
                  data_type=_LOCALIZED_TEXT, array=True, read=_texts)
_FILE_VALUE = Slot("Value", reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE, read=_file)
_BLOB_VALUE = Slot("Value", reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE,
                   data_type=_BYTE_STRING, read=_blob)
_KEYS = Slot("Keys", array=True, read=_keys)
_TYPE = _string_slot("Type", lambda reference: type(reference).__name__)
_REFERENCE_SLOTS = (_KEYS, _TYPE)
_INVOKE = Slot("Invoke", node_class=NC.Method, reference_type=HAS_COMPONENT, type_definition=ua.NodeId())


def _argument_list(variables: Callable[[model.Operation], list[model.SubmodelElement]]) -> Read:
    def read(operation: model.Operation, _handle: LiveElement | None) -> ua.DataValue:
        arguments = [argument(variable) for variable in variables(operation)]
        return ua.DataValue(ua.Variant(arguments, VT.ExtensionObject, is_array=True))
    return read


_INPUTS = Slot("InputArguments", data_type=_ARGUMENT, array=True, read=_argument_list(inputs_of))
_OUTPUTS = Slot("OutputArguments", data_type=_ARGUMENT, array=True, read=_argument_list(outputs_of))


_LOCATED_LIMIT = 100_000
"""Located nodes kept for repeated reads; past it the cache starts over (a client crawling everything)."""


class Located:
    """A NodeId read back and found: the node is built on first use and kept with it."""

    __slots__ = ("chain", "node", "owner", "parsed", "root", "subject")

    def __init__(self, parsed: ParsedId, root: model.Referable | None, owner: model.Referable, subject: Subject,
                 chain: tuple[Slot, ...]) -> None:
        self.parsed = parsed
        self.root = root
        self.owner = owner
        self.subject = subject
        self.chain = chain
        self.node: TwinNode | None = None


class ElementNodes:
    """The address space's node source for everything below shells and submodels."""

    def __init__(self, twin: Twin, kit: NodeKit, types: AasTypes, owner_node: Callable[[bool, str], NodeData | None],
                 forget_handle: Callable[[int], None]) -> None:
        self._twin = twin
        self._kit = kit
        self._types = types
        self._ns = kit.ns
        self._owner_node = owner_node
        self.watchers = Watchers(self.read_value, forget_handle)
        self.method_call: MethodCall | None = None
        """Builds the callable of an Operation's Invoke Method (set by the server)."""
        self._access = computed(self._access_level)
        self._reference_object = types.ids["AASReferenceType"]
        self._object_slots = {name: Slot(name, node_class=NC.Object, reference_type=HAS_COMPONENT,
                                         type_definition=self._reference_object)
                              for name in ("Value", "First", "Second")}
        self._value_slots: dict[Codec, Slot] = {}
        self._range_slots: dict[Codec, tuple[Slot, Slot, Slot]] = {}
        self._value_types: dict[Codec, Slot] = {}
        self._located: dict[ua.NodeId, Located] = {}

    # ------------------------------------------------------------ the source
    def __call__(self, identifier: ua.NodeId) -> NodeData | None:
        if identifier.NamespaceIndex != self._ns:
            return None
        located = self._locate(identifier)
        if located is None:
            return None
        node = located.node
        if node is None:
            node = located.node = self._build(identifier, located)
        return node

    def _build(self, identifier: ua.NodeId, located: Located) -> TwinNode:
        parsed, owner, subject, chain = located.parsed, located.owner, located.subject, located.chain
        if not chain:
            return self._element_node(identifier, parsed, subject)
        slot = chain[-1]
        owner_id = _owner_id(identifier)
        if slot.node_class is NC.Variable:
            return self._variable_node(identifier, parsed, slot, owner_id, owner)
        if slot.node_class is NC.Method:
            return self._method_node(identifier, parsed, subject, owner_id, owner)
        return TwinNode(identifier, self._kit.object_attributes(self._kit.shared_names(slot.name)),
                        [self._kit.type_reference(self._reference_object, NC.ObjectType)],
                        partial(self._object_references, identifier, slot.reference_type, owner_id, owner))

    def _object_references(self, identifier: ua.NodeId, reference_type: ua.NodeId, owner_id: ua.NodeId,
                           owner: model.Referable) -> list[ua.ReferenceDescription]:
        return [self._inverse(reference_type, owner_id, owner), *self._slot_references(identifier, _REFERENCE_SLOTS)]

    def read_value(self, identifier: ua.NodeId, _attribute: ua.AttributeIds = A.Value) -> ua.DataValue:
        """The current value of a computed Variable (its Value attribute's read callback)."""
        located = self._locate(identifier)
        read = located.chain[-1].read if located is not None and located.chain else None
        if located is None or read is None:
            return ua.DataValue(StatusCode=status(ua.StatusCodes.BadNodeIdUnknown))
        parsed = located.parsed
        handle = self._twin.find_live(parsed.identifier, parsed.path) if parsed.path else None
        return read(located.subject, handle)

    def value_slot(self, identifier: ua.NodeId) -> tuple[ParsedId, Slot] | None:
        """Where a client write to ``identifier``'s Value goes, if it is a computed Variable."""
        if identifier.NamespaceIndex != self._ns:
            return None
        located = self._locate(identifier)
        if located is None or not located.chain or located.chain[-1].node_class is not NC.Variable:
            return None
        return located.parsed, located.chain[-1]

    def structure_changed(self) -> None:
        """Forget every located node: the twin's elements were added, replaced or removed."""
        self._located.clear()

    def _locate(self, identifier: ua.NodeId) -> Located | None:
        """The element (and slots) a NodeId names; recently used ones are kept until the structure
        changes, so polling clients pay the path resolution once (measured: 4x the read rate)."""
        located = self._located.get(identifier)
        if located is not None:
            root = self._twin.shells.get(located.parsed.identifier) if located.parsed.shell \
                else self._twin.submodels.get(located.parsed.identifier)
            if root is located.root:
                return located
        parsed = parse(identifier.Identifier)
        found = self._find(parsed) if parsed is not None else None
        if parsed is None or found is None:
            self._located.pop(identifier, None)
            return None
        if len(self._located) >= _LOCATED_LIMIT:
            self._located.clear()
        root = self._twin.shells.get(parsed.identifier) if parsed.shell else self._twin.submodels.get(parsed.identifier)
        located = self._located[identifier] = Located(parsed, root, *found)
        return located

    # ------------------------------------------------------------- finding
    def _find(self, parsed: ParsedId) -> tuple[model.Referable, Subject, tuple[Slot, ...]] | None:
        """(the node's owning referable, what its value is read from, the slots from it) or None."""
        twin = self._twin
        owner: model.Referable | None
        if parsed.shell:
            owner = twin.shells.get(parsed.identifier)
        else:
            owner = twin.submodels.get(parsed.identifier)
            if owner is not None and parsed.path:
                try:
                    owner = paths.resolve(owner, parsed.path)  # type: ignore[arg-type]
                except paths.PathError:
                    return None
        if owner is None:
            return None
        subject: Subject = owner
        chain: list[Slot] = []
        slots: tuple[Slot, ...] | list[Slot] = self.slots(owner, parsed.path)
        for name in parsed.names:
            slot = next((candidate for candidate in slots if candidate.name == name), None)
            if slot is None:
                return None
            chain.append(slot)
            if slot.node_class is NC.Object:
                subject = _reference_of(subject, name)
                slots = _REFERENCE_SLOTS
            elif slot.node_class is NC.Method:
                slots = (_INPUTS, _OUTPUTS)
            else:
                slots = ()
        return owner, subject, tuple(chain)

    def slots(self, target: model.Referable, path: str) -> list[Slot]:
        """The fixed children of a shell, submodel or element, in browse order."""
        result: list[Slot] = []
        if isinstance(target, model.AssetAdministrationShell):
            return [_ID_SHORT, *([_CATEGORY] if target.category else []), _ID, _SHELL_ASSET, _ASSET_KIND]
        if not path.endswith("]") and target.id_short:
            result.append(_ID_SHORT)
        if target.category:
            result.append(_CATEGORY)
        if getattr(target, "semantic_id", None) is not None:
            result.append(_SEMANTIC_ID)
        if isinstance(target, model.Submodel):
            result += [_ID, _KIND]
        elif isinstance(target, model.Property):
            codec = codec_for(target.value_type)
            result += [self._property_slot(codec), self._value_type(codec)]
        elif isinstance(target, model.MultiLanguageProperty):
            result.append(_MLP_VALUE)
        elif isinstance(target, model.Range):
            result += self._range(codec_for(target.value_type))
        elif isinstance(target, model.File):
            result += [_FILE_VALUE, _CONTENT_TYPE]
        elif isinstance(target, model.Blob):
            result += [_BLOB_VALUE, _CONTENT_TYPE]
        elif isinstance(target, model.ReferenceElement):
            if target.value is not None:
                result.append(self._object_slots["Value"])
        elif isinstance(target, model.RelationshipElement):
            result += [self._object_slots["First"], self._object_slots["Second"]]
        elif isinstance(target, model.SubmodelElementList):
            result.append(_LIST_TYPE)
        elif isinstance(target, model.Entity):
            result += [_ENTITY_TYPE, _ENTITY_ASSET]
        elif isinstance(target, model.Operation):
            result.append(_INVOKE)
        return result

    def _property_slot(self, codec: Codec) -> Slot:
        slot = self._value_slots.get(codec)
        if slot is None:
            slot = self._value_slots[codec] = Slot(
                "Value", reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE,
                data_type=codec.data_type, read=_property_value(codec), codec=codec)
        return slot

    def _value_type(self, codec: Codec) -> Slot:
        slot = self._value_types.get(codec)
        if slot is None:
            slot = self._value_types[codec] = _string_slot("ValueType", lambda _subject: codec.xsd)
        return slot

    def _range(self, codec: Codec) -> tuple[Slot, Slot, Slot]:
        slots = self._range_slots.get(codec)
        if slots is None:
            low, high = (Slot(name, reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE,
                              data_type=codec.data_type, read=_bound(codec, name)) for name in ("Min", "Max"))
            slots = self._range_slots[codec] = (low, high, self._value_type(codec))
        return slots

    # --------------------------------------------------------------- nodes
    def _element_node(self, identifier: ua.NodeId, parsed: ParsedId, element: model.SubmodelElement) -> TwinNode:
        kit = self._kit
        description = None
        if element.description:
            texts = dict(element.description.items())
            locale = "en" if "en" in texts else next(iter(texts))
            description = kit.description(texts[locale], locale)
        return TwinNode(identifier, kit.object_attributes(self.element_names(element, parsed.path), description),
                        [kit.type_reference(self._types.for_element(element), NC.ObjectType)],
                        partial(self._element_references, identifier, parsed, element))

    def _variable_node(self, identifier: ua.NodeId, parsed: ParsedId, slot: Slot, owner_id: ua.NodeId,
                       owner: model.Referable) -> TwinNode:
        kit = self._kit
        owner_key: Owner = (parsed.identifier, None if parsed.shell else parsed.path)
        attribute = self.watchers.attribute(identifier, owner_key, slot.codec)
        attributes = kit.variable_attributes(kit.shared_names(slot.name), slot.data_type, attribute, array=slot.array,
                                             access=self._access if slot.codec is not None else None)
        return TwinNode(identifier, attributes, [kit.type_reference(slot.type_definition, NC.VariableType)],
                        partial(self._inverse_only, slot.reference_type, owner_id, owner))

    def _method_node(self, identifier: ua.NodeId, parsed: ParsedId, operation: model.Operation,
                     owner_id: ua.NodeId, owner: model.Referable) -> TwinNode:
        kit = self._kit
        call = self.method_call(parsed.identifier, parsed.path, operation) if self.method_call is not None else None
        links = [self._inverse(HAS_COMPONENT, owner_id, owner)]
        links += self._slot_references(identifier, (_INPUTS, _OUTPUTS))
        return TwinNode(identifier, kit.method_attributes(kit.shared_names(_INVOKE.name)), links, call=call)

    # ---------------------------------------------------------- references
    def element_names(self, element: model.SubmodelElement, path: str) -> Names:
        """An element's BrowseName: its idShort, or ``[i]`` for a list item (basyx gives those a placeholder)."""
        if path.endswith("]"):
            return self._kit.shared_names(path[path.rfind("["):])
        return self._kit.shared_names(element.id_short or "")

    def identifiable_references(self, shell: bool, identifier: str) -> list[ua.ReferenceDescription]:
        """The computed children of a stored shell or submodel node: its fixed children and top-level elements."""
        twin = self._twin
        target: model.Referable | None = twin.shells.get(identifier) if shell else twin.submodels.get(identifier)
        if target is None:
            return []
        node = shell_node_id(self._ns, identifier) if shell else submodel_node_id(self._ns, identifier)
        references = self._slot_references(node, self.slots(target, ""))
        if isinstance(target, model.Submodel):
            references += self._children(identifier, "", target)
        return references

    def _element_references(self, identifier: ua.NodeId, parsed: ParsedId,
                            element: model.SubmodelElement) -> list[ua.ReferenceDescription]:
        segments = paths.parse(parsed.path)
        parent_path = paths.format_path(segments[:-1])
        if parent_path:
            parent_id = element_node_id(self._ns, parsed.identifier, parent_path)
            parent = self._twin.element(parsed.identifier, parent_path)
            inverse = reference(HAS_COMPONENT, parent_id, self.element_names(parent, parent_path), NC.Object,
                                self._types.for_element(parent), forward=False)
        else:
            inverse = self._inverse(HAS_COMPONENT, submodel_node_id(self._ns, parsed.identifier), None)
        return [inverse, *self._slot_references(identifier, self.slots(element, parsed.path)),
                *self._children(parsed.identifier, parsed.path, element)]

    def _children(self, submodel_id: str, path: str, parent: model.Referable) -> list[ua.ReferenceDescription]:
        ns, types = self._ns, self._types
        in_list = isinstance(parent, model.SubmodelElementList)
        references = []
        for index, child in enumerate(paths.children(parent)):
            if in_list:
                child_path = f"{path}[{index}]"
            elif path:
                child_path = f"{path}.{child.id_short}"
            else:
                child_path = child.id_short or ""
            references.append(reference(HAS_COMPONENT, element_node_id(ns, submodel_id, child_path),
                                        self.element_names(child, child_path), NC.Object, types.for_element(child)))
        return references

    def _slot_references(self, identifier: ua.NodeId, slots: tuple[Slot, ...] | list[Slot]
                         ) -> list[ua.ReferenceDescription]:
        kit = self._kit
        return [reference(slot.reference_type, child_id(identifier, slot.name), kit.shared_names(slot.name),
                          slot.node_class, slot.type_definition) for slot in slots]

    def _inverse(self, reference_type: ua.NodeId, owner_id: ua.NodeId,
                 owner: model.Referable | None) -> ua.ReferenceDescription:
        """The reference back to the parent; a stored parent gives its own names and type."""
        node = _stored(self._owner_node, owner_id)
        if node is not None:
            browse = node.attributes[A.BrowseName].value
            display = node.attributes[A.DisplayName].value
            names = Names(browse.Value.Value if browse and browse.Value else ua.QualifiedName(),  # type: ignore[union-attr]
                          display.Value.Value if display and display.Value else ua.LocalizedText())  # type: ignore[union-attr]
            links = node.links if isinstance(node, TwinNode) else node.references  # not the computed children
            type_definition = next((ref.NodeId for ref in links
                                    if ref.IsForward and ref.ReferenceTypeId == _HAS_TYPE), ua.NodeId())
        else:
            parsed = parse(owner_id.Identifier)
            path = parsed.path if parsed is not None else ""
            names = self.element_names(owner, path)  # type: ignore[arg-type]
            type_definition = self._types.for_element(owner)  # type: ignore[arg-type]
        return reference(reference_type, owner_id, names, NC.Object, type_definition, forward=False)

    def _inverse_only(self, reference_type: ua.NodeId, owner_id: ua.NodeId,
                      owner: model.Referable) -> list[ua.ReferenceDescription]:
        return [self._inverse(reference_type, owner_id, owner)]

    # --------------------------------------------------------------- access
    def _access_level(self, identifier: ua.NodeId, _attribute: ua.AttributeIds) -> ua.DataValue:
        """A Property's Value is writable unless a device feeds it without write-back (bindings change)."""
        level = READ_WRITE
        parsed = parse(identifier.Identifier)
        if parsed is not None and not parsed.shell:
            handle = self._twin.find_live(parsed.identifier, parsed.path)
            if handle is not None and self._twin.is_bound(handle) and handle.writer is None:
                level = READ
        return ua.DataValue(ua.Variant(level, VT.Byte))


_HAS_TYPE = node_id(ua.ObjectIds.HasTypeDefinition)


def _stored(owner_node: Callable[[bool, str], NodeData | None], owner_id: ua.NodeId) -> NodeData | None:
    """The stored shell or submodel node ``owner_id`` names (None for an element)."""
    identifier = str(owner_id.Identifier)
    if "#" in identifier:
        return None
    if identifier.startswith(SHELL):
        return owner_node(True, unescape(identifier[len(SHELL):]))
    if identifier.startswith(SUBMODEL):
        return owner_node(False, unescape(identifier[len(SUBMODEL):]))
    return None


def _owner_id(identifier: ua.NodeId) -> ua.NodeId:
    """The NodeId a fixed child hangs under: cut its last ``/name`` (and a ``#`` left bare)."""
    text = str(identifier.Identifier)
    owner = text[:text.rfind("/")]
    if owner.endswith("#"):
        owner = owner[:-1]
    return node_id(owner, identifier.NamespaceIndex)


def _reference_of(element: Subject, name: str) -> model.Reference | None:
    if name == "Value":
        return element.value  # type: ignore[no-any-return]
    return element.first if name == "First" else element.second  # type: ignore[no-any-return]
