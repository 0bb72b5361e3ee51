"""Submodel elements: ``.../submodel-elements`` and ``.../submodel-elements/{idShortPath}``.

Mounted under both submodel prefixes (see ``server.api.scope.ScopedRoutes``). Reads of an
element that a device feeds carry its live quality and source timestamp as the documented
companion headers (``server.api.live``); the bodies stay standard Part 2 JSON.
The hot routes of one element (``GET``, ``PUT``, ``GET``/``PATCH .../$value``) are served by
``server.api.hot`` ahead of these.

``$value`` bodies are ``{idShort: value}`` (a bare value would not say whose it is; list items,
which have no idShort, are bare); ``PATCH .../$value`` takes the same shape, and a Property also
its bare value.
"""

from __future__ import annotations

from typing import Any

from basyx.aas import model
from fastapi import Request
from fastapi.responses import Response

from twinbridge.aas import files, paths
from twinbridge.aas.errors import NotFound
from twinbridge.aas.limits import check_media_type
from twinbridge.aas.twin import Twin
from twinbridge.aas.value_only import has_value, to_value
from twinbridge.server.api import stored_files, uploads
from twinbridge.server.api.auth import ReadAccess, WriteOrigin
from twinbridge.server.api.bodies import Extent, ExtentQuery, Level, LevelQuery, json_response, parsed_body
from twinbridge.server.api.content import element_metadata, element_paths, reference_json, shaped_json, value_depth
from twinbridge.server.api.live import live_headers
from twinbridge.server.api.metadata import ELEMENT_METADATA, copy_metadata
from twinbridge.server.api.paging import CursorQuery, LimitQuery, paged, paged_envelope
from twinbridge.server.api.results import ApiError
from twinbridge.server.api.scope import ScopeDep, ScopedRoutes
from twinbridge.server.api.value_writes import fits

scoped = ScopedRoutes("Submodel API")
routers = scoped.routers

_ELEMENTS = "/submodel-elements"
_ELEMENT = "/submodel-elements/{idShortPath}"


# --------------------------------------------------------------- helpers
def named_value(element: model.SubmodelElement, with_blob: bool, depth: int | None) -> Any:
    return {element.id_short: to_value(element, with_blob=with_blob, depth=depth)}


def _top_level(twin: Twin, submodel_id: str) -> list[model.SubmodelElement]:
    return list(twin.submodel(submodel_id).submodel_element)


def _same_kind(stored: model.SubmodelElement, body: model.SubmodelElement, path: str) -> None:
    if type(stored) is not type(body):
        raise ApiError(400, f"{path} is a {type(stored).__name__}; the body is a {type(body).__name__}")


# ---------------------------------------------------------- all elements
@scoped.route(_ELEMENTS, ["GET"], dependencies=[ReadAccess])
async def get_all_elements(scope: ScopeDep, limit: LimitQuery, cursor: CursorQuery, level: Level = LevelQuery,
                           extent: Extent = ExtentQuery) -> Response:
    twin, submodel_id = scope
    elements = _top_level(twin, submodel_id)
    return json_response(paged_envelope(elements, cursor, limit, lambda e: shaped_json(e, level, extent)))


@scoped.route(_ELEMENTS, ["POST"], status_code=201)
async def post_element(origin: WriteOrigin, request: Request, scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    element = await parsed_body(request, model.SubmodelElement)  # type: ignore[type-abstract]
    fits(twin, submodel_id, None, element)
    twin.add_element(submodel_id, None, element, origin=origin)
    return json_response(element, 201)


@scoped.route(_ELEMENTS + "/$metadata", ["GET"], dependencies=[ReadAccess])
async def get_all_elements_metadata(scope: ScopeDep, limit: LimitQuery, cursor: CursorQuery) -> Response:
    twin, submodel_id = scope
    return json_response(paged_envelope(_top_level(twin, submodel_id), cursor, limit, element_metadata))


@scoped.route(_ELEMENTS + "/$value", ["GET"], dependencies=[ReadAccess])
async def get_all_elements_value(scope: ScopeDep, limit: LimitQuery, cursor: CursorQuery,
                                 level: Level = LevelQuery, extent: Extent = ExtentQuery) -> Response:
    """Each item is ``{idShort: value}``: a bare value would not say which element it belongs to."""
    twin, submodel_id = scope
    elements = [element for element in _top_level(twin, submodel_id) if has_value(element)]
    with_blob, depth = extent == "withBlobValue", value_depth(level)
    return json_response(paged_envelope(elements, cursor, limit, lambda e: named_value(e, with_blob, depth)))


@scoped.route(_ELEMENTS + "/$reference", ["GET"], dependencies=[ReadAccess])
async def get_all_elements_reference(scope: ScopeDep, limit: LimitQuery, cursor: CursorQuery) -> Response:
    twin, submodel_id = scope
    return json_response(paged_envelope(_top_level(twin, submodel_id), cursor, limit, reference_json))


@scoped.route(_ELEMENTS + "/$path", ["GET"], dependencies=[ReadAccess])
async def get_all_elements_path(scope: ScopeDep, limit: LimitQuery, cursor: CursorQuery,
                                level: Level = LevelQuery) -> Response:
    twin, submodel_id = scope
    all_paths = element_paths(_top_level(twin, submodel_id), level == "deep")
    page, next_cursor = paged(all_paths, cursor, limit)
    return json_response({"paging_metadata": {"cursor": next_cursor} if next_cursor else {}, "result": page})


# ------------------------------------------------------------ one element
@scoped.route(_ELEMENT, ["POST"], status_code=201)
async def post_element_at(origin: WriteOrigin, request: Request, scope: ScopeDep, idShortPath: str) -> Response:
    """Adds a child to the collection, list, entity or annotated relationship at ``idShortPath``."""
    twin, submodel_id = scope
    element = await parsed_body(request, model.SubmodelElement)  # type: ignore[type-abstract]
    fits(twin, submodel_id, idShortPath, element)
    twin.add_element(submodel_id, idShortPath, element, origin=origin)
    return json_response(element, 201)


@scoped.route(_ELEMENT, ["PATCH"], status_code=204)
async def patch_element(origin: WriteOrigin, request: Request, scope: ScopeDep, idShortPath: str) -> Response:
    """A PATCH carries the complete element of the same kind; it replaces the stored one in place."""
    twin, submodel_id = scope
    stored = twin.element(submodel_id, idShortPath)
    element = await parsed_body(request, model.SubmodelElement)  # type: ignore[type-abstract]
    _same_kind(stored, element, idShortPath)
    fits(twin, submodel_id, idShortPath, element, replaced=stored)
    await twin.put_element(submodel_id, idShortPath, element, origin=origin)  # a new value alone: a value write
    return Response(status_code=204)


@scoped.route(_ELEMENT, ["DELETE"], status_code=204)
async def delete_element(origin: WriteOrigin, scope: ScopeDep, idShortPath: str) -> Response:
    twin, submodel_id = scope
    twin.delete_element(submodel_id, idShortPath, origin=origin)
    return Response(status_code=204)


@scoped.route(_ELEMENT + "/$metadata", ["GET"], dependencies=[ReadAccess])
async def get_element_metadata(scope: ScopeDep, idShortPath: str) -> Response:
    twin, submodel_id = scope
    element = twin.element(submodel_id, idShortPath)
    if isinstance(element, (model.Operation, model.Capability)):
        raise ApiError(400, f"{idShortPath} is a {type(element).__name__}: Part 2 defines no $metadata for it; "
                            "GET the element itself")
    return json_response(element_metadata(element), headers=live_headers(twin, submodel_id, idShortPath))


@scoped.route(_ELEMENT + "/$metadata", ["PATCH"], status_code=204)
async def patch_element_metadata(origin: WriteOrigin, request: Request, scope: ScopeDep, idShortPath: str) -> Response:
    twin, submodel_id = scope
    stored = twin.element(submodel_id, idShortPath)
    body = await parsed_body(request, model.SubmodelElement)  # type: ignore[type-abstract]
    _same_kind(stored, body, idShortPath)
    if body.id_short not in (None, stored.id_short):
        raise ApiError(400, f"{idShortPath}: the idShort cannot change through $metadata")
    twin.modify_element(submodel_id, idShortPath, lambda element: copy_metadata(element, body, ELEMENT_METADATA),
                        origin=origin)
    return Response(status_code=204)


@scoped.route(_ELEMENT + "/$reference", ["GET"], dependencies=[ReadAccess])
async def get_element_reference(scope: ScopeDep, idShortPath: str) -> Response:
    twin, submodel_id = scope
    return json_response(reference_json(twin.element(submodel_id, idShortPath)))


@scoped.route(_ELEMENT + "/$path", ["GET"], dependencies=[ReadAccess])
async def get_element_path(scope: ScopeDep, idShortPath: str, level: Level = LevelQuery) -> Response:
    """The element's own path and those below it (only containers have a $path)."""
    twin, submodel_id = scope
    element = twin.element(submodel_id, idShortPath)
    if not isinstance(element, (model.SubmodelElementCollection, model.SubmodelElementList, model.Entity)):
        raise ApiError(400, f"{idShortPath} is a {type(element).__name__}; only collections, lists and "
                            "entities have a $path")
    return json_response(element_paths([element], True) if level == "deep"
                         else [paths.path_of(element), *element_paths(paths.children(element), False)])


# ------------------------------------------------------------ attachments
def _file_or_blob(twin: Twin, submodel_id: str, path: str) -> model.File | model.Blob:
    element = twin.element(submodel_id, path)
    if not isinstance(element, (model.File, model.Blob)):
        raise ApiError(400, f"{path} is a {type(element).__name__}; only File and Blob elements have attachments")
    return element


@scoped.route(_ELEMENT + "/attachment", ["GET"], dependencies=[ReadAccess])
async def get_attachment(scope: ScopeDep, idShortPath: str) -> Response:
    twin, submodel_id = scope
    element = _file_or_blob(twin, submodel_id, idShortPath)
    if isinstance(element, model.Blob):
        if element.value is None:
            raise NotFound(f"the Blob {idShortPath} has no value")
        return Response(element.value, media_type=stored_files.media_type(element.content_type))
    if not element.value:
        raise NotFound(f"the File {idShortPath} has no value")
    content_type, data = stored_files.load(twin, element.value, f"the File {idShortPath}")
    return Response(data, media_type=stored_files.media_type(element.content_type or content_type))


_ATTACHMENT_BODY = uploads.multipart_body(
    "the attachment (a File's content, stored under a name the server assigns; a Blob's value)",
    {"fileName": {"type": "string", "description": "the file's name (its last segment ends the assigned name)"}},
    ["fileName"])


@scoped.route(_ELEMENT + "/attachment", ["PUT"], status_code=204, openapi_extra=_ATTACHMENT_BODY)
async def put_attachment(origin: WriteOrigin, scope: ScopeDep, idShortPath: str, request: Request) -> Response:
    """Multipart upload, streamed to disk (``server.api.uploads``): a File's content is stored
    under a name the server assigns from the content (``aas.files``), a Blob's goes into the
    model. Everything is checked first."""
    twin, submodel_id = scope
    _file_or_blob(twin, submodel_id, idShortPath)  # 404 before any of the body is read
    async with uploads.received(request, "file", "attachment_bytes", "the attachment") as upload:
        element = _file_or_blob(twin, submodel_id, idShortPath)  # as it is now the body has arrived
        content_type = upload.content_type or element.content_type or "application/octet-stream"
        check_media_type(content_type, "the attachment's content type")
        file_name = upload.required("fileName")
        if isinstance(element, model.Blob):
            data = upload.file.read()  # a Blob's value lives in the model (within attachment_bytes)
            twin.modify_element(submodel_id, idShortPath, lambda blob: _set_blob(blob, content_type, data),
                                origin=origin)
            return Response(status_code=204)
        base = files.plain_file_name(file_name, "fileName")
        old = element.value
        name, created = stored_files.store(twin, files.ATTACHMENTS, base, content_type, upload.file)
    try:
        twin.modify_element(submodel_id, idShortPath, lambda target: _set_file(target, content_type, name),
                            origin=origin)
    except Exception:
        if created:
            twin.delete_file(name)
        raise
    if old != name:
        stored_files.release(twin, old, element)
    return Response(status_code=204)


@scoped.route(_ELEMENT + "/attachment", ["DELETE"], status_code=204)
async def delete_attachment(origin: WriteOrigin, scope: ScopeDep, idShortPath: str) -> Response:
    twin, submodel_id = scope
    element = _file_or_blob(twin, submodel_id, idShortPath)
    if element.value is None:
        raise NotFound(f"{idShortPath} has no attachment")
    old = element.value
    twin.modify_element(submodel_id, idShortPath, lambda target: setattr(target, "value", None), origin=origin)
    if isinstance(old, str):
        stored_files.release(twin, old, element)
    return Response(status_code=204)


def _set_blob(blob: model.SubmodelElement, content_type: str, data: bytes) -> None:
    assert isinstance(blob, model.Blob)
    blob.content_type, blob.value = content_type, data


def _set_file(target: model.SubmodelElement, content_type: str, name: str) -> None:
    assert isinstance(target, model.File)
    target.content_type, target.value = content_type, name
