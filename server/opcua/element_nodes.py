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

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from asyncua import ua
from basyx.aas import model

from twinbridge.aas import paths
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.compat_asyncua import NodeData
from twinbridge.server.opcua.datatypes import VT, node_id, status
from twinbridge.server.opcua.ids import (
    SHELL,
    SUBMODEL,
    ParsedId,
    element_node_id,
    escape,
    parse,
    shell_node_id,
    submodel_node_id,
    unescape,
)
from twinbridge.server.opcua.nodes import (
    HAS_COMPONENT,
    ORGANIZES,
    READ,
    READ_WRITE,
    Names,
    NodeKit,
    TwinNode,
    child_id,
    computed,
    reference,
)
from twinbridge.server.opcua.slots import Namespace, Slot, SlotCatalog, Subject, identifier_kind, reference_text
from twinbridge.server.opcua.targets import Target, target_of
from twinbridge.server.opcua.types import AasTypes
from twinbridge.server.opcua.watched import Owner, Watchers

A = ua.AttributeIds
NC = ua.NodeClass
MethodCall = Callable[[str, str, model.Operation], Callable[..., Awaitable[Any]]]

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

    def current_subject(self) -> Subject:
        """What the last slot reads now: a value write replaces a ReferenceElement's Reference object."""
        if not any(slot.descend is not None for slot in self.chain):
            return self.subject
        subject: Subject = self.owner
        for slot in self.chain:
            if slot.descend is not None:
                subject = slot.descend(subject)
        return subject


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
        self.historizing = False
        """Set once the history serves HistoryRead: Property values then say Historizing and HistoryRead."""
        self._catalog = SlotCatalog(types)
        self._slot_namespaces = {Namespace.I4AAS: types.i4aas_index, Namespace.OWN: kit.ns, Namespace.BASE: 0}
        self._located: dict[ua.NodeId, Located] = {}
        self._dictionary: list[ua.ReferenceDescription] | None = None

    # ------------------------------------------------------------ the source
    def __call__(self, identifier: ua.NodeId) -> NodeData | None:
        if identifier.NamespaceIndex != self._ns:
            return None
        if isinstance(identifier.Identifier, str) and identifier.Identifier.startswith(DICTIONARY_ENTRY):
            return self._dictionary_entry(identifier)
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
            return self._variable_node(identifier, parsed, chain, owner_id, owner)
        if slot.node_class is NC.Method:
            return self._method_node(identifier, parsed, subject, chain, owner_id, owner)
        return TwinNode(identifier, self._kit.object_attributes(self.slot_names(slot)),
                        [self._kit.type_reference(slot.type_definition, NC.ObjectType)],
                        partial(self._object_references, identifier, chain, owner_id, owner))

    def _object_references(self, identifier: ua.NodeId, chain: tuple[Slot, ...], owner_id: ua.NodeId,
                           owner: model.Referable) -> list[ua.ReferenceDescription]:
        references = [self._slot_inverse(chain, owner_id, owner),
                      *self._slot_references(identifier, chain[-1].children)]
        if chain[-1].type_definition == self._types.ids["AASReferenceType"]:
            located = self._locate(identifier)
            target = target_of(self._twin, located.current_subject()) if located is not None else None
            pointer = self._aas_reference(target) if target is not None else None
            if pointer is not None:
                references.append(pointer)
        return references

    def _aas_reference(self, target: Target) -> ua.ReferenceDescription | None:
        """OPC 30270's ``AASReference`` from a reference object to the node its keys name."""
        aas_reference = self._types.ids["AASReference"]
        if target.path:
            element = self._twin.element(target.identifier, target.path)
            return reference(aas_reference, element_node_id(self._ns, target.identifier, target.path),
                             self.element_names(element, target.path), NC.Object, self._types.for_element(element))
        node = (shell_node_id if target.shell else submodel_node_id)(self._ns, target.identifier)
        if _stored(self._owner_node, node) is None:  # not mirrored yet: its structure event is pending
            return None
        return self._inverse(aas_reference, node, None, forward=True)

    def slot_names(self, slot: Slot) -> Names:
        return self._kit.names_in(slot.name, self._slot_namespaces[slot.namespace])

    def _slot_inverse(self, chain: tuple[Slot, ...], owner_id: ua.NodeId,
                      owner: model.Referable) -> ua.ReferenceDescription:
        """The reference back from a fixed child to its parent: an element, shell or submodel, or the
        Object slot it sits in (``Identification`` below ``Asset``...)."""
        slot = chain[-1]
        if len(chain) == 1:
            return self._inverse(slot.reference_type, owner_id, owner)
        parent = chain[-2]
        return reference(slot.reference_type, owner_id, self.slot_names(parent), parent.node_class,
                         parent.type_definition, forward=False)

    def _dictionary_entry(self, identifier: ua.NodeId) -> TwinNode:
        """The dictionary entry a semanticId names (OPC 30270's concept description types, Part 19's
        HasDictionaryEntry points at it): its BrowseName is the semanticId itself."""
        semantic_id = unescape(str(identifier.Identifier)[len(DICTIONARY_ENTRY):])
        return TwinNode(identifier, self._kit.object_attributes(self._kit.shared_names(semantic_id)),
                        [self._kit.type_reference(self._entry_type(semantic_id), NC.ObjectType), _IN_DICTIONARIES])

    def _entry_type(self, semantic_id: str) -> ua.NodeId:
        return self._types.ids[_ENTRY_TYPES[identifier_kind(semantic_id)]]

    def _dictionary_references(self, referable: model.Referable) -> list[ua.ReferenceDescription]:
        semantic_id = reference_text(getattr(referable, "semantic_id", None))
        if semantic_id is None:
            return []
        return [reference(HAS_DICTIONARY_ENTRY, node_id(DICTIONARY_ENTRY + escape(semantic_id), self._ns),
                          self._kit.shared_names(semantic_id), NC.Object, self._entry_type(semantic_id))]

    def read_value(self, identifier: ua.NodeId, _attribute: ua.AttributeIds = A.Value) -> ua.DataValue:
        """The current value of a computed Variable (its Value attribute's read callback)."""
        located = self._locate(identifier)
        read = located.chain[-1].read if located is not None and located.chain else None
        if located is None or read is None:
            return ua.DataValue(StatusCode=status(ua.StatusCodes.BadNodeIdUnknown))
        parsed = located.parsed
        handle = self._twin.find_live(parsed.identifier, parsed.path) if parsed.path else None
        return read(located.current_subject(), handle)

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
        self._dictionary = None

    def dictionary_entries(self) -> list[ua.ReferenceDescription]:
        """What ``Server/Dictionaries`` organizes: one entry per distinct semanticId of the twin's
        submodels and elements, collected on the first browse after a structure change."""
        if self._dictionary is None:
            semantic_ids: dict[str, None] = {}
            pending: list[model.Referable] = list(self._twin.submodels.values())
            while pending:
                referable = pending.pop()
                text = reference_text(getattr(referable, "semantic_id", None))
                if text is not None:
                    semantic_ids[text] = None
                pending += paths.children(referable)
            self._dictionary = [
                reference(ORGANIZES, node_id(DICTIONARY_ENTRY + escape(text), self._ns), self._kit.shared_names(text),
                          NC.Object, self._entry_type(text)) for text in sorted(semantic_ids)]
        return self._dictionary

    def _locate(self, identifier: ua.NodeId) -> Located | None:
        """The element (and slots) a NodeId names. Found ones are kept until the mirror applies
        the next structure event (or their shell/submodel object is replaced), so polling clients
        pay the path resolution once: 12x the read rate, measured. Between a structural edit and
        that event (milliseconds) a read may still see the element the edit detached."""
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
        slots: tuple[Slot, ...] | list[Slot] = self._catalog.slots(owner, parsed.path)
        for name in parsed.names:
            slot = next((candidate for candidate in slots if candidate.name == name), None)
            if slot is None:
                return None
            chain.append(slot)
            if slot.descend is not None:
                subject = slot.descend(subject)
            slots = slot.children
        return owner, subject, tuple(chain)

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

    def _variable_node(self, identifier: ua.NodeId, parsed: ParsedId, chain: tuple[Slot, ...], owner_id: ua.NodeId,
                       owner: model.Referable) -> TwinNode:
        kit = self._kit
        slot = chain[-1]
        owner_key: Owner = (parsed.identifier, None if parsed.shell else parsed.path)
        attribute = self.watchers.attribute(identifier, owner_key, slot.codec)
        value_of_property = slot.codec is not None
        attributes = kit.variable_attributes(self.slot_names(slot), slot.data_type, attribute, array=slot.array,
                                             access=self._access if value_of_property else None,
                                             historizing=self.historizing and value_of_property)
        return TwinNode(identifier, attributes, [kit.type_reference(slot.type_definition, NC.VariableType)],
                        partial(self._inverse_only, chain, owner_id, owner))

    def _method_node(self, identifier: ua.NodeId, parsed: ParsedId, operation: model.Operation,
                     chain: tuple[Slot, ...], owner_id: ua.NodeId, owner: model.Referable) -> TwinNode:
        kit = self._kit
        slot = chain[-1]
        call = self.method_call(parsed.identifier, parsed.path, operation) if self.method_call is not None else None
        links = [self._slot_inverse(chain, owner_id, owner), *self._slot_references(identifier, slot.children)]
        return TwinNode(identifier, kit.method_attributes(self.slot_names(slot)), links, call=call)

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
        references = self._slot_references(node, self._catalog.slots(target, ""))
        if isinstance(target, model.Submodel):
            references += self._dictionary_references(target)
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
        return [inverse, *self._slot_references(identifier, self._catalog.slots(element, parsed.path)),
                *self._dictionary_references(element), *self._children(parsed.identifier, parsed.path, element)]

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
        return [reference(slot.reference_type, child_id(identifier, slot.name), self.slot_names(slot),
                          slot.node_class, slot.type_definition) for slot in slots]

    def _inverse(self, reference_type: ua.NodeId, owner_id: ua.NodeId,
                 owner: model.Referable | None, *, forward: bool = False) -> ua.ReferenceDescription:
        """The reference back to the parent (or, ``forward``, to a node); a stored one gives its own
        names and type."""
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
        return reference(reference_type, owner_id, names, NC.Object, type_definition, forward=forward)

    def _inverse_only(self, chain: tuple[Slot, ...], owner_id: ua.NodeId,
                      owner: model.Referable) -> list[ua.ReferenceDescription]:
        return [self._slot_inverse(chain, owner_id, owner)]

    # --------------------------------------------------------------- access
    def _access_level(self, identifier: ua.NodeId, _attribute: ua.AttributeIds) -> ua.DataValue:
        """A Property's Value is writable unless a device feeds it without write-back (bindings change)."""
        level = READ_WRITE
        parsed = parse(identifier.Identifier)
        if parsed is not None and not parsed.shell:
            handle = self._twin.find_live(parsed.identifier, parsed.path)
            if handle is not None and self._twin.is_bound(handle) and handle.writer is None:
                level = READ
        if self.historizing:
            level |= ua.AccessLevel.HistoryRead.mask
        return ua.DataValue(ua.Variant(level, VT.Byte))


_HAS_TYPE = node_id(ua.ObjectIds.HasTypeDefinition)
DICTIONARIES = node_id(ua.ObjectIds.Dictionaries)
_IN_DICTIONARIES = ua.ReferenceDescription(
    ReferenceTypeId=node_id(ua.ObjectIds.Organizes), IsForward=False, NodeId=DICTIONARIES,
    BrowseName=ua.QualifiedName("Dictionaries", 0), DisplayName=ua.LocalizedText("Dictionaries"),
    NodeClass=NC.Object, TypeDefinition=node_id(ua.ObjectIds.FolderType))
HAS_DICTIONARY_ENTRY = node_id(ua.ObjectIds.HasDictionaryEntry)
DICTIONARY_ENTRY = "cd:"
"""NodeId prefix of a semanticId's dictionary entry node (``cd:<escaped semanticId>``)."""
_ENTRY_TYPES = ("AASIrdiConceptDescriptionType", "AASIriConceptDescriptionType", "AASCustomConceptDescriptionType")
"""By OPC 30270's identifier kind of the semanticId: IRDI, IRI, Custom."""


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
