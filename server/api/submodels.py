"""Submodel Repository API: ``/submodels`` and every route scoped to one submodel.

The submodel-scoped routes (this module's and those of ``elements`` and ``operations``) are
mounted twice with one implementation: under ``/submodels/{submodelIdentifier}`` and under
``/shells/{aasIdentifier}/submodels/{submodelIdentifier}``; the latter first checks that the
shell exists and references the submodel. Serialized submodels are cached per twin, keyed on
``twin.revision`` so any change (structural or live value) invalidates them.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable
from typing import Annotated, Any, NamedTuple

import orjson
from basyx.aas import model
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from aas import paths
from aas.documents import to_jsonable
from aas.errors import NotFound, NotWritable
from aas.events import ObjectKind
from aas.serialization import FormatName, collect, write_environment
from aas.twin import Twin
from aas.value_only import apply_submodel_value, submodel_value
from server.api.auth import Credentials, require_read, require_write
from server.api.codec import Extent, ExtentQuery, Level, LevelQuery, json_response, load_json, parse_body, shape
from server.api.ids import decode_id
from server.api.paging import CursorQuery, LimitQuery, paged_envelope
from server.api.results import ApiError
from server.api.serialization import AASX_MEDIA_TYPE, negotiate

SUBMODEL_PREFIX = "/submodels/{submodelIdentifier}"
SHELL_SUBMODEL_PREFIX = "/shells/{aasIdentifier}/submodels/{submodelIdentifier}"
_DECODED_LIMIT = 4096
_METADATA_FIELDS = (
    "id_short", "display_name", "category", "description", "administration", "semantic_id",
    "supplemental_semantic_id", "qualifier", "extension", "embedded_data_specifications", "kind",
)


# --------------------------------------------------------------- scoping
class ScopedRoutes:
    """Registers each handler under both submodel prefixes, so the two stay one implementation."""

    def __init__(self, tag: str) -> None:
        self.routers = [
            APIRouter(prefix=SUBMODEL_PREFIX, tags=[tag]),
            APIRouter(prefix=SHELL_SUBMODEL_PREFIX, tags=[f"{tag} (via shell)"]),
        ]

    def route(self, path: str, methods: list[str], **options: Any) -> Callable[[Callable[..., Any]], Any]:
        def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            for router in self.routers:
                router.add_api_route(path, endpoint, methods=methods, **options)
            return endpoint

        return register


_decoded: dict[str, str] = {}


def decode_cached(value: str, what: str) -> str:
    """``decode_id`` with a bounded memo: hot read paths decode the same few ids over and over."""
    identifier = _decoded.get(value)
    if identifier is None:
        identifier = decode_id(value, what)
        if len(_decoded) >= _DECODED_LIMIT:
            _decoded.clear()
        _decoded[value] = identifier
    return identifier


# The dependencies below are coroutines on purpose: FastAPI runs plain functions in a worker
# thread, which costs a thread hop per request and would touch the (single-threaded) twin
# from outside the event loop.
async def _read_access(request: Request, credentials: Credentials) -> None:
    require_read(request, credentials)


async def _write_access(request: Request, credentials: Credentials) -> None:
    require_write(request, credentials)


ReadAccess = Depends(_read_access)
WriteAccess = Depends(_write_access)


async def current_twin(request: Request) -> Twin:
    twin: Twin = request.app.state.twin
    return twin


TwinDep = Annotated[Twin, Depends(current_twin)]


class Scope(NamedTuple):
    twin: Twin
    submodel_id: str


async def submodel_scope(request: Request) -> Scope:
    """The twin and submodel id of the route; via a shell, the shell must exist and reference it."""
    params = request.path_params
    twin: Twin = request.app.state.twin
    submodel_id = decode_cached(params["submodelIdentifier"], "submodelIdentifier")
    shell_param = params.get("aasIdentifier")
    if shell_param is not None:
        shell_id = decode_cached(shell_param, "aasIdentifier")
        if not references(twin.shell(shell_id), submodel_id):
            raise NotFound(f"the shell {shell_id!r} does not reference a submodel {submodel_id!r}")
    if submodel_id not in twin.submodels:
        raise NotFound(f"no Submodel with id {submodel_id!r}")
    return Scope(twin, submodel_id)


ScopeDep = Annotated[Scope, Depends(submodel_scope)]


def references(shell: model.AssetAdministrationShell, submodel_id: str) -> bool:
    return any(ref.key and ref.key[0].value == submodel_id for ref in shell.submodel)


# ------------------------------------------------------------- rendering
class RenderCache:
    """Serialized responses of one twin, each valid for one revision of its submodel."""

    def __init__(self) -> None:
        self.documents: dict[tuple[str, str], tuple[int, bytes]] = {}
        self.elements: dict[tuple[str, str], tuple[int, model.SubmodelElement]] = {}

    def document(self, twin: Twin, submodel_id: str, variant: str, render: Callable[[], Any]) -> bytes:
        revision = twin.revision(submodel_id)
        key = (submodel_id, variant)
        hit = self.documents.get(key)
        if hit is not None and hit[0] == revision:
            return hit[1]
        data = orjson.dumps(render())
        if len(self.documents) >= _DECODED_LIMIT:
            self.documents.clear()
        self.documents[key] = (revision, data)
        return data

    def element(self, twin: Twin, submodel_id: str, path: str) -> model.SubmodelElement:
        """The element at ``path``, re-resolved only when the submodel's revision moved."""
        revision = twin.revision(submodel_id)
        key = (submodel_id, path)
        hit = self.elements.get(key)
        if hit is not None and hit[0] == revision:
            return hit[1]
        element = twin.element(submodel_id, path)
        if len(self.elements) >= _DECODED_LIMIT:
            self.elements.clear()
        self.elements[key] = (revision, element)
        return element


_caches: weakref.WeakKeyDictionary[Twin, RenderCache] = weakref.WeakKeyDictionary()


def render_cache(twin: Twin) -> RenderCache:
    cache = _caches.get(twin)
    if cache is None:
        cache = _caches[twin] = RenderCache()
    return cache


def submodel_json(submodel: model.Submodel, level: Level = "deep", extent: Extent = "withBlobValue") -> Any:
    return shape(to_jsonable(submodel), level, extent)


def submodel_metadata(submodel: model.Submodel) -> Any:
    data = to_jsonable(submodel)
    data.pop("submodelElements", None)
    return data


def submodel_reference(submodel: model.Submodel) -> Any:
    return to_jsonable(model.ModelReference.from_referable(submodel))


def element_paths(elements: Iterable[model.SubmodelElement], deep: bool) -> list[str]:
    """idShortPaths of ``elements`` and (when ``deep``) all their descendants, parents first."""
    out: list[str] = []
    for element in elements:
        out.append(paths.path_of(element))
        if deep:
            out.extend(element_paths(paths.children(element), deep))
    return out


def bytes_response(data: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(data, status_code=status, media_type="application/json", headers=headers)


def refuse_bound_values(twin: Twin, submodel_id: str, under: str | None) -> None:
    """A $value PATCH above device-fed elements would bypass their write-back; refuse it."""
    for handle in twin.live_elements():
        if handle.submodel_id != submodel_id or not twin.is_bound(handle):
            continue
        if under is None or handle.path == under or handle.path.startswith((under + ".", under + "[")):
            raise NotWritable(
                f"{handle.path} is fed by a device; PATCH its own $value so the write reaches the device"
            )


def copy_metadata(target: model.Referable, source: model.Referable, fields: Iterable[str]) -> None:
    """Copy metadata attributes (not values, not children) from a parsed body onto the stored object."""
    for field in fields:
        if not hasattr(source, field):
            continue
        value = getattr(source, field)
        current = getattr(target, field)
        if isinstance(current, (model.NamespaceSet, model.ConstrainedList, list, set)) and not isinstance(
            current, model.LangStringSet
        ):
            items = list(value)
            current.clear()
            for item in items:
                if isinstance(current, (list, model.ConstrainedList)):
                    current.append(item)
                else:
                    current.add(item)
        else:
            setattr(target, field, value)


# ------------------------------------------------------------ repository
router = APIRouter(tags=["Submodel Repository API"])


def _filtered(twin: Twin, semantic_id: str | None, id_short: str | None) -> list[model.Submodel]:
    submodels = list(twin.submodels.values())
    if id_short is not None:
        submodels = [submodel for submodel in submodels if submodel.id_short == id_short]
    if semantic_id is not None:
        wanted = _semantic_filter(decode_id(semantic_id, "semanticId"))
        submodels = [submodel for submodel in submodels if wanted(submodel.semantic_id)]
    return submodels


def _semantic_filter(decoded: str) -> Callable[[model.Reference | None], bool]:
    """Match a semanticId given either as a Reference JSON or as the value of its key."""
    try:
        raw = json.loads(decoded)
    except ValueError:
        raw = None
    if isinstance(raw, dict) and isinstance(raw.get("keys"), list):
        values = [key.get("value") for key in raw["keys"] if isinstance(key, dict)]
        return lambda ref: ref is not None and [key.value for key in ref.key] == values
    return lambda ref: ref is not None and any(key.value == decoded for key in ref.key)


@router.get("/submodels", dependencies=[ReadAccess])
async def get_all_submodels(twin: TwinDep, limit: LimitQuery, cursor: CursorQuery, semanticId: str | None = None,
                      idShort: str | None = None, level: Level = LevelQuery,
                      extent: Extent = ExtentQuery) -> Response:
    submodels = _filtered(twin, semanticId, idShort)
    return json_response(paged_envelope(submodels, cursor, limit, lambda sm: submodel_json(sm, level, extent)))


@router.post("/submodels", status_code=201, dependencies=[WriteAccess])
async def post_submodel(request: Request, twin: TwinDep) -> Response:
    submodel = parse_body(await request.body(), model.Submodel)
    twin.create(submodel)
    return json_response(submodel, 201)


@router.get("/submodels/$metadata", dependencies=[ReadAccess])
async def get_all_submodels_metadata(twin: TwinDep, limit: LimitQuery, cursor: CursorQuery,
                               semanticId: str | None = None, idShort: str | None = None) -> Response:
    submodels = _filtered(twin, semanticId, idShort)
    return json_response(paged_envelope(submodels, cursor, limit, submodel_metadata))


@router.get("/submodels/$value", dependencies=[ReadAccess])
async def get_all_submodels_value(twin: TwinDep, limit: LimitQuery, cursor: CursorQuery,
                            semanticId: str | None = None, idShort: str | None = None,
                            level: Level = LevelQuery, extent: Extent = ExtentQuery) -> Response:
    submodels = _filtered(twin, semanticId, idShort)
    depth = 1 if level == "core" else None
    with_blob = extent == "withBlobValue"
    return json_response(paged_envelope(
        submodels, cursor, limit,
        lambda sm: {sm.id_short: submodel_value(sm, with_blob=with_blob, depth=depth)},
    ))


@router.get("/submodels/$reference", dependencies=[ReadAccess])
async def get_all_submodels_reference(twin: TwinDep, limit: LimitQuery, cursor: CursorQuery,
                                semanticId: str | None = None, idShort: str | None = None) -> Response:
    submodels = _filtered(twin, semanticId, idShort)
    return json_response(paged_envelope(submodels, cursor, limit, submodel_reference))


@router.get("/submodels/$path", dependencies=[ReadAccess])
async def get_all_submodels_path(twin: TwinDep, limit: LimitQuery, cursor: CursorQuery,
                           semanticId: str | None = None, idShort: str | None = None,
                           level: Level = LevelQuery) -> Response:
    """The idShortPaths of every matching submodel's elements, one after the other, paged as one list."""
    submodels = _filtered(twin, semanticId, idShort)
    all_paths = [path for sm in submodels for path in element_paths(sm.submodel_element, level == "deep")]
    return json_response(paged_envelope(all_paths, cursor, limit, str))


# -------------------------------------------------------- one submodel
scoped = ScopedRoutes("Submodel API")
routers = scoped.routers


@scoped.route("", ["GET"], dependencies=[ReadAccess])
async def get_submodel(scope: ScopeDep, level: Level = LevelQuery,
                 extent: Extent = ExtentQuery) -> Response:
    twin, submodel_id = scope
    submodel = twin.submodel(submodel_id)
    data = render_cache(twin).document(twin, submodel_id, f"full/{level}/{extent}",
                                       lambda: submodel_json(submodel, level, extent))
    return bytes_response(data)


@scoped.route("", ["PUT"], status_code=204, dependencies=[WriteAccess])
async def put_submodel(request: Request, scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    submodel = _body_for(await request.body(), submodel_id)
    twin.replace(submodel)
    return Response(status_code=204)


@scoped.route("", ["PATCH"], status_code=204, dependencies=[WriteAccess])
async def patch_submodel(request: Request, scope: ScopeDep) -> Response:
    """A PATCH carries a complete Submodel (Part 2 has no merge format for it); it replaces the stored one."""
    twin, submodel_id = scope
    submodel = _body_for(await request.body(), submodel_id)
    twin.replace(submodel)
    return Response(status_code=204)


@scoped.route("", ["DELETE"], status_code=204, dependencies=[WriteAccess])
async def delete_submodel(scope: ScopeDep) -> Response:
    """Deletes the submodel and the references every shell holds to it (no dangling refs remain)."""
    twin, submodel_id = scope
    for shell in list(twin.shells.values()):
        if references(shell, submodel_id):
            twin.modify(ObjectKind.SHELL, shell.id, lambda aas: _drop_reference(aas, submodel_id))
    twin.delete(ObjectKind.SUBMODEL, submodel_id)
    return Response(status_code=204)


@scoped.route("/$metadata", ["GET"], dependencies=[ReadAccess])
async def get_submodel_metadata(scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    return json_response(submodel_metadata(twin.submodel(submodel_id)))


@scoped.route("/$metadata", ["PATCH"], status_code=204, dependencies=[WriteAccess])
async def patch_submodel_metadata(request: Request, scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    body = _body_for(await request.body(), submodel_id)
    if len(body.submodel_element):
        raise ApiError(400, "a $metadata PATCH must not carry submodelElements; use PUT or PATCH the $value")
    twin.modify(ObjectKind.SUBMODEL, submodel_id, lambda stored: copy_metadata(stored, body, _METADATA_FIELDS))
    return Response(status_code=204)


@scoped.route("/$value", ["GET"], dependencies=[ReadAccess])
async def get_submodel_value(scope: ScopeDep, level: Level = LevelQuery,
                       extent: Extent = ExtentQuery) -> Response:
    twin, submodel_id = scope
    submodel = twin.submodel(submodel_id)
    depth = 1 if level == "core" else None
    data = render_cache(twin).document(
        twin, submodel_id, f"value/{level}/{extent}",
        lambda: submodel_value(submodel, with_blob=extent == "withBlobValue", depth=depth),
    )
    return bytes_response(data)


@scoped.route("/$value", ["PATCH"], status_code=204, dependencies=[WriteAccess])
async def patch_submodel_value(request: Request, scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    data = load_json(await request.body(), "the submodel's values by idShort")
    refuse_bound_values(twin, submodel_id, None)
    twin.modify(ObjectKind.SUBMODEL, submodel_id, lambda submodel: apply_submodel_value(submodel, data))
    return Response(status_code=204)


@scoped.route("/$reference", ["GET"], dependencies=[ReadAccess])
async def get_submodel_reference(scope: ScopeDep) -> Response:
    twin, submodel_id = scope
    return json_response(submodel_reference(twin.submodel(submodel_id)))


@scoped.route("/$path", ["GET"], dependencies=[ReadAccess])
async def get_submodel_path(scope: ScopeDep, level: Level = LevelQuery) -> Response:
    twin, submodel_id = scope
    return json_response(element_paths(twin.submodel(submodel_id).submodel_element, level == "deep"))


# ------------------------------------------- the single-submodel service view
# ``/submodels/{id}`` (or ``/shells/{a}/submodels/{id}``) also works as a standalone Submodel
# Service root: its clients (the IDTA conformance tool among them) discover profiles, shells
# and serializations relative to that root.
SUBMODEL_SERVICE_PROFILES = (
    "https://admin-shell.io/aas/API/3/0/SubmodelServiceSpecification/SSP-001",
    "https://admin-shell.io/aas/API/3/0/SubmodelServiceSpecification/SSP-002",
)
_FORMATS: dict[str, FormatName] = {
    "application/json": "json", "application/xml": "xml", "text/xml": "xml", AASX_MEDIA_TYPE: "aasx",
}
IdsQuery = Annotated[list[str] | None, Query(description="base64url-encoded identifiers (repeat or comma-separate)")]


@scoped.route("/description", ["GET"], dependencies=[ReadAccess])
async def get_submodel_service_description(scope: ScopeDep) -> Response:
    return json_response({"profiles": list(SUBMODEL_SERVICE_PROFILES)})


@scoped.route("/shells", ["GET"], dependencies=[ReadAccess])
async def get_referencing_shells(request: Request, scope: ScopeDep, limit: LimitQuery,
                                 cursor: CursorQuery) -> Response:
    """The shells that reference this submodel (via a shell: just that one)."""
    shells = _referencing_shells(request, scope)
    return json_response(paged_envelope(shells, cursor, limit, to_jsonable))


@scoped.route("/serialization", ["GET"], dependencies=[ReadAccess], response_class=Response)
async def get_submodel_serialization(request: Request, scope: ScopeDep, aasIds: IdsQuery = None,
                                     submodelIds: IdsQuery = None,
                                     includeConceptDescriptions: bool = True) -> Response:
    """An environment of this submodel and the shells referencing it, narrowed by the id filters."""
    twin, submodel_id = scope
    media = negotiate(request.headers.get("accept"))
    fmt = _FORMATS.get(media)
    if fmt is None:
        raise ApiError(406, f"a submodel service serializes as {sorted(_FORMATS)}, not {media!r}", "NotAcceptable")
    shell_ids = [shell.id for shell in _referencing_shells(request, scope)]
    if aasIds is not None:
        wanted = _decoded_ids(aasIds, "aasIds")
        shell_ids = [identifier for identifier in shell_ids if identifier in wanted]
    submodel_ids = [submodel_id]
    if submodelIds is not None and submodel_id not in _decoded_ids(submodelIds, "submodelIds"):
        submodel_ids = []
    env = collect(twin, shell_ids, submodel_ids, includeConceptDescriptions)
    return Response(write_environment(env, fmt), media_type=media)


def _referencing_shells(request: Request, scope: Scope) -> list[model.AssetAdministrationShell]:
    twin, submodel_id = scope
    shell_param = request.path_params.get("aasIdentifier")
    if shell_param is not None:
        return [twin.shell(decode_cached(shell_param, "aasIdentifier"))]
    return [shell for shell in twin.shells.values() if references(shell, submodel_id)]


def _decoded_ids(values: list[str], what: str) -> set[str]:
    return {decode_id(part, what) for value in values for part in value.split(",") if part}


def _body_for(body: bytes, submodel_id: str) -> model.Submodel:
    submodel = parse_body(body, model.Submodel)
    if submodel.id != submodel_id:
        raise ApiError(400, f"the body's id {submodel.id!r} differs from the path's {submodel_id!r}")
    return submodel


def _drop_reference(shell: model.AssetAdministrationShell, submodel_id: str) -> None:
    for ref in [ref for ref in shell.submodel if ref.key and ref.key[0].value == submodel_id]:
        shell.submodel.discard(ref)
