"""The stored part of the address space: AASEnvironment, one node per shell and per submodel.

Layout: ``Objects/AASEnvironment/<shell>/<submodel>/<element>/...``. A submodel node is
referenced (HasComponent) by every shell that lists it; a submodel no shell lists sits
directly under AASEnvironment. Only these nodes are stored (their BrowseNames must be unique
among siblings, which needs state); their fixed children and every element below are computed
from the twin on request (``element_nodes``). Building the 1,000-machine plant (6,111 shells,
16,222 submodels) thus stores ~22,000 nodes instead of ~1,000,000.
"""

from __future__ import annotations

import contextlib
import hashlib

from asyncua import ua
from basyx.aas import model

from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.compat_asyncua import AddressSpace, NodeData
from twinbridge.server.opcua.datatypes import node_id
from twinbridge.server.opcua.element_nodes import ElementNodes
from twinbridge.server.opcua.ids import shell_node_id, submodel_node_id
from twinbridge.server.opcua.nodes import HAS_COMPONENT, ORGANIZES, Names, NodeKit, TwinNode, reference
from twinbridge.server.opcua.types import AasTypes

FOLDER_TYPE = node_id(ua.ObjectIds.FolderType)
OBJECTS = node_id(ua.ObjectIds.ObjectsFolder)
A = ua.AttributeIds


class StoredNodes:
    """Creates, links and removes the stored nodes, without asyncua's per-node scans.

    asyncua's ``add_nodes`` checks every new node against all references of its parent, which
    goes quadratic with thousands of siblings; the mirror's names are unique by construction.
    """

    def __init__(self, aspace: AddressSpace, kit: NodeKit) -> None:
        self.aspace = aspace
        self.kit = kit
        self.ns = kit.ns

    def add_object(self, parent: NodeData | None, identifier: ua.NodeId, names: Names, type_definition: ua.NodeId,
                   reference_type: ua.NodeId = HAS_COMPONENT) -> TwinNode:
        node = TwinNode(identifier, self.kit.object_attributes(names),
                        [self.kit.type_reference(type_definition, ua.NodeClass.ObjectType)])
        self.aspace[identifier] = node
        if parent is not None:
            self.link(parent, node, reference_type)
        return node

    def link(self, source: NodeData, target: NodeData, reference_type: ua.NodeId) -> None:
        """A forward reference source → target and its inverse."""
        _links(source).append(reference(reference_type, target.nodeid, _names(target), _node_class(target),
                                        _type_of(target)))
        _links(target).append(reference(reference_type, source.nodeid, _names(source), _node_class(source),
                                        _type_of(source), forward=False))

    def unlink(self, source: NodeData | None, target_id: ua.NodeId, reference_type: ua.NodeId,
               source_id: ua.NodeId | None = None) -> None:
        """Remove the reference source → target (and its inverse); ``source`` may already be gone."""
        if source is not None:
            source_id = source.nodeid
            _set_links(source, [ref for ref in _links(source)
                                if not (ref.IsForward and ref.NodeId == target_id
                                        and ref.ReferenceTypeId == reference_type)])
        target = self.aspace.get(target_id)
        if target is not None:
            _set_links(target, [ref for ref in _links(target)
                                if ref.IsForward or ref.NodeId != source_id or ref.ReferenceTypeId != reference_type])

    def remove(self, identifier: ua.NodeId, parent: NodeData | None) -> None:
        with contextlib.suppress(KeyError):  # already gone
            del self.aspace[identifier]
        if parent is not None:
            _set_links(parent, [ref for ref in _links(parent) if ref.NodeId != identifier])


def _links(node: NodeData) -> list[ua.ReferenceDescription]:
    return node.links if isinstance(node, TwinNode) else node.references


def _set_links(node: NodeData, references: list[ua.ReferenceDescription]) -> None:
    if isinstance(node, TwinNode):
        node.links = references
    else:
        node.references = references


def _names(node: NodeData) -> Names:
    names = Names.__new__(Names)
    browse = node.attributes[A.BrowseName].value
    display = node.attributes[A.DisplayName].value
    names.browse_name = browse.Value.Value if browse and browse.Value else ua.QualifiedName()
    names.display_name = display.Value.Value if display and display.Value else ua.LocalizedText()
    return names


def _node_class(node: NodeData) -> ua.NodeClass:
    value = node.attributes[A.NodeClass].value
    return ua.NodeClass(value.Value.Value) if value is not None and value.Value is not None else ua.NodeClass.Object


def _type_of(node: NodeData) -> ua.NodeId:
    for ref in _links(node):
        if ref.IsForward and ref.ReferenceTypeId == node_id(ua.ObjectIds.HasTypeDefinition):
            return ref.NodeId
    return ua.NodeId()


class EnvironmentBuilder:
    """Builds and edits the AASEnvironment subtree's stored nodes."""

    def __init__(self, stored: StoredNodes, types: AasTypes, twin: Twin, elements: ElementNodes) -> None:
        self.stored = stored
        self.types = types
        self.twin = twin
        self.elements = elements
        self.ns = stored.ns
        self.shells: dict[str, TwinNode] = {}
        self.submodels: dict[str, TwinNode] = {}
        self._shell_names = UniqueNames()
        self._submodel_names: dict[str, UniqueNames] = {}
        """Submodel BrowseNames are unique per first referencing shell ("" for unreferenced ones)."""
        self._submodel_scope: dict[str, str] = {}
        self._parents_of: dict[str, list[ua.NodeId]] = {}
        self.environment: NodeData = self._environment()

    def parents_of(self, submodel_id: str) -> list[ua.NodeId]:
        """The nodes a submodel hangs below now: the shells that list it, or AASEnvironment."""
        return list(self._parents_of.get(submodel_id, ()))

    def owner_node(self, shell: bool, identifier: str) -> TwinNode | None:
        return (self.shells if shell else self.submodels).get(identifier)

    # -------------------------------------------------------------- whole
    def build_all(self) -> None:
        """Store every shell and submodel node; the cyclic GC pauses meanwhile."""
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
        existing = self.stored.aspace.get(environment_id)
        if existing is not None:
            return existing
        return self.stored.add_object(self.stored.aspace[OBJECTS], environment_id,
                                      self.stored.kit.names("AASEnvironment"), FOLDER_TYPE, ORGANIZES)

    # -------------------------------------------------------------- shells
    def add_shell(self, shell: model.AssetAdministrationShell) -> TwinNode:
        names = self.stored.kit.names(self._shell_names.claim(shell.id, shell.id_short or shell.id),
                                      shell.id_short or shell.id)
        node = self.stored.add_object(self.environment, shell_node_id(self.ns, shell.id), names,
                                      self.types.ids["AASAssetAdministrationShellType"])
        node.children = _Children(self.elements, True, shell.id)
        self.shells[shell.id] = node
        for submodel_id in _submodel_ids(shell):
            self._link_submodel(node, submodel_id)
        return node

    def remove_shell(self, shell_id: str) -> None:
        shell_node = self.shells.pop(shell_id, None)
        shell_id_node = shell_node_id(self.ns, shell_id)
        orphans = []
        for submodel_id, parents in self._parents_of.items():
            if shell_id_node in parents:
                parents.remove(shell_id_node)
                self.stored.unlink(shell_node, submodel_node_id(self.ns, submodel_id), HAS_COMPONENT, shell_id_node)
                orphans.append(submodel_id)
        self.stored.remove(shell_id_node, self.environment)
        self._shell_names.release(shell_id)
        for submodel_id in orphans:
            self._place_orphan(submodel_id)

    def _link_submodel(self, shell_node: NodeData, submodel_id: str) -> None:
        target = self.submodels.get(submodel_id)
        if target is None:
            return
        parents = self._parents_of.setdefault(submodel_id, [])
        if self.environment.nodeid in parents:
            self.stored.unlink(self.environment, target.nodeid, HAS_COMPONENT)
            parents.remove(self.environment.nodeid)
        if shell_node.nodeid not in parents:
            self.stored.link(shell_node, target, HAS_COMPONENT)
            parents.append(shell_node.nodeid)

    def place_submodel(self, submodel_id: str) -> None:
        """Link a submodel below every shell that lists it, or below AASEnvironment if none does."""
        if submodel_id not in self.submodels:
            return
        for shell in self.twin.shells.values():
            if submodel_id in _submodel_ids(shell):
                shell_node = self.shells.get(shell.id)
                if shell_node is not None:
                    self._link_submodel(shell_node, submodel_id)
        self._place_orphan(submodel_id)

    def _place_orphan(self, submodel_id: str) -> None:
        target = self.submodels.get(submodel_id)
        parents = self._parents_of.setdefault(submodel_id, [])
        if target is not None and not parents:
            self.stored.link(self.environment, target, HAS_COMPONENT)
            parents.append(self.environment.nodeid)

    # ----------------------------------------------------------- submodels
    def add_submodel(self, submodel: model.Submodel, link: bool = True, scope: str | None = None) -> None:
        if scope is None:
            scope = next((shell.id for shell in self.twin.shells.values() if submodel.id in _submodel_ids(shell)), "")
        self._submodel_scope[submodel.id] = scope
        names = self._submodel_names.setdefault(scope, UniqueNames())
        name = names.claim(submodel.id, submodel.id_short or submodel.id)
        node = self.stored.add_object(None, submodel_node_id(self.ns, submodel.id),
                                      self.stored.kit.names(name, submodel.id_short or submodel.id),
                                      self.types.ids["AASSubmodelType"])
        node.children = _Children(self.elements, False, submodel.id)
        self.submodels[submodel.id] = node
        if link:
            self.place_submodel(submodel.id)

    def remove_submodel(self, submodel_id: str) -> None:
        submodel_id_node = submodel_node_id(self.ns, submodel_id)
        for parent_id in self._parents_of.pop(submodel_id, []):
            parent = self.stored.aspace.get(parent_id)
            if parent is not None:
                self.stored.unlink(parent, submodel_id_node, HAS_COMPONENT)
        self.submodels.pop(submodel_id, None)
        self.stored.remove(submodel_id_node, None)
        scope = self._submodel_scope.pop(submodel_id, None)
        if scope is not None:
            self._submodel_names[scope].release(submodel_id)


class _Children:
    """A stored shell's or submodel's computed children (a class, not a closure: 22,000 of them)."""

    __slots__ = ("elements", "identifier", "shell")

    def __init__(self, elements: ElementNodes, shell: bool, identifier: str) -> None:
        self.elements = elements
        self.shell = shell
        self.identifier = identifier

    def __call__(self) -> list[ua.ReferenceDescription]:
        return self.elements.identifiable_references(self.shell, self.identifier)


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
