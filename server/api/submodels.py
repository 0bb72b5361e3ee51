"""Submodel Repository API: ``/submodels`` and the routes of one submodel (``/submodels/{id}``).

The routes of one submodel are mounted under both submodel prefixes (``server.api.scope``);
``GET`` of one submodel is a hot route (``server.api.hot``). Lists page and filter over the
catalog (``server.api.catalog``) and join each submodel's cached rendering.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from basyx.aas import model
from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import StoredDocument
from twinbridge.aas.store.base import SubmodelFilter
from twinbridge.aas.value_only import apply_submodel_value, submodel_value
from twinbridge.server.api.auth import ReadAccess, WriteOrigin
from twinbridge.server.api.bodies import (
    Extent,
    ExtentQuery,
    Level,
    LevelQuery,
    bytes_response,
    json_response,
    loaded_json,
    parsed_body,
    same_id,
)
from twinbridge.server.api.catalog import Key, id_short_key, semantic_reference_key, semantic_value_key
from twinbridge.server.api.catalog_sql import as_submodel, stored_json
from twinbridge.server.api.content import element_paths, reference_json, shaped_json, submodel_metadata, value_depth
from twinbridge.server.api.ids import decode_id
from twinbridge.server.api.live import refuse_bound_values
from twinbridge.server.api.metadata import SUBMODEL_METADATA, copy_metadata
from twinbridge.server.api.paging import CursorQuery, LimitQuery, envelope_bytes, next_cursor, paged_envelope
from twinbridge.server.api.results import ApiError
from twinbridge.server.api.scope import ScopeDep, ScopedRoutes
from twinbridge.server.api.services import Services, ServicesDep, TwinDep
from twinbridge.server.api.submodel_service import add_service_routes

router = APIRouter(tags=["Submodel Repository API"])


# ------------------------------------------------------------ repository
def submodel_filter(semantic_id: str | None, id_short: str | None) -> SubmodelFilter:
    """The ``semanticId`` (a Reference JSON or the value of one of its keys) and ``idShort`` filters."""
    if semantic_id is None:
        return SubmodelFilter(id_short)
    decoded = decode_id(semantic_id, "semanticId")
    try:
        raw = json.loads(decoded)
    except ValueError:
        raw = None
    if isinstance(raw, dict) and isinstance(raw.get("keys"), list):
        values = tuple(str(key.get("value")) for key in raw["keys"] if isinstance(key, dict))
        return SubmodelFilter(id_short, semantic_keys=values)
    return SubmodelFilter(id_short, semantic_key=decoded)


def filter_keys(where: SubmodelFilter) -> list[Key]:
    """The catalog keys of the filters."""
    keys = [] if where.id_short is None else [id_short_key(where.id_short)]
    if where.semantic_keys is not None:
        keys.append(semantic_reference_key(list(where.semantic_keys)))
    if where.semantic_key is not None:
        keys.append(semantic_value_key(where.semantic_key))
    return keys


def matching(services: Services, where: SubmodelFilter, cursor: int, limit: int | None,
             ) -> tuple[list[model.Submodel | StoredDocument], int | None]:
    """One page of matching submodels and the position after it (None: the last page); from the
    store when a bounded cache holds only some of them in memory (``server.api.catalog_sql``:
    those it does not hold come as their stored documents)."""
    catalogs = services.catalogs.current()
    if catalogs.stored is not None:
        return catalogs.stored.page(where, cursor, limit)
    ids, after = catalogs.submodels.page(filter_keys(where), cursor, limit)
    return [catalogs.submodels.get(identifier) for identifier in ids], after


def _page(services: Services, semantic_id: str | None, id_short: str | None, cursor: int, limit: int | None,
          render: Callable[[model.Submodel], bytes], raw: Callable[[StoredDocument], bytes] | None = None,
          ) -> Response:
    """``raw`` renders a stored document without decoding it (where the rendering allows)."""
    found, after = matching(services, submodel_filter(semantic_id, id_short), cursor, limit)
    parts = [raw(item) if raw is not None and isinstance(item, StoredDocument) else render(as_submodel(item))
             for item in found]
    return bytes_response(envelope_bytes(parts, next_cursor(after)))


def _cached(services: Services, variant: str, render: Callable[[model.Submodel], Any],
            ) -> Callable[[model.Submodel], bytes]:
    """Renders a submodel through the revision-keyed cache (shared with the single-submodel routes);
    one that a bounded cache does not hold is rendered as is (its entry would never be read)."""
    twin, renders = services.twin, services.renders

    def cached(submodel: model.Submodel) -> bytes:
        if not twin.holds(ObjectKind.SUBMODEL, submodel.id):
            return orjson.dumps(render(submodel))
        return renders.document(twin, submodel.id, variant, lambda: render(submodel))

    return cached


@router.get("/submodels", dependencies=[ReadAccess])
async def get_all_submodels(services: ServicesDep, limit: LimitQuery, cursor: CursorQuery,
                            semanticId: str | None = None, idShort: str | None = None, level: Level = LevelQuery,
                            extent: Extent = ExtentQuery) -> Response:
    return _page(services, semanticId, idShort, cursor, limit,
                 _cached(services, f"full/{level}/{extent}", lambda sm: shaped_json(sm, level, extent)),
                 lambda stored: stored_json(stored, level, extent))


@router.post("/submodels", status_code=201)
async def post_submodel(origin: WriteOrigin, request: Request, twin: TwinDep) -> Response:
    submodel = await parsed_body(request, model.Submodel)
    twin.create(submodel, origin=origin)
    return json_response(submodel, 201)


@router.get("/submodels/$metadata", dependencies=[ReadAccess])
async def get_all_submodels_metadata(services: ServicesDep, limit: LimitQuery, cursor: CursorQuery,
                                     semanticId: str | None = None, idShort: str | None = None) -> Response:
    return _page(services, semanticId, idShort, cursor, limit, _cached(services, "metadata", submodel_metadata))


@router.get("/submodels/$value", dependencies=[ReadAccess])
async def get_all_submodels_value(services: ServicesDep, limit: LimitQuery, cursor: CursorQuery,
                                  semanticId: str | None = None, idShort: str | None = None,
                                  level: Level = LevelQuery, extent: Extent = ExtentQuery) -> Response:
    depth = value_depth(level)
    with_blob = extent == "withBlobValue"
    return _page(services, semanticId, idShort, cursor, limit, _cached(
        services, f"named-value/{level}/{extent}",
        lambda sm: {sm.id_short: submodel_value(sm, with_blob=with_blob, depth=depth)},
    ))


@router.get("/submodels/$reference", dependencies=[ReadAccess])
async def get_all_submodels_reference(services: ServicesDep, limit: LimitQuery, cursor: CursorQuery,
                                      semanticId: str | None = None, idShort: str | None = None) -> Response:
    return _page(services, semanticId, idShort, cursor, limit, lambda sm: orjson.dumps(reference_json(sm)))


@router.get("/submodels/$path", dependencies=[ReadAccess])
async def get_all_submodels_path(services: ServicesDep, limit: LimitQuery, cursor: CursorQuery,
                                 semanticId: str | None = None, idShort: str | None = None,
                                 level: Level = LevelQuery) -> Response:
    """The idShortPaths of every matching submodel's elements, one after the other, paged as one list."""
    found, _ = matching(services, submodel_filter(semanticId, idShort), 0, None)
    submodels = [as_submodel(item) for item in found]
    all_paths = [path for sm in submodels for path in element_paths(sm.submodel_element, level == "deep")]
    return json_response(paged_envelope(all_paths, cursor, limit, str))


# -------------------------------------------------------- one submodel
scoped = ScopedRoutes("Submodel API")
routers = scoped.routers


@scoped.route("", ["PUT"], status_code=204)
async def put_submodel(origin: WriteOrigin, request: Request, scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    submodel = await _body_for(request, submodel_id)
    twin.replace(submodel, origin=origin)
    return Response(status_code=204)


@scoped.route("", ["PATCH"], status_code=204)
async def patch_submodel(origin: WriteOrigin, request: Request, scope: ScopeDep) -> Response:
    """A PATCH carries a complete Submodel (Part 2 has no merge format for it); it replaces the stored one."""
    twin, submodel_id = scope
    submodel = await _body_for(request, submodel_id)
    twin.replace(submodel, origin=origin)
    return Response(status_code=204)


@scoped.route("", ["DELETE"], status_code=204)
async def delete_submodel(origin: WriteOrigin, scope: ScopeDep) -> Response:
    """Deletes the submodel and the references every shell holds to it (no dangling refs remain)."""
    twin, submodel_id = scope
    for shell in twin.referencing_shells(submodel_id):
        twin.modify(ObjectKind.SHELL, shell.id, lambda aas: _drop_reference(aas, submodel_id), origin=origin)
    twin.delete(ObjectKind.SUBMODEL, submodel_id, origin=origin)
    return Response(status_code=204)


@scoped.route("/$metadata", ["GET"], dependencies=[ReadAccess])
async def get_submodel_metadata(scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    return json_response(submodel_metadata(twin.submodel(submodel_id)))


@scoped.route("/$metadata", ["PATCH"], status_code=204)
async def patch_submodel_metadata(origin: WriteOrigin, request: Request, scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    body = await _body_for(request, submodel_id)
    if len(body.submodel_element):
        raise ApiError(400, "a $metadata PATCH must not carry submodelElements; use PUT or PATCH the $value")
    twin.modify(ObjectKind.SUBMODEL, submodel_id, lambda stored: copy_metadata(stored, body, SUBMODEL_METADATA),
                origin=origin)
    return Response(status_code=204)


@scoped.route("/$value", ["GET"], dependencies=[ReadAccess])
async def get_submodel_value(scope: ScopeDep, services: ServicesDep, level: Level = LevelQuery,
                             extent: Extent = ExtentQuery) -> Response:
    twin, submodel_id = scope
    submodel = twin.submodel(submodel_id)
    depth = value_depth(level)
    data = services.renders.document(
        twin, submodel_id, f"value/{level}/{extent}",
        lambda: submodel_value(submodel, with_blob=extent == "withBlobValue", depth=depth),
    )
    return bytes_response(data)


@scoped.route("/$value", ["PATCH"], status_code=204)
async def patch_submodel_value(origin: WriteOrigin, request: Request, scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    data = await loaded_json(request, "the submodel's values by idShort")
    refuse_bound_values(twin, submodel_id, None)
    twin.modify(ObjectKind.SUBMODEL, submodel_id, lambda submodel: apply_submodel_value(submodel, data), origin=origin)
    return Response(status_code=204)


@scoped.route("/$reference", ["GET"], dependencies=[ReadAccess])
async def get_submodel_reference(scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    return json_response(reference_json(twin.submodel(submodel_id)))


@scoped.route("/$path", ["GET"], dependencies=[ReadAccess])
async def get_submodel_path(scope: ScopeDep, level: Level = LevelQuery) -> Response:
    twin, submodel_id = scope
    return json_response(element_paths(twin.submodel(submodel_id).submodel_element, level == "deep"))


add_service_routes(scoped)  # /description, /shells, /serialization of the single-submodel service


async def _body_for(request: Request, submodel_id: str) -> model.Submodel:
    submodel = await parsed_body(request, model.Submodel)
    same_id(submodel, submodel_id, "submodelIdentifier")
    return submodel


def _drop_reference(shell: model.AssetAdministrationShell, submodel_id: str) -> None:
    for ref in [ref for ref in shell.submodel if ref.key and ref.key[0].value == submodel_id]:
        shell.submodel.discard(ref)
