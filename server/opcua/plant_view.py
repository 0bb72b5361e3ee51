"""``Objects/Plant``: the shells organized by the asset hierarchy, without copying any node.

The Plant folder Organizes the root shells, and each shell Organizes its child shells, so a
client browses plant → line → cell → machine → component and lands on the very nodes under
``AASEnvironment``. The hierarchy comes from the plant hierarchy model when one is given;
otherwise it is derived from Entity data (an Entity whose globalAssetId is another shell's
asset is that shell's part, nested Entities nest), and without any, the view is flat. Shells
the hierarchy does not place (created over REST later) appear directly under Plant.
"""

from __future__ import annotations

from typing import Protocol

from asyncua import ua
from basyx.aas import model

from twinbridge.aas import paths
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.builder import FOLDER_TYPE, OBJECTS, StoredNodes
from twinbridge.server.opcua.compat_asyncua import NodeData
from twinbridge.server.opcua.datatypes import node_id
from twinbridge.server.opcua.ids import shell_node_id
from twinbridge.server.opcua.nodes import ORGANIZES


class Hierarchy(Protocol):
    """What the Plant view needs from a hierarchy model (shell ids throughout)."""

    def roots(self) -> list[str]: ...

    def children(self, shell_id: str) -> list[str]: ...

    def level(self, shell_id: str) -> str | None: ...


class EntityHierarchy:
    """A hierarchy read from the Entities in the shells' submodels (flat when there are none).

    Nested Entities nest (IDTA Hierarchical Structures "Full"/"OneDown"; "OneUp" inverts), and
    HasPart / IsPartOf RelationshipElements between Entities add their edge.
    """

    def __init__(self, twin: Twin) -> None:
        self._children: dict[str, list[str]] = {}
        by_asset = {shell.asset_information.global_asset_id: shell.id for shell in twin.shells.values()
                    if shell.asset_information.global_asset_id}
        has_parent: set[str] = set()
        for shell in twin.shells.values():
            for reference in shell.submodel:
                keys = list(reference.key)
                submodel = twin.submodels.get(str(keys[-1].value)) if keys else None
                if submodel is None:
                    continue
                related = _relationship_edges(twin, submodel, by_asset)
                edges = _entity_edges(submodel, shell.id, by_asset, top_level=not related)
                if _is_one_up(submodel):
                    edges = [(child, parent) for parent, child in edges]
                for parent, child in [*edges, *related]:
                    siblings = self._children.setdefault(parent, [])
                    if child not in siblings and child != parent:
                        siblings.append(child)
                        has_parent.add(child)
        self._roots = [shell_id for shell_id in twin.shells if shell_id not in has_parent]

    def roots(self) -> list[str]:
        return list(self._roots)

    def children(self, shell_id: str) -> list[str]:
        return list(self._children.get(shell_id, ()))

    def level(self, shell_id: str) -> str | None:
        return None


def _is_one_up(submodel: model.Submodel) -> bool:
    for element in submodel.submodel_element:
        if element.id_short == "ArcheType" and isinstance(element, model.Property):
            return str(element.value) == "OneUp"
    return False


def _entity_edges(submodel: model.Submodel, owner: str, by_asset: dict[str, str],
                  top_level: bool) -> list[tuple[str, str]]:
    """Edges from Entity nesting; Entities at the submodel's top level are the owner's parts only
    when ``top_level`` (with HasPart relationships present, those say what is part of what)."""
    edges: list[tuple[str, str]] = []
    stack: list[tuple[model.Referable, str]] = [(submodel, owner)]
    while stack:
        node, parent = stack.pop()
        for element in paths.children(node):
            current = parent
            if isinstance(element, model.Entity):
                shell_id = by_asset.get(element.global_asset_id) if element.global_asset_id else None
                if shell_id is not None:
                    if shell_id != parent and (top_level or node is not submodel):
                        edges.append((parent, shell_id))
                    current = shell_id
            stack.append((element, current))
    return edges


def _relationship_edges(twin: Twin, submodel: model.Submodel, by_asset: dict[str, str]) -> list[tuple[str, str]]:
    edges: list[tuple[str, str]] = []
    stack: list[model.Referable] = [submodel]
    while stack:
        node = stack.pop()
        for element in paths.children(node):
            stack.append(element)
            if not isinstance(element, model.RelationshipElement):
                continue
            label = f"{element.id_short} {element.semantic_id.key[0].value if element.semantic_id else ''}"
            first, second = _shell_of(twin, element.first, by_asset), _shell_of(twin, element.second, by_asset)
            if first is None or second is None:
                continue
            if "HasPart" in label:
                edges.append((first, second))
            elif "IsPartOf" in label:
                edges.append((second, first))
    return edges


def _shell_of(twin: Twin, reference: model.Reference | None, by_asset: dict[str, str]) -> str | None:
    """The shell whose asset the referenced Entity stands for."""
    keys = list(reference.key) if reference is not None else []
    node: model.Referable | None = twin.submodels.get(str(keys[0].value)) if keys else None
    for key in keys[1:]:
        if node is None:
            return None
        try:
            node = paths.child(node, int(key.value) if key.value.isdigit() else key.value, "")
        except paths.PathError:
            return None
    if isinstance(node, model.Entity) and node.global_asset_id:
        return by_asset.get(node.global_asset_id)
    return None


class PlantView:
    def __init__(self, factory: StoredNodes, twin: Twin, hierarchy: Hierarchy | None) -> None:
        self._factory = factory
        self._twin = twin
        self._hierarchy = hierarchy
        self._links: list[tuple[ua.NodeId, ua.NodeId]] = []
        folder_id = node_id("Plant", factory.ns)
        self.folder: NodeData = factory.aspace.get(folder_id) or factory.add_object(
            factory.aspace[OBJECTS], folder_id, factory.kit.names("Plant"), FOLDER_TYPE, ORGANIZES)

    def rebuild(self) -> None:
        """Drop the Organizes references of the last build and lay them out again."""
        for source_id, target_id in self._links:
            self._unlink(source_id, target_id)
        self._links = []
        hierarchy = self._hierarchy if self._hierarchy is not None else EntityHierarchy(self._twin)
        ns = self._factory.ns
        visited: set[str] = set()
        stack: list[tuple[ua.NodeId, str]] = [(self.folder.nodeid, root) for root in reversed(hierarchy.roots())]
        while stack:
            parent_id, shell_id = stack.pop()
            if shell_id in visited:
                continue
            visited.add(shell_id)
            self._link(parent_id, shell_node_id(ns, shell_id))
            try:
                children = hierarchy.children(shell_id)
            except LookupError:
                children = []
            stack.extend((shell_node_id(ns, shell_id), child) for child in reversed(children))
        for shell_id in self._twin.shells:  # shells the hierarchy does not place (added later over REST)
            if shell_id not in visited:
                self._link(self.folder.nodeid, shell_node_id(ns, shell_id))

    def _link(self, source_id: ua.NodeId, target_id: ua.NodeId) -> None:
        source = self._factory.aspace.get(source_id)
        target = self._factory.aspace.get(target_id)
        if source is None or target is None:
            return
        self._factory.link(source, target, ORGANIZES)
        self._links.append((source_id, target_id))

    def _unlink(self, source_id: ua.NodeId, target_id: ua.NodeId) -> None:
        self._factory.unlink(self._factory.aspace.get(source_id), target_id, ORGANIZES, source_id)
