"""Maps the twin's shells, submodels and elements onto address-space nodes, in bulk.

Layout: ``Objects/AASEnvironment/<shell>/<submodel>/<element>/...``. A submodel node is
referenced (HasComponent) by every shell that lists it; a submodel no shell lists sits
directly under AASEnvironment. NodeIds are derived from ids and idShortPaths, so they are
stable across restarts: ``aas:<shell id>``, ``sm:<submodel id>``, ``sm:<submodel id>#<path>``,
and for fixed children such as ``Value`` or ``IdShort`` ``<element node id>/<child>`` or
``<shell or submodel node id>#/<child>`` ('%' and '#' in ids are percent-escaped, and
idShortPaths hold no '/', so every id has one reading).
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from asyncua import ua
from asyncua.server.address_space import AttributeValue, NodeData
from basyx.aas import model

from twinbridge.aas import paths
from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.datatypes import VT, Codec, codec_for, data_value, node_id, utc
from twinbridge.server.opcua.nodes import HAS_COMPONENT, ORGANIZES, READ, READ_WRITE, NodeFactory, child_id
from twinbridge.server.opcua.types import AasTypes

FOLDER_TYPE = node_id(ua.ObjectIds.FolderType)
OBJECTS = node_id(ua.ObjectIds.ObjectsFolder)
_STRING = node_id(VT.String.value)
_LOCALIZED_TEXT = node_id(VT.LocalizedText.value)
_BYTE_STRING = node_id(VT.ByteString.value)


def _escape(identifier: str) -> str:
    return identifier.replace("%", "%25").replace("#", "%23")


def shell_node_id(ns: int, shell_id: str) -> ua.NodeId:
    return node_id(f"aas:{_escape(shell_id)}", ns)


def submodel_node_id(ns: int, submodel_id: str) -> ua.NodeId:
    return node_id(f"sm:{_escape(submodel_id)}", ns)


def element_node_id(ns: int, submodel_id: str, path: str) -> ua.NodeId:
    return node_id(f"sm:{_escape(submodel_id)}#{path}", ns)


class ValueNode:
    """A Variable that carries an element's value; ``writable`` only for a Property's Value."""

    __slots__ = ("attribute", "codec", "node_id", "path", "submodel_id", "writable")

    def __init__(self, node_id: ua.NodeId, attribute: AttributeValue, codec: Codec | None,
                 submodel_id: str, path: str, writable: bool) -> None:
        self.node_id = node_id
        self.attribute = attribute
        self.codec = codec
        self.submodel_id = submodel_id
        self.path = path
        self.writable = writable


@dataclass(frozen=True, slots=True)
class PendingOperation:
    """An Operation node that still needs its Method (methods are added with asyncua's helpers)."""

    node_id: ua.NodeId
    submodel_id: str
    path: str
    operation: model.Operation


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


class EnvironmentBuilder:
    """Builds and edits the AASEnvironment subtree; keeps the value-node indexes the mirror uses."""

    def __init__(self, factory: NodeFactory, types: AasTypes, twin: Twin) -> None:
        self.factory = factory
        self.types = types
        self.twin = twin
        self.ns = factory.ns
        self.values: dict[ua.NodeId, ValueNode] = {}
        """Every value-carrying Variable by NodeId (client writes look here)."""
        self.by_path: dict[tuple[str, str], ValueNode] = {}
        """Property Value nodes by (submodel id, idShortPath) (the live mirror looks here)."""
        self.pending_operations: list[PendingOperation] = []
        self._shell_names = UniqueNames()
        self._submodel_names: dict[str, UniqueNames] = {}
        """Submodel BrowseNames are unique per first referencing shell ("" for unreferenced ones)."""
        self._submodel_scope: dict[str, str] = {}
        self._parents_of: dict[str, list[ua.NodeId]] = {}
        self._property_access = factory.access_level(self._property_access_level)
        self.environment: NodeData = self._environment()

    # -------------------------------------------------------------- whole
    def build_all(self) -> None:
        """Mirror the whole environment; the cyclic GC pauses meanwhile (it would rescan the
        growing node graph again and again, which halves the build rate at 100,000 properties)."""
        with collector_paused():
            first_shell: dict[str, str] = {}
            for shell in self.twin.shells.values():
                for submodel_id in _submodel_ids(shell):
                    first_shell.setdefault(submodel_id, shell.id)
            for submodel in list(self.twin.submodels.values()):
                self.add_submodel(submodel, link=False, scope=first_shell.get(submodel.id, ""))
            for shell in list(self.twin.shells.values()):
                self.add_shell(shell)
            for submodel_id in list(self.twin.submodels):
                self._place_orphan(submodel_id)

    def _environment(self) -> NodeData:
        environment_id = node_id("AASEnvironment", self.ns)
        existing = self.factory.aspace.get(environment_id)
        if existing is not None:
            return existing
        objects = self.factory.aspace[OBJECTS]
        return self.factory.add_object(objects, environment_id, self.factory.names("AASEnvironment"), FOLDER_TYPE,
                                       ORGANIZES)

    # -------------------------------------------------------------- shells
    def add_shell(self, shell: model.AssetAdministrationShell) -> NodeData:
        names = self.factory.names(self._shell_names.claim(shell.id, shell.id_short or shell.id),
                                   shell.id_short or shell.id)
        node = self.factory.add_object(self.environment, shell_node_id(self.ns, shell.id), names,
                                       self.types.ids["AASAssetAdministrationShellType"])
        self._referable(node, shell, shell.id_short)
        self.factory.add_string(node, "Id", shell.id)
        info = shell.asset_information
        self.factory.add_string(node, "GlobalAssetId", info.global_asset_id)
        self.factory.add_string(node, "AssetKind", info.asset_kind.name)
        for submodel_id in _submodel_ids(shell):
            self._link_submodel(node, submodel_id)
        return node

    def remove_shell(self, shell_id: str) -> None:
        shell_id_node = shell_node_id(self.ns, shell_id)
        shell_node = self.factory.aspace.get(shell_id_node)
        orphans = []
        for submodel_id, parents in self._parents_of.items():
            if shell_id_node in parents:
                parents.remove(shell_id_node)
                if shell_node is not None:
                    self.factory.unlink(shell_node, submodel_node_id(self.ns, submodel_id), HAS_COMPONENT)
                orphans.append(submodel_id)
        for removed in self.factory.remove(shell_id_node, self.environment):
            self._forget(removed)
        self._shell_names.release(shell_id)
        for submodel_id in orphans:
            self._place_orphan(submodel_id)

    def _link_submodel(self, shell_node: NodeData, submodel_id: str) -> None:
        target = self.factory.aspace.get(submodel_node_id(self.ns, submodel_id))
        if target is None:
            return
        parents = self._parents_of.setdefault(submodel_id, [])
        if self.environment.nodeid in parents:
            self.factory.unlink(self.environment, target.nodeid, HAS_COMPONENT)
            parents.remove(self.environment.nodeid)
        if shell_node.nodeid not in parents:
            self.factory.link(shell_node, target, HAS_COMPONENT)
            parents.append(shell_node.nodeid)

    def place_submodel(self, submodel_id: str) -> None:
        """Link a submodel below every shell that lists it, or below AASEnvironment if none does."""
        target = self.factory.aspace.get(submodel_node_id(self.ns, submodel_id))
        if target is None:
            return
        for shell in self.twin.shells.values():
            if submodel_id in _submodel_ids(shell):
                shell_node = self.factory.aspace.get(shell_node_id(self.ns, shell.id))
                if shell_node is not None:
                    self._link_submodel(shell_node, submodel_id)
        self._place_orphan(submodel_id)

    def _place_orphan(self, submodel_id: str) -> None:
        target = self.factory.aspace.get(submodel_node_id(self.ns, submodel_id))
        parents = self._parents_of.setdefault(submodel_id, [])
        if target is not None and not parents:
            self.factory.link(self.environment, target, HAS_COMPONENT)
            parents.append(self.environment.nodeid)

    # ----------------------------------------------------------- submodels
    def add_submodel(self, submodel: model.Submodel, link: bool = True, scope: str | None = None) -> None:
        if scope is None:
            scope = next((shell.id for shell in self.twin.shells.values() if submodel.id in _submodel_ids(shell)), "")
        self._submodel_scope[submodel.id] = scope
        names = self._submodel_names.setdefault(scope, UniqueNames())
        name = names.claim(submodel.id, submodel.id_short or submodel.id)
        node = self.factory.add_object(None, submodel_node_id(self.ns, submodel.id),
                                       self.factory.names(name, submodel.id_short or submodel.id),
                                       self.types.ids["AASSubmodelType"])
        self._referable(node, submodel, submodel.id_short)
        self.factory.add_string(node, "Id", submodel.id)
        self.factory.add_string(node, "Kind", submodel.kind.name if submodel.kind is not None else None)
        for element in submodel.submodel_element:
            self._element(node, submodel.id, element, element.id_short or "")
        if link:
            self.place_submodel(submodel.id)

    def remove_submodel(self, submodel_id: str) -> None:
        submodel_id_node = submodel_node_id(self.ns, submodel_id)
        for parent_id in self._parents_of.pop(submodel_id, []):
            parent = self.factory.aspace.get(parent_id)
            if parent is not None:
                self.factory.unlink(parent, submodel_id_node, HAS_COMPONENT)
        for removed in self.factory.remove(submodel_id_node):
            self._forget(removed)
        scope = self._submodel_scope.pop(submodel_id, None)
        if scope is not None:
            self._submodel_names[scope].release(submodel_id)

    # ------------------------------------------------------------ elements
    def add_element(self, submodel_id: str, path: str) -> None:
        """Build the element at ``path`` (and its subtree) under its parent node."""
        element = self.twin.element(submodel_id, path)
        segments = paths.parse(path)
        parent_path = paths.format_path(segments[:-1])
        parent_id = element_node_id(self.ns, submodel_id, parent_path) if parent_path \
            else submodel_node_id(self.ns, submodel_id)
        parent = self.factory.aspace.get(parent_id)
        if parent is not None:
            self._element(parent, submodel_id, element, path)

    def remove_element(self, submodel_id: str, path: str) -> None:
        segments = paths.parse(path)
        parent_path = paths.format_path(segments[:-1])
        parent_id = element_node_id(self.ns, submodel_id, parent_path) if parent_path \
            else submodel_node_id(self.ns, submodel_id)
        for removed in self.factory.remove(element_node_id(self.ns, submodel_id, path),
                                           self.factory.aspace.get(parent_id)):
            self._forget(removed)

    def _element(self, parent: NodeData, submodel_id: str, element: model.SubmodelElement, path: str) -> None:
        factory = self.factory
        in_list = path.endswith("]")  # list items carry no idShort (basyx fills in a placeholder)
        names = factory.shared_names(path[path.rfind("["):] if in_list else element.id_short or "")
        node = factory.add_object(parent, element_node_id(self.ns, submodel_id, path), names,
                                  self.types.for_element(element))
        self._referable(node, element, None if in_list else element.id_short)
        if isinstance(element, model.Property):
            self._property(node, submodel_id, path, element)
        elif isinstance(element, model.MultiLanguageProperty):
            texts = [ua.LocalizedText(text, language) for language, text in (element.value or {}).items()]
            self._value(node, submodel_id, path, "Value", ua.DataValue(ua.Variant(texts, VT.LocalizedText,
                                                                                   is_array=True)),
                        _LOCALIZED_TEXT, array=True)
        elif isinstance(element, model.Range):
            codec = codec_for(element.value_type)
            now = datetime.datetime.now(datetime.UTC)
            for name, bound in (("Min", element.min), ("Max", element.max)):
                self._value(node, submodel_id, path, name, data_value(codec, bound, Quality.GOOD, None, now),
                            codec.data_type)
            factory.add_string(node, "ValueType", codec.xsd)
        elif isinstance(element, model.File):
            self._value(node, submodel_id, path, "Value", ua.DataValue(ua.Variant(element.value, VT.String)),
                        _STRING)
            factory.add_string(node, "ContentType", element.content_type)
        elif isinstance(element, model.Blob):
            self._value(node, submodel_id, path, "Value",
                        ua.DataValue(ua.Variant(bytes(element.value) if element.value else None, VT.ByteString)),
                        _BYTE_STRING)
            factory.add_string(node, "ContentType", element.content_type)
        elif isinstance(element, model.ReferenceElement):
            self._reference(node, "Value", element.value)
        elif isinstance(element, model.RelationshipElement):
            self._reference(node, "First", element.first)
            self._reference(node, "Second", element.second)
        elif isinstance(element, model.SubmodelElementList):
            factory.add_string(node, "TypeValueListElement", element.type_value_list_element.__name__)
        elif isinstance(element, model.Entity):
            factory.add_string(node, "EntityType", element.entity_type.name if element.entity_type else None)
            factory.add_string(node, "GlobalAssetId", element.global_asset_id)
        elif isinstance(element, model.Operation):
            self.pending_operations.append(PendingOperation(node.nodeid, submodel_id, path, element))
        for index, child in enumerate(paths.children(element)):
            if isinstance(element, model.SubmodelElementList):
                child_path = f"{path}[{index}]"
            else:
                child_path = f"{path}.{child.id_short}"
            self._element(node, submodel_id, child, child_path)

    def _property(self, node: NodeData, submodel_id: str, path: str, element: model.Property) -> None:
        codec = codec_for(element.value_type)
        handle = self.twin.find_live(submodel_id, path)
        quality = handle.quality if handle is not None else Quality.GOOD
        timestamp = handle.timestamp if handle is not None else None
        value = data_value(codec, element.value, quality, utc(timestamp), datetime.datetime.now(datetime.UTC))
        entry = self._value(node, submodel_id, path, "Value", value, codec.data_type, codec=codec,
                            writable=True)
        self.by_path[(submodel_id, path)] = entry
        self.factory.add_string(node, "ValueType", codec.xsd)

    def _value(self, node: NodeData, submodel_id: str, path: str, name: str, value: ua.DataValue,
               data_type: ua.NodeId, *, codec: Codec | None = None, writable: bool = False,
               array: bool = False) -> ValueNode:
        value_id = child_id(node.nodeid, name)
        _, attribute = self.factory.add_variable(
            node, value_id, self.factory.shared_names(name), value, data_type, is_property=False, array=array,
            access_level=self._property_access if writable else None)
        entry = ValueNode(value_id, attribute, codec, submodel_id, path, writable)
        self.values[value_id] = entry
        return entry

    def _reference(self, node: NodeData, name: str, reference: model.Reference | None) -> None:
        if reference is None:
            return
        target = self.factory.add_object(node, child_id(node.nodeid, name), self.factory.shared_names(name),
                                         self.types.ids["AASReferenceType"])
        keys = reference_keys(reference)
        self.factory.add_variable(target, child_id(target.nodeid, "Keys"), self.factory.shared_names("Keys"),
                                  ua.DataValue(ua.Variant(keys, VT.String, is_array=True)), _STRING, array=True)
        self.factory.add_string(target, "Type", type(reference).__name__)

    def _referable(self, node: NodeData, referable: model.Referable, id_short: str | None) -> None:
        self.factory.add_string(node, "IdShort", id_short)
        if referable.description:
            texts = dict(referable.description.items())
            locale = "en" if "en" in texts else next(iter(texts))
            self.factory.describe(node, texts[locale], locale)
        if referable.category:
            self.factory.add_string(node, "Category", referable.category)
        semantic = getattr(referable, "semantic_id", None)
        if semantic is not None:
            self.factory.add_string(node, "SemanticId", reference_text(semantic))

    # ------------------------------------------------------------ helpers
    def _forget(self, node_id: ua.NodeId) -> None:
        entry = self.values.pop(node_id, None)
        if entry is not None and entry.writable:
            self.by_path.pop((entry.submodel_id, entry.path), None)

    def _property_access_level(self, node_id: ua.NodeId, _attribute: ua.AttributeIds) -> ua.DataValue:
        """Writable unless a device feeds the Property without write-back (bindings may change)."""
        entry = self.values.get(node_id)
        level = READ_WRITE
        if entry is not None:
            handle = self.twin.find_live(entry.submodel_id, entry.path)
            if handle is not None and self.twin.is_bound(handle) and handle.writer is None:
                level = READ
        return ua.DataValue(ua.Variant(level, VT.Byte))



def _submodel_ids(shell: model.AssetAdministrationShell) -> list[str]:
    return [str(keys[-1].value) for keys in (list(reference.key) for reference in shell.submodel) if keys]


class UniqueNames:
    """BrowseNames unique among siblings; a duplicate idShort gets a suffix derived from the id."""

    def __init__(self) -> None:
        self._by_id: dict[str, str] = {}
        self._used: set[str] = set()

    def claim(self, identifier: str, wanted: str) -> str:
        existing = self._by_id.get(identifier)
        if existing is not None:
            return existing
        name = wanted
        if name in self._used:
            name = f"{wanted}~{hashlib.sha1(identifier.encode()).hexdigest()[:8]}"
        self._by_id[identifier] = name
        self._used.add(name)
        return name

    def release(self, identifier: str) -> None:
        name = self._by_id.pop(identifier, None)
        if name is not None:
            self._used.discard(name)

