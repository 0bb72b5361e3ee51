"""AAS Repository routes: ``/shells``, asset information, thumbnails and submodel references.

The submodel superpaths ``/shells/{id}/submodels/{smId}/...`` are mounted by ``server.api.submodels``;
``GET /shells/{id}`` is a hot route (``server.api.hot``). Lists page and filter over the catalog
(``server.api.catalog``), so their cost does not grow with the number of shells.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from basyx.aas import model
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from twinbridge.aas import compat_basyx, files
from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.limits import check_media_type
from twinbridge.aas.store.base import ShellFilter
from twinbridge.aas.twin import Twin
from twinbridge.server.api import stored_files, uploads
from twinbridge.server.api.auth import ReadAccess, WriteOrigin
from twinbridge.server.api.bodies import (
    bytes_response,
    json_response,
    parse_part,
    parsed_body,
    parsed_part,
    same_id,
)
from twinbridge.server.api.catalog import Key, asset_key, id_short_key, shell_keys
from twinbridge.server.api.ids import decode_asset_ids, decode_id
from twinbridge.server.api.paging import CursorQuery, LimitQuery, envelope_bytes, next_cursor, paged_envelope
from twinbridge.server.api.results import ApiError
from twinbridge.server.api.services import Services, ServicesDep, TwinDep

router = APIRouter(tags=["Asset Administration Shell Repository API"])


JSON_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
}
AssetIdsQuery = Annotated[
    list[str] | None,
    Query(alias="assetIds", description="base64url-encoded SpecificAssetId JSON ({name, value}), or the "
          "base64url-encoded globalAssetId itself (as basyx-client sends it); name 'globalAssetId' matches the "
          "global asset id; several must all match"),
]
IdShortQuery = Annotated[str | None, Query(alias="idShort")]


# ------------------------------------------------------------------ helpers
def shell_of(twin: Twin, encoded: str) -> model.AssetAdministrationShell:
    return twin.shell(decode_id(encoded, "aasIdentifier"))


def reference_to(identifiable: model.Identifiable) -> Any:
    return to_jsonable(model.ModelReference.from_referable(identifiable))


def shell_reference_json(identifier: str) -> bytes:
    """``reference_to`` a shell, from its id alone: a page of references reads no shell (and
    building it through basyx cost ~35 µs a reference)."""
    return orjson.dumps({"type": "ModelReference", "keys": [{"type": "AssetAdministrationShell", "value": identifier}]})


def _specific_asset_id(item: Any) -> tuple[str, str]:
    """One item of an ``assetIds`` filter (``decode_asset_ids``): an object with string name and value."""
    if not (isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("value"), str)):
        raise ApiError(400, "assetIds must encode SpecificAssetId objects with string name and value")
    return item["name"], item["value"]


def filter_keys(id_short: str | None, asset_ids: list[str] | None) -> list[Key]:
    """The catalog keys a shell must all have to pass the ``idShort`` and ``assetIds`` filters."""
    keys = [asset_key(name, value) for name, value in decode_asset_ids(asset_ids, _specific_asset_id)]
    if id_short is not None:
        keys.append(id_short_key(id_short))
    return keys


def shell_page(services: Services, id_short: str | None, asset_ids: list[str] | None, cursor: int,
               limit: int | None, render: Callable[[str], bytes]) -> Response:
    """A page of ``/shells``: over the in-memory catalog, or in SQL with a bounded cache of shells."""
    catalogs = services.catalogs.current()
    if catalogs.stored_shells is not None:
        where = ShellFilter(id_short, tuple(decode_asset_ids(asset_ids, _specific_asset_id)))
        ids, after = catalogs.stored_shells.page(where, cursor, limit)
    else:
        ids, after = catalogs.shells.page(filter_keys(id_short, asset_ids), cursor, limit)
    return bytes_response(envelope_bytes([render(identifier) for identifier in ids], next_cursor(after)))


def _submodel_reference(data: bytes) -> model.ModelReference:
    reference = parse_part(data, "a Reference", compat_basyx.construct_reference)
    keys = list(reference.key)
    if not isinstance(reference, model.ModelReference) or len(keys) != 1 \
            or keys[0].type is not model.KeyTypes.SUBMODEL:
        raise ApiError(400, "a submodel reference must be a ModelReference with exactly one key of type Submodel")
    return reference


def _referenced_ids(shell: model.AssetAdministrationShell) -> list[str]:
    return [next(iter(reference.key)).value for reference in shell.submodel]


# ------------------------------------------------------------------- shells
@router.get("/shells", dependencies=[ReadAccess])  # GET is answered by server.api.hot; HEAD and the schema here
async def get_all_shells(services: ServicesDep, limit: LimitQuery, cursor: CursorQuery,
                         id_short: IdShortQuery = None, asset_ids: AssetIdsQuery = None) -> Response:
    return shell_page(services, id_short, asset_ids, cursor, limit, services.catalogs.shell_json)


@router.post("/shells", status_code=201, openapi_extra=JSON_BODY)
async def post_shell(origin: WriteOrigin, request: Request, twin: TwinDep) -> Response:
    shell = await parsed_body(request, model.AssetAdministrationShell)
    twin.create(shell, origin=origin)
    return json_response(shell, status=201)


@router.get("/shells/$reference", dependencies=[ReadAccess])
async def get_all_shell_references(services: ServicesDep, limit: LimitQuery, cursor: CursorQuery,
                                   id_short: IdShortQuery = None,
                                   asset_ids: AssetIdsQuery = None) -> Response:
    return shell_page(services, id_short, asset_ids, cursor, limit, shell_reference_json)


@router.put("/shells/{aasIdentifier}", status_code=204, openapi_extra=JSON_BODY)
async def put_shell(origin: WriteOrigin, aasIdentifier: str, request: Request, twin: TwinDep) -> Response:
    identifier = decode_id(aasIdentifier, "aasIdentifier")
    shell = await parsed_body(request, model.AssetAdministrationShell)
    same_id(shell, identifier, "aasIdentifier")
    twin.replace(shell, origin=origin)
    return Response(status_code=204)


@router.delete("/shells/{aasIdentifier}", status_code=204)
async def delete_shell(origin: WriteOrigin, aasIdentifier: str, twin: TwinDep) -> Response:
    twin.delete(ObjectKind.SHELL, decode_id(aasIdentifier, "aasIdentifier"), origin=origin)
    return Response(status_code=204)


@router.get("/shells/{aasIdentifier}/$reference", dependencies=[ReadAccess])
async def get_shell_reference(aasIdentifier: str, twin: TwinDep) -> Response:
    return json_response(reference_to(shell_of(twin, aasIdentifier)))


@router.get("/shells/{aasIdentifier}/shells", dependencies=[ReadAccess])
async def get_own_shell_list(aasIdentifier: str, twin: TwinDep, limit: LimitQuery, cursor: CursorQuery,
                             id_short: IdShortQuery = None, asset_ids: AssetIdsQuery = None) -> Response:
    """The single-shell view (AAS Service at ``/shells/{id}``) lists just this shell.

    Clients of the standalone AAS Service, such as the IDTA conformance tool, discover the
    shell through ``/shells`` relative to the service root.
    """
    shell = shell_of(twin, aasIdentifier)
    wanted = filter_keys(id_short, asset_ids)
    shells = [shell] if set(wanted) <= set(shell_keys(shell)) else []
    return json_response(paged_envelope(shells, cursor, limit, to_jsonable))


# -------------------------------------------------------- asset information
@router.get("/shells/{aasIdentifier}/asset-information", dependencies=[ReadAccess])
async def get_asset_information(aasIdentifier: str, twin: TwinDep) -> Response:
    return json_response(shell_of(twin, aasIdentifier).asset_information)


@router.put("/shells/{aasIdentifier}/asset-information", status_code=204,
            openapi_extra=JSON_BODY)
async def put_asset_information(origin: WriteOrigin, aasIdentifier: str, request: Request, twin: TwinDep) -> Response:
    shell = shell_of(twin, aasIdentifier)
    info = await parsed_part(request, "an AssetInformation",
                      compat_basyx.construct_asset_information)
    twin.modify(ObjectKind.SHELL, shell.id, lambda s: setattr(s, "asset_information", info), origin=origin)
    return Response(status_code=204)


@router.get("/shells/{aasIdentifier}/asset-information/thumbnail", dependencies=[ReadAccess],
            response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}})
async def get_thumbnail(aasIdentifier: str, twin: TwinDep) -> Response:
    shell = shell_of(twin, aasIdentifier)
    thumbnail = shell.asset_information.default_thumbnail
    if thumbnail is None:
        raise NotFound(f"the shell {shell.id!r} has no thumbnail")
    content_type, data = stored_files.load(twin, thumbnail.path, f"the thumbnail of shell {shell.id!r}")
    return Response(data, media_type=stored_files.media_type(thumbnail.content_type or content_type))


_THUMBNAIL_BODY = uploads.multipart_body(
    "the thumbnail image", {"fileName": {"type": "string", "description": "a plain file name (no '/')"}},
    ["fileName"])


@router.put("/shells/{aasIdentifier}/asset-information/thumbnail", status_code=204, openapi_extra=_THUMBNAIL_BODY)
async def put_thumbnail(origin: WriteOrigin, aasIdentifier: str, twin: TwinDep, request: Request) -> Response:
    """Streamed to disk (``server.api.uploads``) and stored under a name the server assigns from
    the content; the old one goes if the server assigned it."""
    shell_of(twin, aasIdentifier)  # 404 before any of the body is read
    async with uploads.received(request, "file", "thumbnail_bytes", "the thumbnail") as upload:
        shell = shell_of(twin, aasIdentifier)  # as it is now the body has arrived
        fileName = upload.required("fileName")
        if not fileName or "/" in fileName or "\\" in fileName or fileName in {".", ".."}:
            raise ApiError(400, f"fileName {fileName!r} must be a plain file name")
        base = files.plain_file_name(fileName, "fileName")
        given = upload.content_type
        content_type = (given if given and given != "application/octet-stream"
                        else mimetypes.guess_type(base)[0]) or "application/octet-stream"
        check_media_type(content_type, "the thumbnail's content type")
        old = shell.asset_information.default_thumbnail
        try:
            resource = model.Resource(path=files.assigned_name(files.THUMBNAILS, upload.file.digest, base),
                                      content_type=content_type)
        except (model.AASConstraintViolation, ValueError) as error:
            raise ApiError(400, f"thumbnail {fileName!r}: {error}") from None
        name, created = stored_files.store(twin, files.THUMBNAILS, base, content_type, upload.file)
    try:
        twin.modify(ObjectKind.SHELL, shell.id,
                    lambda s: setattr(s.asset_information, "default_thumbnail", resource), origin=origin)
    except Exception:
        if created:
            twin.delete_file(name)
        raise
    if old is not None and old.path != name:
        stored_files.release(twin, old.path, shell)
    return Response(status_code=204)


@router.delete("/shells/{aasIdentifier}/asset-information/thumbnail", status_code=204)
async def delete_thumbnail(origin: WriteOrigin, aasIdentifier: str, twin: TwinDep) -> Response:
    shell = shell_of(twin, aasIdentifier)
    thumbnail = shell.asset_information.default_thumbnail
    if thumbnail is None:
        raise NotFound(f"the shell {shell.id!r} has no thumbnail")
    twin.modify(ObjectKind.SHELL, shell.id, lambda s: setattr(s.asset_information, "default_thumbnail", None),
                origin=origin)
    stored_files.release(twin, thumbnail.path, shell)
    return Response(status_code=204)


# ---------------------------------------------------------- submodel refs
@router.get("/shells/{aasIdentifier}/submodel-refs", dependencies=[ReadAccess])
async def get_submodel_references(aasIdentifier: str, twin: TwinDep, limit: LimitQuery,
                                  cursor: CursorQuery) -> Response:
    references = list(shell_of(twin, aasIdentifier).submodel)
    return json_response(paged_envelope(references, cursor, limit, to_jsonable))


@router.post("/shells/{aasIdentifier}/submodel-refs", status_code=201,
             openapi_extra=JSON_BODY)
async def post_submodel_reference(origin: WriteOrigin, aasIdentifier: str, request: Request, twin: TwinDep) -> Response:
    shell = shell_of(twin, aasIdentifier)
    reference = _submodel_reference(await request.body())
    submodel_id = next(iter(reference.key)).value
    if submodel_id in _referenced_ids(shell):
        raise ApiError(409, f"the shell {shell.id!r} already references submodel {submodel_id!r}")
    twin.modify(ObjectKind.SHELL, shell.id, lambda s: s.submodel.add(reference), origin=origin)
    return json_response(reference, status=201)


@router.delete("/shells/{aasIdentifier}/submodel-refs/{submodelIdentifier}", status_code=204)
async def delete_submodel_reference(origin: WriteOrigin, aasIdentifier: str, submodelIdentifier: str,
                                    twin: TwinDep) -> Response:
    shell = shell_of(twin, aasIdentifier)
    submodel_id = decode_id(submodelIdentifier, "submodelIdentifier")
    matches = [ref for ref in shell.submodel if next(iter(ref.key)).value == submodel_id]
    if not matches:
        raise NotFound(f"the shell {shell.id!r} has no reference to submodel {submodel_id!r}")
    twin.modify(ObjectKind.SHELL, shell.id, lambda s: s.submodel.discard(matches[0]), origin=origin)
    return Response(status_code=204)
