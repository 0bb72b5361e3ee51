"""Submodel Repository API: ``/submodels`` and every route scoped to one submodel.

The submodel-scoped routes (this module's and those of ``elements`` and ``operations``) are
mounted twice with one implementation: under ``/submodels/{submodelIdentifier}`` and under
``/shells/{aasIdentifier}/submodels/{submodelIdentifier}``; the latter first checks that the
shell exists and references the submodel. Serialized submodels are cached per twin, keyed on
``twin.revision`` so any change (structural or live value) invalidates them.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, NamedTuple

import orjson
from basyx.aas import model
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPBearer

from aas import paths
from aas.documents import to_jsonable
from aas.errors import InvalidInput, NotFound, NotWritable
from aas.events import ObjectKind
from aas.live import LiveElement
from aas.serialization import FormatName, collect, write_environment
from aas.twin import Twin
from aas.value_only import apply_submodel_value, has_value, submodel_value, to_value
from server.api.auth import check_access, require_read, require_write
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


ReadAccess = Depends(require_read)
WriteAccess = Depends(require_write)


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
    """Copy metadata attributes (not values, not children) from a parsed body onto the stored object.

    basyx checks some constraints only when attributes are set one by one (AASd-118: no
    supplementalSemanticId without a semanticId); if one fails, every field is put back and
    the body is refused, so the stored object never ends up half-updated.
    """
    present = [field for field in fields if hasattr(source, field)]
    before = {field: _detached(getattr(target, field)) for field in present}
    try:
        for field in present:
            _assign(target, field, _detached(getattr(source, field)))
    except (model.AASConstraintViolation, ValueError, TypeError) as error:
        for field, value in before.items():
            _assign(target, field, value)
        raise InvalidInput(f"{getattr(target, 'id_short', None) or 'the object'}: {error}") from None


def _is_collection(value: Any) -> bool:
    return isinstance(value, (model.NamespaceSet, model.ConstrainedList, list, set)) and not isinstance(
        value, model.LangStringSet)


def _detached(value: Any) -> Any:
    """A collection's items as a plain list, taken out of it (a referable has only one parent)."""
    if not _is_collection(value):
        return value
    items = list(value)
    value.clear()
    return items


def _assign(target: model.Referable, field: str, value: Any) -> None:
    current = getattr(target, field)
    if not _is_collection(current):
        setattr(target, field, value)
        return
    current.clear()
    for item in value:
        if isinstance(current, (list, model.ConstrainedList)):
            current.append(item)
        else:
            current.add(item)


# ------------------------------------------------------------ the hot path
router = APIRouter(tags=["Submodel Repository API"])
# FastAPI matches routes one by one in the order they were included, so the hottest route of
# the API (a device value read by dashboards and gateways) is this module's first. Query
# parameters are parsed by hand and access checked only when reads need a token.
_bearer = HTTPBearer(auto_error=False)
_VALUE_QUERY = [
    {"name": "level", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["deep", "core"], "default": "deep"}},
    {"name": "extent", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["withBlobValue", "withoutBlobValue"], "default": "withBlobValue"}},
]
_QUERY_CHOICES = {"level": ("deep", "core"), "extent": ("withBlobValue", "withoutBlobValue")}


def live_headers(twin: Twin, submodel_id: str, path: str) -> dict[str, str] | None:
    """The companion headers of an element with a live handle (None when it has none)."""
    return _handle_headers(twin.find_live(submodel_id, path))


def _handle_headers(handle: LiveElement | None) -> dict[str, str] | None:
    if handle is None:
        return None
    headers = {"X-Twinbridge-Quality": handle.quality.value}
    if handle.timestamp is not None:
        headers["X-Twinbridge-Timestamp"] = xs_datetime(handle.timestamp)
    return headers


def xs_datetime(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _value_query(request: Request) -> tuple[bool, int | None]:
    """(with blob values, depth) from ``level``/``extent``; unknown values are a 400 naming them."""
    if not request.scope["query_string"]:
        return True, None
    query = request.query_params
    for name, choices in _QUERY_CHOICES.items():
        given = query.get(name)
        if given is not None and given not in choices:
            raise ApiError(400, f"query parameter {name}={given!r} must be one of {list(choices)}")
    return query.get("extent", "withBlobValue") == "withBlobValue", 1 if query.get("level") == "core" else None


async def get_element_value(request: Request) -> Response:
    """``GET .../submodel-elements/{idShortPath}/$value``: ``{idShort: value}`` (a list item's bare value)."""
    idShortPath = request.path_params["idShortPath"]
    security = request.app.state.security
    if security.mode != "none" and not security.read_open:
        check_access(request, await _bearer(request), "read")
    twin: Twin = request.app.state.twin
    with_blob, depth = _value_query(request)
    if "aasIdentifier" in request.path_params:
        submodel_id = (await submodel_scope(request)).submodel_id
    else:
        submodel_id = decode_cached(request.path_params["submodelIdentifier"], "submodelIdentifier")
        if submodel_id not in twin.submodels:
            raise NotFound(f"no Submodel with id {submodel_id!r}")
    # A live handle follows its element across structural edits (the twin re-resolves it), so a
    # device-fed value needs no lookup at all; other elements come from the revision-keyed cache.
    handle = twin.find_live(submodel_id, idShortPath)
    element = handle.element if handle is not None else None
    if element is None:
        element = render_cache(twin).element(twin, submodel_id, idShortPath)
    if not has_value(element):
        raise ApiError(400, f"{idShortPath} is a {type(element).__name__}, which has no value")
    value = to_value(element, with_blob=with_blob, depth=depth)
    if not isinstance(element.parent, model.SubmodelElementList):
        value = {element.id_short: value}
    return Response(orjson.dumps(value), media_type="application/json", headers=_handle_headers(handle))


# Served by a plain Starlette route: FastAPI's per-request machinery (dependency solving,
# validation) would cost this route about as much as the rest of the request. The APIRoute
# registered right after it is never reached; it only puts the route into the OpenAPI document.
for _prefix in (SUBMODEL_PREFIX, SHELL_SUBMODEL_PREFIX):
    _path = _prefix + "/submodel-elements/{idShortPath}/$value"
    router.add_route(_path, get_element_value, methods=["GET"], include_in_schema=False)
    _in_path = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", _path)]
    router.add_api_route(_path, get_element_value, methods=["GET"], tags=["Submodel API"],
                         openapi_extra={"parameters": [*_in_path, *_VALUE_QUERY]})


# ------------------------------------------------------------ repository
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
