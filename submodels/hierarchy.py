"""The plant tree (plant → line → cell → machine → component) over shell ids.

It is built from the plant description (``from_model``) or read back from the shells'
Hierarchical Structures submodels (``from_twin``), so a tree edited over REST can be
re-read. Either way it is checked: a child with two parents or a cycle is an error that
names the shells involved, and an invalid tree never replaces a valid one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping

import orjson
from basyx.aas import model

from twinbridge.aas import paths
from twinbridge.aas.errors import InvalidInput, NotFound
from twinbridge.aas.events import ChangeKind, ObjectKind, StructureChanged
from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.store.base import ShellFilter, StoredDocument
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import PlantModel
from twinbridge.submodels.templates import hierarchy_bom

log = logging.getLogger(__name__)


class HierarchyError(InvalidInput):
    """The parent/child links do not form a tree."""


def _semantic(obj: model.HasSemantics) -> str | None:
    ref = obj.semantic_id
    return ref.key[0].value if ref is not None and ref.key else None


class PlantHierarchy:
    def __init__(self, nodes: Iterable[str], edges: Iterable[tuple[str, str]],
                 levels: Mapping[str, str] | None = None) -> None:
        parents, children, order = _tree(list(nodes), list(edges))
        self._parents = parents
        self._children = children
        self._order = order
        self._levels = dict(levels or {})

    # -------------------------------------------------------------- builders
    @classmethod
    def from_model(cls, plant: PlantModel) -> PlantHierarchy:
        edges = [(parent, child) for child, parent in plant.parents.items() if parent is not None]
        return cls(plant.parents.keys(), edges, plant.levels)

    @classmethod
    def from_twin(cls, twin: Twin) -> PlantHierarchy:
        """Read HasPart/IsPartOf links from every shell's Hierarchical Structures submodel."""
        with collector_paused():
            return cls._read(twin)

    @classmethod
    def _read(cls, twin: Twin) -> PlantHierarchy:
        if twin.shell_source is not None:
            return cls._read_stored(twin)
        by_asset: dict[str, str] = {}
        levels: dict[str, str] = {}
        for shell in twin.shells.values():
            info = shell.asset_information
            if info.global_asset_id:
                by_asset[info.global_asset_id] = shell.id
            if info.asset_type:
                levels[shell.id] = info.asset_type
        edges: list[tuple[str, str]] = []
        candidates = twin.semantic_candidates(hierarchy_bom.SUBMODEL)  # (a bounded cache: not every submodel)
        for shell in twin.shells.values():
            for ref in shell.submodel:
                if candidates is not None and ref.key[0].value not in candidates:
                    continue
                sm = twin.submodels.get(ref.key[0].value)
                if sm is not None and _semantic(sm) == hierarchy_bom.SUBMODEL:
                    edges.extend(_edges_of(sm, by_asset, shell.id_short or shell.id))
        return cls(twin.shells.keys(), edges, levels)

    @classmethod
    def _read_stored(cls, twin: Twin) -> PlantHierarchy:
        """With bounded shells (``?cache=N``): only the shells that own or are named by a
        Hierarchical Structures submodel, found in SQL (the BoM submodels by semanticId, their
        shells by reference, the assets by globalAssetId), so a start reads a few documents, not
        every shell; a shell no BoM names is not a node of the tree here."""
        by_asset = _StoredAssets(twin)
        edges: list[tuple[str, str]] = []
        nodes: dict[str, None] = {}
        candidates = twin.semantic_candidates(hierarchy_bom.SUBMODEL) or set()
        for shell in twin.referencing_shells(*sorted(candidates)):  # in order: children keep it, as in memory
            nodes[shell.id] = None
            for ref in shell.submodel:
                sm = twin.submodels.get(ref.key[0].value) if ref.key[0].value in candidates else None
                if sm is not None and _semantic(sm) == hierarchy_bom.SUBMODEL:
                    found = _edges_of(sm, by_asset, shell.id_short or shell.id)
                    edges.extend(found)
                    nodes.update((end, None) for edge in found for end in edge)
        levels = {}
        for shell_id in nodes:
            node = twin.shells.get(shell_id)
            if node is not None and node.asset_information.asset_type:
                levels[shell_id] = node.asset_information.asset_type
        return cls(nodes, edges, levels)

    def reload(self, other: PlantHierarchy) -> None:
        """Take over ``other``'s (already validated) tree in place, so holders see the new one."""
        self._parents, self._children, self._order = other._parents, other._children, other._order
        self._levels = other._levels

    def refresh(self, twin: Twin) -> bool:
        """Re-read the tree after an edit; an invalid edit is logged and the old tree kept (False)."""
        try:
            self.reload(PlantHierarchy.from_twin(twin))
        except HierarchyError as error:
            log.warning("the plant hierarchy was not changed: %s", error)
            return False
        return True

    # ----------------------------------------------------------------- reads
    def __contains__(self, shell_id: object) -> bool:
        return shell_id in self._parents

    def shells(self) -> list[str]:
        """Every shell id, parents before children (depth first, in description order)."""
        return list(self._order)

    def roots(self) -> list[str]:
        return [s for s in self._order if self._parents[s] is None]

    def children(self, shell_id: str) -> list[str]:
        return list(self._children[self._known(shell_id)])

    def parent(self, shell_id: str) -> str | None:
        return self._parents[self._known(shell_id)]

    def level(self, shell_id: str) -> str | None:
        return self._levels.get(self._known(shell_id))

    def ancestors(self, shell_id: str) -> list[str]:
        """Nearest first, the root last."""
        out: list[str] = []
        current = self._parents[self._known(shell_id)]
        while current is not None:
            out.append(current)
            current = self._parents[current]
        return out

    def descendants(self, shell_id: str) -> list[str]:
        """Depth first, pre-order (a parent before its children)."""
        out: list[str] = []
        stack = list(reversed(self._children[self._known(shell_id)]))
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(reversed(self._children[current]))
        return out

    def _known(self, shell_id: str) -> str:
        if shell_id not in self._parents:
            raise NotFound(f"no shell with id {shell_id!r} in the plant hierarchy")
        return shell_id


def changes_tree(twin: Twin, change: StructureChanged) -> bool:
    """Whether ``change`` can alter the tree: a shell added or removed, a BoM submodel changed or removed."""
    if change.object_kind is ObjectKind.SHELL:
        return change.kind in (ChangeKind.CREATED, ChangeKind.DELETED)
    if change.object_kind is ObjectKind.SUBMODEL:
        submodel = twin.submodels.get(change.identifier)
        return submodel is None or _semantic(submodel) == hierarchy_bom.SUBMODEL
    return False


def _edges_of(sm: model.Submodel, by_asset: Mapping[str, str], owner: str) -> list[tuple[str, str]]:
    """(parent shell, child shell) pairs stated by one BoM submodel."""
    edges: list[tuple[str, str]] = []
    queue: list[model.Referable] = list(paths.children(sm))
    for element in queue:
        queue.extend(paths.children(element))
        if not isinstance(element, model.RelationshipElement):
            continue
        kind = _semantic(element)
        if kind not in (hierarchy_bom.HAS_PART, hierarchy_bom.IS_PART_OF):
            continue
        if element.first is None or element.second is None:
            raise HierarchyError(f"{owner}: {element.id_short} must name both its first and second node")
        first = _asset_of(sm, element.first, by_asset, f"{owner}: {element.id_short}.first")
        second = _asset_of(sm, element.second, by_asset, f"{owner}: {element.id_short}.second")
        if first is None or second is None:
            continue
        edges.append((first, second) if kind == hierarchy_bom.HAS_PART else (second, first))
    return edges


def _asset_of(sm: model.Submodel, ref: model.Reference, by_asset: Mapping[str, str], where: str) -> str | None:
    """The shell whose asset the referenced Node/EntryNode stands for (None: not one of ours)."""
    keys = list(ref.key)
    if not keys or keys[0].value != sm.id:
        raise HierarchyError(f"{where}: the reference must point into this submodel ({sm.id})")
    try:
        node = paths.resolve(sm, ".".join(key.value for key in keys[1:]))
    except paths.PathError as error:
        raise HierarchyError(f"{where}: {error}") from None
    if not isinstance(node, model.Entity) or not node.global_asset_id:
        raise HierarchyError(f"{where}: {node.id_short} is not an Entity with a globalAssetId")
    return by_asset.get(node.global_asset_id)


class _StoredAssets(Mapping[str, str]):
    """globalAssetId -> the (last) shell with it, asked of the store one asset at a time."""

    def __init__(self, twin: Twin) -> None:
        self._source = twin.shell_source
        self._found: dict[str, str | None] = {}

    def __getitem__(self, asset_id: str) -> str:
        if asset_id not in self._found:
            rows: list[tuple[int, StoredDocument]] = []
            if self._source is not None:
                rows, _ = self._source.page(ShellFilter(asset_ids=(("globalAssetId", asset_id),)), 0, None)
            shells = [stored.identifier for _, stored in rows  # (the filter matches specificAssetIds too)
                      if orjson.loads(stored.body).get("assetInformation", {}).get("globalAssetId") == asset_id]
            self._found[asset_id] = shells[-1] if shells else None  # the last, as the in-memory read keeps
        found = self._found[asset_id]
        if found is None:
            raise KeyError(asset_id)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(asset for asset, shell in self._found.items() if shell is not None)

    def __len__(self) -> int:
        return sum(1 for shell in self._found.values() if shell is not None)


def _tree(nodes: list[str], edges: list[tuple[str, str]]
          ) -> tuple[dict[str, str | None], dict[str, list[str]], list[str]]:
    parents: dict[str, str | None] = dict.fromkeys(nodes)
    children: dict[str, list[str]] = {node: [] for node in nodes}
    for parent, child in edges:
        for end in (parent, child):
            if end not in parents:
                raise HierarchyError(f"the hierarchy names an unknown shell {end!r}")
        if parent == child:
            raise HierarchyError(f"shell {child!r} is its own part (a cycle)")
        known = parents[child]
        if known == parent:
            continue
        if known is not None:
            raise HierarchyError(f"shell {child!r} is referenced as a part of both {known!r} and {parent!r}")
        parents[child] = parent
        children[parent].append(child)
    order: list[str] = []
    for root in (n for n in nodes if parents[n] is None):
        stack = [root]
        while stack:
            current = stack.pop()
            order.append(current)
            stack.extend(reversed(children[current]))
    if len(order) != len(nodes):
        stuck = sorted(set(nodes) - set(order))
        raise HierarchyError(f"the hierarchy has a cycle through {', '.join(repr(s) for s in stuck[:5])}")
    return parents, children, order
