"""The Part 2 v3.0 registry and discovery HTTP API (SSP-001 profiles), as FastAPI routers.

- Asset Administration Shell Registry: ``/shell-descriptors`` and the superpath
  ``/shell-descriptors/{aasIdentifier}/submodel-descriptors``;
- Submodel Registry: ``/submodel-descriptors``;
- Discovery: ``/lookup/shells`` (``assetIds``: base64url-encoded SpecificAssetId JSON, several
  must all match; a bare base64url globalAssetId is read as ``{"name": "globalAssetId", ...}``)
  and ``/lookup/shells/{aasIdentifier}``.

The routers are mounted in twinbridge's own app (``server.application``) or alone
(``registry.standalone``); both put a ``RegistryState`` on ``app.state.registry``. Errors are
the twin's vocabulary, answered as Part 2 ``Result`` bodies by ``server.api.results``.

A list without ``limit`` answers at most ``DEFAULT_PAGE`` descriptors and a cursor to the
next page: a registry of a million descriptors must not render them all into one response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from twinbridge.aas.errors import TwinError
from twinbridge.registry.descriptors import (
    AssetAdministrationShellDescriptor,
    AssetLink,
    SpecificAssetId,
    SubmodelDescriptor,
    render,
)
from twinbridge.registry.service import RegistryService, parse
from twinbridge.server.api.auth import ApiSecurity, Credentials, check_access, check_token
from twinbridge.server.api.bodies import load_json
from twinbridge.server.api.ids import decode_asset_ids, decode_id, encode_id
from twinbridge.server.api.paging import limit_of
from twinbridge.server.api.results import ApiError, error_response

DEFAULT_PAGE = 1_000

PROFILES: tuple[str, ...] = tuple(
    "https://admin-shell.io/aas/API/3/0/" + name for name in (
        "AssetAdministrationShellRegistryServiceSpecification/SSP-001",
        "SubmodelRegistryServiceSpecification/SSP-001",
        "DiscoveryServiceSpecification/SSP-001",
    )
)

DISCOVERY_PROFILE_31 = "https://admin-shell.io/aas/API/3/1/DiscoveryServiceSpecification/SSP-001"
"""What the discovery routes on the v3.1 prefix implement (``discovery`` and ``discovery_31``)."""


@dataclass(slots=True, eq=False)
class RegistryState:
    service: RegistryService
    security: ApiSecurity


def _state(request: Request) -> RegistryState:
    state: RegistryState = request.app.state.registry
    return state


async def _service_for_read(request: Request, credentials: Credentials) -> RegistryService:
    state = _state(request)
    check_access(state.security, credentials, "read")
    return state.service


async def _service_for_write(request: Request, credentials: Credentials) -> RegistryService:
    state = _state(request)
    check_access(state.security, credentials, "write")
    return state.service


Reader = Annotated[RegistryService, Depends(_service_for_read)]
Writer = Annotated[RegistryService, Depends(_service_for_write)]
LimitParam = Annotated[str | None, Query(description="Maximum number of results, > 0")]
CursorParam = Annotated[str | None, Query(description="Cursor from a previous page")]

_SHELL_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "description": "AssetAdministrationShellDescriptor"}}}}}
_SUBMODEL_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "description": "SubmodelDescriptor"}}}}}
_LINKS_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "array", "items": {"type": "object", "description": "SpecificAssetId"}}}}}}


def _json(data: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(data, status_code=status, media_type="application/json", headers=headers)


def _page(parts: list[bytes], after: str | None) -> Response:
    meta = b'{"cursor":' + orjson.dumps(encode_id(after)) + b"}" if after is not None else b"{}"
    return _json(b'{"paging_metadata":' + meta + b',"result":[' + b",".join(parts) + b"]}")


def _paging(limit: str | None, cursor: str | None) -> tuple[str | None, int]:
    after = decode_id(cursor, "cursor") if cursor else None
    return after, limit_of(limit) or DEFAULT_PAGE


async def _body(request: Request, what: str) -> object:
    return load_json(await request.body(), what)


def _created(request: Request, identifier: str, body: bytes) -> Response:
    location = f"{str(request.url).split('?', 1)[0].rstrip('/')}/{encode_id(identifier)}"
    return _json(body, 201, {"Location": location})


def _same_id(path_id: str, body_id: str, what: str) -> None:
    if path_id != body_id:
        raise ApiError(400, f"the {what}'s id {body_id!r} differs from the id in the path {path_id!r}")


# ------------------------------------------------------------ Shell Registry
shells = APIRouter(tags=["Asset Administration Shell Registry API"])


@shells.get("/shell-descriptors")
async def get_all_shell_descriptors(
    service: Reader, limit: LimitParam = None, cursor: CursorParam = None,
    asset_kind: Annotated[str | None, Query(alias="assetKind")] = None,
    asset_type: Annotated[str | None, Query(alias="assetType", description="base64url-encoded")] = None,
) -> Response:
    if asset_kind is not None and asset_kind not in ("Instance", "Type", "NotApplicable"):
        raise ApiError(400, f"assetKind must be Instance, Type or NotApplicable, not {asset_kind!r}")
    after, size = _paging(limit, cursor)
    kind_type = decode_id(asset_type, "assetType") if asset_type else None
    return _page(*await service.shells(asset_kind, kind_type, after, size))


@shells.post("/shell-descriptors", status_code=201, openapi_extra=_SHELL_BODY)
async def post_shell_descriptor(request: Request, service: Writer) -> Response:
    descriptor = parse(AssetAdministrationShellDescriptor, await _body(request, "a descriptor"),
                       "AssetAdministrationShellDescriptor")
    return _created(request, descriptor.id, await service.save_shell(descriptor, create=True))


@shells.get("/shell-descriptors/{aasIdentifier}")
async def get_shell_descriptor(aasIdentifier: str, service: Reader) -> Response:
    return _json(await service.shell(decode_id(aasIdentifier, "aasIdentifier")))


@shells.put("/shell-descriptors/{aasIdentifier}", status_code=204, openapi_extra=_SHELL_BODY)
async def put_shell_descriptor(aasIdentifier: str, request: Request, service: Writer) -> Response:
    identifier = decode_id(aasIdentifier, "aasIdentifier")
    descriptor = parse(AssetAdministrationShellDescriptor, await _body(request, "a descriptor"),
                       "AssetAdministrationShellDescriptor")
    _same_id(identifier, descriptor.id, "AssetAdministrationShellDescriptor")
    await service.save_shell(descriptor, create=False)
    return Response(status_code=204)


@shells.delete("/shell-descriptors/{aasIdentifier}", status_code=204)
async def delete_shell_descriptor(aasIdentifier: str, service: Writer) -> Response:
    await service.delete_shell(decode_id(aasIdentifier, "aasIdentifier"))
    return Response(status_code=204)


@shells.get("/shell-descriptors/{aasIdentifier}/submodel-descriptors")
async def get_all_submodel_descriptors_through_superpath(
    aasIdentifier: str, service: Reader, limit: LimitParam = None, cursor: CursorParam = None,
) -> Response:
    after, size = _paging(limit, cursor)
    descriptors = sorted(await service.shell_submodels(decode_id(aasIdentifier, "aasIdentifier")),
                         key=lambda d: d.id)
    remaining = [d for d in descriptors if after is None or d.id > after]
    page = remaining[:size]
    return _page([render(d) for d in page], page[-1].id if len(remaining) > size else None)


@shells.post("/shell-descriptors/{aasIdentifier}/submodel-descriptors", status_code=201,
             openapi_extra=_SUBMODEL_BODY)
async def post_submodel_descriptor_through_superpath(aasIdentifier: str, request: Request,
                                                     service: Writer) -> Response:
    descriptor = parse(SubmodelDescriptor, await _body(request, "a descriptor"), "SubmodelDescriptor")
    await service.add_shell_submodel(decode_id(aasIdentifier, "aasIdentifier"), descriptor)
    return _created(request, descriptor.id, render(descriptor))


@shells.get("/shell-descriptors/{aasIdentifier}/submodel-descriptors/{submodelIdentifier}")
async def get_submodel_descriptor_through_superpath(aasIdentifier: str, submodelIdentifier: str,
                                                    service: Reader) -> Response:
    aas_id = decode_id(aasIdentifier, "aasIdentifier")
    found = service.find_submodel(await service.shell_submodels(aas_id), aas_id,
                                  decode_id(submodelIdentifier, "submodelIdentifier"))
    return _json(render(found))


@shells.put("/shell-descriptors/{aasIdentifier}/submodel-descriptors/{submodelIdentifier}", status_code=204,
            openapi_extra=_SUBMODEL_BODY)
async def put_submodel_descriptor_through_superpath(aasIdentifier: str, submodelIdentifier: str, request: Request,
                                                    service: Writer) -> Response:
    descriptor = parse(SubmodelDescriptor, await _body(request, "a descriptor"), "SubmodelDescriptor")
    _same_id(decode_id(submodelIdentifier, "submodelIdentifier"), descriptor.id, "SubmodelDescriptor")
    await service.replace_shell_submodel(decode_id(aasIdentifier, "aasIdentifier"), descriptor)
    return Response(status_code=204)


@shells.delete("/shell-descriptors/{aasIdentifier}/submodel-descriptors/{submodelIdentifier}", status_code=204)
async def delete_submodel_descriptor_through_superpath(aasIdentifier: str, submodelIdentifier: str,
                                                       service: Writer) -> Response:
    await service.delete_shell_submodel(decode_id(aasIdentifier, "aasIdentifier"),
                                        decode_id(submodelIdentifier, "submodelIdentifier"))
    return Response(status_code=204)


# --------------------------------------------------------- Submodel Registry
submodels = APIRouter(tags=["Submodel Registry API"])


@submodels.get("/submodel-descriptors")
async def get_all_submodel_descriptors(service: Reader, limit: LimitParam = None,
                                       cursor: CursorParam = None) -> Response:
    after, size = _paging(limit, cursor)
    return _page(*await service.submodels(after, size))


@submodels.post("/submodel-descriptors", status_code=201, openapi_extra=_SUBMODEL_BODY)
async def post_submodel_descriptor(request: Request, service: Writer) -> Response:
    descriptor = parse(SubmodelDescriptor, await _body(request, "a descriptor"), "SubmodelDescriptor")
    return _created(request, descriptor.id, await service.save_submodel(descriptor, create=True))


@submodels.get("/submodel-descriptors/{submodelIdentifier}")
async def get_submodel_descriptor(submodelIdentifier: str, service: Reader) -> Response:
    return _json(await service.submodel(decode_id(submodelIdentifier, "submodelIdentifier")))


@submodels.put("/submodel-descriptors/{submodelIdentifier}", status_code=204, openapi_extra=_SUBMODEL_BODY)
async def put_submodel_descriptor(submodelIdentifier: str, request: Request, service: Writer) -> Response:
    descriptor = parse(SubmodelDescriptor, await _body(request, "a descriptor"), "SubmodelDescriptor")
    _same_id(decode_id(submodelIdentifier, "submodelIdentifier"), descriptor.id, "SubmodelDescriptor")
    await service.save_submodel(descriptor, create=False)
    return Response(status_code=204)


@submodels.delete("/submodel-descriptors/{submodelIdentifier}", status_code=204)
async def delete_submodel_descriptor(submodelIdentifier: str, service: Writer) -> Response:
    await service.delete_submodel(decode_id(submodelIdentifier, "submodelIdentifier"))
    return Response(status_code=204)


# ----------------------------------------------------------------- Discovery
discovery = APIRouter(tags=["Asset Administration Shell Basic Discovery API"])


def asset_pairs(encoded: list[str] | None) -> list[tuple[str, str]]:
    """(name, value) pairs from ``assetIds``, each SpecificAssetId checked as the registry's model says."""
    return decode_asset_ids(encoded, _specific_asset_id)


def _specific_asset_id(item: object) -> tuple[str, str]:
    link = parse(SpecificAssetId, item, "SpecificAssetId in assetIds")
    return link.name, link.value


@discovery.get("/lookup/shells")
async def get_all_shell_ids_by_asset_link(
    service: Reader, limit: LimitParam = None, cursor: CursorParam = None,
    asset_ids: Annotated[list[str] | None, Query(alias="assetIds", description=(
        "base64url-encoded SpecificAssetId JSON ({name, value}); several must all match"))] = None,
) -> Response:
    after, size = _paging(limit, cursor)
    ids, next_after = await service.lookup(asset_pairs(asset_ids), after, size)
    return _page([orjson.dumps(identifier) for identifier in ids], next_after)


@discovery.get("/lookup/shells/{aasIdentifier}")
async def get_all_asset_links_by_id(aasIdentifier: str, service: Reader) -> Response:
    links = await service.links(decode_id(aasIdentifier, "aasIdentifier"))
    return _json(b"[" + b",".join(links) + b"]")


@discovery.post("/lookup/shells/{aasIdentifier}", status_code=201, openapi_extra=_LINKS_BODY)
async def post_all_asset_links_by_id(aasIdentifier: str, request: Request, service: Writer) -> Response:
    data = await _body(request, "a list of SpecificAssetIds")
    if not isinstance(data, list) or not data:
        raise ApiError(400, "the body must be a non-empty JSON array of SpecificAssetIds")
    links = [parse(SpecificAssetId, item, "SpecificAssetId") for item in data]
    bodies = await service.post_links(decode_id(aasIdentifier, "aasIdentifier"), links)
    return _json(b"[" + b",".join(bodies) + b"]", 201)


@discovery.delete("/lookup/shells/{aasIdentifier}", status_code=204)
async def delete_all_asset_links_by_id(aasIdentifier: str, service: Writer) -> Response:
    await service.delete_links(decode_id(aasIdentifier, "aasIdentifier"))
    return Response(status_code=204)


# ------------------------------------------------------ Discovery, v3.1 only
discovery_31 = APIRouter(tags=["Asset Administration Shell Basic Discovery API"])

_ASSET_LINKS_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "array", "items": {"type": "object", "description": "AssetLink {name, value}"}}}}}}


@discovery_31.post("/lookup/shellsByAssetLink", openapi_extra=_ASSET_LINKS_BODY)
async def search_all_shell_ids_by_asset_link(request: Request, service: Reader, limit: LimitParam = None,
                                             cursor: CursorParam = None) -> Response:
    """Part 2 v3.1 ``SearchAllAssetAdministrationShellIdsByAssetLink``: the ids of the shells linked
    to *every* AssetLink of the body, a page of them (``[]`` asks for every linked shell, as
    ``GET /lookup/shells`` without ``assetIds`` does). The POST form of ``GET /lookup/shells``,
    which v3.1 deprecates: links travel in the body, not base64url in the query string."""
    data = await _body(request, "a list of AssetLinks")
    if not isinstance(data, list):
        raise ApiError(400, "the body must be a JSON array of AssetLinks ({\"name\": ..., \"value\": ...})")
    links = [parse(AssetLink, item, f"AssetLink [{index}]") for index, item in enumerate(data)]
    after, size = _paging(limit, cursor)
    ids, next_after = await service.lookup([(link.name, link.value) for link in links], after, size)
    return _page([orjson.dumps(identifier) for identifier in ids], next_after)


ROUTERS_30_ONLY = (shells, submodels)
"""The registries' descriptors: Part 2 v3.1 changed them, so they are served on v3.0 only."""
ROUTERS_31_ONLY = (discovery_31,)
"""v3.1's ``shellsByAssetLink``."""


# ------------------------------------------------------------- hot paths
class HotReads:
    """ASGI middleware answering the reads a client makes one at a time in a loop, a lookup by
    asset id and one descriptor by id, before FastAPI's routing and dependency solving (profiled
    on ``GET /lookup/shells``: those two were ~60% of the request's CPU; the same shortcut as the
    repository's ``server.api.hot``). The FastAPI routes above still document them and serve
    everything else (HEAD, the v3.1 prefix); answers and errors are the same."""

    def __init__(self, app: ASGIApp, state: RegistryState, prefix: str) -> None:
        self.app = app
        self.state = state
        self._lookup = f"{prefix}/lookup/shells"
        self._shell = f"{prefix}/shell-descriptors/"
        self._submodel = f"{prefix}/submodel-descriptors/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        service = self.state.service
        try:
            if path == self._lookup:
                self._check(scope)
                query = Request(scope).query_params
                after, size = _paging(query.get("limit"), query.get("cursor"))
                ids, next_after = await service.lookup(asset_pairs(query.getlist("assetIds")), after, size)
                response: Response = _page([orjson.dumps(identifier) for identifier in ids], next_after)
            elif path.startswith(self._shell) and "/" not in (rest := path[len(self._shell):]) and rest:
                self._check(scope)
                response = _json(await service.shell(decode_id(rest, "aasIdentifier")))
            elif path.startswith(self._submodel) and "/" not in (rest := path[len(self._submodel):]) and rest:
                self._check(scope)
                response = _json(await service.submodel(decode_id(rest, "submodelIdentifier")))
            else:
                await self.app(scope, receive, send)
                return
        except (ApiError, TwinError) as error:
            response = error_response(error)
        await response(scope, receive, send)

    def _check(self, scope: Scope) -> None:
        authorization = next((value.decode("latin-1") for name, value in scope["headers"]
                              if name == b"authorization"), None)
        check_token(self.state.security, authorization, "read")
