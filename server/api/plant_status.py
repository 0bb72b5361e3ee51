"""``/live`` and ``/hierarchy/search``: what a plant dashboard reads in one request each.

``GET /live?aasId=...`` (repeatable, base64url) answers every live element of each shell's
submodels -- value, quality, source timestamp, unit, and whether a write reaches a device --
so a view opens with complete values and then follows ``/events``. Without it a dashboard
would read each element on its own to get the quality and timestamp headers, and could not tell
a set-point (bound with write-back) from a measured value (bound, refused) before trying.

``GET /hierarchy/search?q=`` finds shells of the plant hierarchy by idShort (substring, any
case) or by a semanticId (substring) of one of their submodels or live elements: "which
machines measure ``0173-1#02-AAV232#002``". It looks only at submodel semanticIds and live
handles (whose semanticId is computed once) in one pass and never walks element trees.
"""

from __future__ import annotations

from typing import Annotated, Any

from basyx.aas import model
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from twinbridge.aas import value_only
from twinbridge.aas.live import LiveElement, first_semantic_key
from twinbridge.aas.twin import Twin
from twinbridge.server.api.auth import ReadAccess
from twinbridge.server.api.bodies import compressible_json, json_response
from twinbridge.server.api.ids import decode_ids
from twinbridge.server.api.results import ApiError, xs_datetime
from twinbridge.submodels.hierarchy import PlantHierarchy

router = APIRouter(tags=["Plant status (twinbridge)"])

MAX_SHELLS = 500
"""Shells per ``/live`` request: a screenful of tree rows is ~40, an asset view one."""

Units = dict[str, str | None]


def unit_of(twin: Twin, semantic_id: str | None, cache: Units) -> str | None:
    """The IEC 61360 unit of the concept description a semanticId names (AAS v3 keeps units there)."""
    if semantic_id is None:
        return None
    if semantic_id not in cache:
        cache[semantic_id] = None
        description = twin.concept_descriptions.get(semantic_id)
        for specification in description.embedded_data_specifications if description is not None else ():
            content = specification.data_specification_content
            if isinstance(content, model.DataSpecificationIEC61360) and content.unit:
                cache[semantic_id] = content.unit
                break
    return cache[semantic_id]


def _live_json(twin: Twin, handle: LiveElement, units: Units) -> dict[str, Any] | None:
    element = handle.element
    if not isinstance(element, model.Property):
        return None
    return {
        "submodelId": handle.submodel_id,
        "idShortPath": handle.path,
        "value": value_only.property_value(element.value),
        "valueType": model.datatypes.XSD_TYPE_NAMES.get(element.value_type),
        "quality": handle.quality.value,
        "timestamp": None if handle.timestamp is None else xs_datetime(handle.timestamp),
        "semanticId": handle.semantic_id,
        "unit": unit_of(twin, handle.semantic_id, units),
        "bound": twin.is_bound(handle),
        "writeBack": handle.writer is not None,
    }


def _under(path: str, prefix: str | None) -> bool:
    """``prefix`` as ``/events`` reads it: ``Motor`` matches ``Motor`` and ``Motor.Speed``."""
    return prefix is None or path == prefix or path.startswith((prefix + ".", prefix + "["))


def shell_live(twin: Twin, shell_id: str, units: Units, prefix: str | None = None) -> dict[str, Any]:
    """The live elements of one shell's submodels, under ``prefix`` if given (404 for an unknown shell)."""
    shell = twin.shells.get(shell_id)
    if shell is None:
        raise ApiError(404, f"no shell with id {shell_id!r}")
    elements = []
    for reference in shell.submodel:
        for handle in twin.live_in(str(reference.key[0].value)):
            row = _live_json(twin, handle, units) if _under(handle.path, prefix) else None
            if row is not None:
                elements.append(row)
    return {"aasId": shell_id, "idShort": shell.id_short, "elements": elements}


@router.get("/live", dependencies=[ReadAccess], summary="Live values of shells with quality, timestamp and unit")
async def get_live(request: Request,
                   aas_ids: Annotated[list[str], Query(alias="aasId", description="base64url shell id; repeatable")],
                   id_short_path: Annotated[str | None, Query(alias="idShortPath", description="idShortPath prefix")]
                   = None) -> Response:
    """Every live element (fed by a device, or computed: roll-ups, analytics) of each shell's submodels,
    or those under the ``idShortPath`` prefix (as ``/events`` filters).

    ``writeBack`` is true where a write goes to the device (a set-point); ``bound`` without
    ``writeBack`` is a measured value that refuses writes.
    """
    shell_ids = decode_ids(aas_ids, "aasId")
    if len(shell_ids) > MAX_SHELLS:
        raise ApiError(400, f"aasId: at most {MAX_SHELLS} shells per request, got {len(shell_ids)}")
    twin: Twin = request.app.state.twin
    units: Units = {}
    prefix = id_short_path or None
    return compressible_json({"result": [shell_live(twin, shell_id, units, prefix) for shell_id in shell_ids]},
                             request.headers.get("accept-encoding"))


def matching_submodels(twin: Twin, needle: str) -> dict[str, str]:
    """Submodel id → the first semanticId containing ``needle`` (casefolded) among the submodel's
    own and its live elements': one pass over submodels and handles, not one per shell."""
    found: dict[str, str] = {}
    for submodel_id, submodel in twin.submodels.items():
        key = first_semantic_key(submodel)
        if key is not None and needle in key.casefold():
            found[submodel_id] = key
    for handle in twin.live_elements():
        key = handle.semantic_id
        if key is not None and handle.submodel_id not in found and needle in key.casefold():
            found[handle.submodel_id] = key
    return found


@router.get("/hierarchy/search", dependencies=[ReadAccess], summary="Shells of the plant by idShort or semanticId")
async def search_hierarchy(request: Request, q: Annotated[str, Query(min_length=1, max_length=500)],
                           limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Response:
    """Shells whose idShort contains ``q`` (any case), or whose submodels or live elements carry a
    semanticId containing it; each match says which (``matched``: idShort or the semanticId)."""
    hierarchy = getattr(request.app.state, "hierarchy", None)
    if not isinstance(hierarchy, PlantHierarchy):
        raise ApiError(404, "this server has no plant hierarchy (no plant description was loaded)")
    twin: Twin = request.app.state.twin
    needle = q.strip().casefold()
    by_submodel = matching_submodels(twin, needle)
    result = []
    for shell_id in hierarchy.shells():
        shell = twin.shells.get(shell_id)
        if shell is None:
            continue
        matched = "idShort" if needle in (shell.id_short or "").casefold() else next(
            (by_submodel[sm] for ref in shell.submodel if (sm := str(ref.key[0].value)) in by_submodel), None)
        if matched is not None:
            result.append({"id": shell_id, "idShort": shell.id_short, "level": hierarchy.level(shell_id),
                           "matched": matched})
            if len(result) >= limit:
                break
    return json_response({"result": result})
