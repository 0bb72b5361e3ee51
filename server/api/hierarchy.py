"""``/hierarchy``: the plant tree (plant → line → cell → machine → component) and its navigation.

Each node names the shell (id, idShort), its level and asset kind, and its live status: the
worst quality among the live values of the shell's submodels (``NoLiveData`` when none is
fed or computed), with the newest source timestamp. The tree is read from
``app.state.hierarchy`` (a ``PlantHierarchy``); shells are addressed base64url-encoded as in Part 2.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.server.api.auth import ReadAccess
from twinbridge.server.api.bodies import compressible_json
from twinbridge.server.api.ids import decode_id
from twinbridge.server.api.results import ApiError
from twinbridge.submodels.hierarchy import PlantHierarchy

router = APIRouter(tags=["Plant hierarchy"])

_RANK = {Quality.GOOD: 0, Quality.UNCERTAIN: 1, Quality.BAD: 2}


def _hierarchy(request: Request) -> PlantHierarchy:
    hierarchy = getattr(request.app.state, "hierarchy", None)
    if hierarchy is None:
        raise ApiError(404, "this server has no plant hierarchy (no plant description was loaded)")
    assert isinstance(hierarchy, PlantHierarchy)
    return hierarchy


class _Status:
    """Live status per submodel, gathered in one pass over the live handles."""

    def __init__(self, twin: Twin) -> None:
        self.quality: dict[str, Quality] = {}
        self.timestamp: dict[str, float] = {}
        for handle in twin.live_elements():
            if handle.element is None:
                continue
            known = self.quality.get(handle.submodel_id)
            if known is None or _RANK[handle.quality] > _RANK[known]:
                self.quality[handle.submodel_id] = handle.quality
            if handle.timestamp is not None and handle.timestamp > self.timestamp.get(handle.submodel_id, 0.0):
                self.timestamp[handle.submodel_id] = handle.timestamp

    def of(self, submodel_ids: list[str]) -> tuple[str, str | None]:
        worst: Quality | None = None
        newest = 0.0
        for sm_id in submodel_ids:
            quality = self.quality.get(sm_id)
            if quality is not None and (worst is None or _RANK[quality] > _RANK[worst]):
                worst = quality
            newest = max(newest, self.timestamp.get(sm_id, 0.0))
        stamp = datetime.fromtimestamp(newest, UTC).isoformat().replace("+00:00", "Z") if newest else None
        return (worst.value if worst is not None else "NoLiveData"), stamp


def _node(twin: Twin, hierarchy: PlantHierarchy, status: _Status, shell_id: str) -> dict[str, Any]:
    shell = twin.shells.get(shell_id)
    node: dict[str, Any] = {"id": shell_id, "level": hierarchy.level(shell_id)}
    if shell is None:
        node["status"] = "Missing"
        return node
    info = shell.asset_information
    live, stamp = status.of([ref.key[0].value for ref in shell.submodel])
    node.update({
        "idShort": shell.id_short,
        "assetKind": info.asset_kind.name.title(),
        "globalAssetId": info.global_asset_id,
        "status": live,
    })
    if stamp:
        node["lastUpdate"] = stamp
    return node


def _tree(twin: Twin, hierarchy: PlantHierarchy, status: _Status, root: str) -> dict[str, Any]:
    node = _node(twin, hierarchy, status, root)
    node["children"] = [_tree(twin, hierarchy, status, child) for child in hierarchy.children(root)]
    return node


def _known(hierarchy: PlantHierarchy, encoded: str) -> str:
    shell_id = decode_id(encoded, "aasIdentifier")
    if shell_id not in hierarchy:
        raise ApiError(404, f"no shell with id {shell_id!r} in the plant hierarchy")
    return shell_id


def _listing(request: Request, ids: list[str], parents: bool = False) -> dict[str, Any]:
    twin: Twin = request.app.state.twin
    hierarchy = _hierarchy(request)
    status = _Status(twin)
    result = []
    for shell_id in ids:
        node = _node(twin, hierarchy, status, shell_id)
        if parents:
            node["parent"] = hierarchy.parent(shell_id)
        result.append(node)
    return {"paging_metadata": {}, "result": result}


@router.get("/hierarchy", dependencies=[ReadAccess])
async def get_hierarchy(request: Request) -> Response:
    """The whole tree, roots first, each node with its ``children`` (gzipped when large and accepted)."""
    twin: Twin = request.app.state.twin
    hierarchy = _hierarchy(request)
    status = _Status(twin)
    return compressible_json({"roots": [_tree(twin, hierarchy, status, root) for root in hierarchy.roots()]},
                             request.headers.get("accept-encoding"))


@router.get("/hierarchy/{aasIdentifier}/children", dependencies=[ReadAccess])
async def get_children(aasIdentifier: str, request: Request) -> dict[str, Any]:
    hierarchy = _hierarchy(request)
    return _listing(request, hierarchy.children(_known(hierarchy, aasIdentifier)))


@router.get("/hierarchy/{aasIdentifier}/ancestors", dependencies=[ReadAccess])
async def get_ancestors(aasIdentifier: str, request: Request) -> dict[str, Any]:
    """Nearest first: the parent, then its parent, up to the root."""
    hierarchy = _hierarchy(request)
    return _listing(request, hierarchy.ancestors(_known(hierarchy, aasIdentifier)))


@router.get("/hierarchy/{aasIdentifier}/descendants", dependencies=[ReadAccess])
async def get_descendants(aasIdentifier: str, request: Request) -> dict[str, Any]:
    """Depth first, a parent before its children; each entry names its ``parent``."""
    hierarchy = _hierarchy(request)
    return _listing(request, hierarchy.descendants(_known(hierarchy, aasIdentifier)), parents=True)
