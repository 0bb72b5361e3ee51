"""The hot routes: ``/shells``, single reads (one shell, submodel, element, ``$value``), value writes.

Dashboards and gateways poll values and PLC gateways write them, one small request at a time,
so per-request overhead is what they measure. Profiled on the FastAPI route of one element,
route matching took 44% of a request and dependency solving 27%; the work itself (render)
7%. These endpoints therefore solve no dependencies: query parameters are read by hand and the
token only when the route needs one, and their bodies come from the caches (``render_cache``,
``catalog``), so a repeated read costs one dict look-up and a copy.

``HotPaths``, the innermost middleware, answers them before FastAPI's exception, exit-stack
and routing layers (in-process, a bare Starlette endpoint costing ~30 us in both runs: a value
PATCH went from 132 to 50 us, a ``$value`` GET from 96 to 35 us); the middlewares outside it
(durable writes, CORS) still apply. The same endpoints are plain routes of the app's router as
well, ahead of every included router, for the methods the middleware leaves alone (HEAD), and
``SchemaOnlyRoute`` entries (APIRoutes that never match) put them into the OpenAPI document
(``GET /shells`` keeps its FastAPI route in ``server.api.shells`` for that). Path segments
match anything but ``/`` and ``$``, so ``/shells/$reference`` or ``.../submodel-elements/$metadata``
reach their own routes: base64url ids and idShortPaths never contain ``$``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from basyx.aas import model
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from twinbridge.aas.errors import TwinError
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.aas.value_only import apply_value, has_value, parse_value, to_value
from twinbridge.aas.values import find_value_kind
from twinbridge.server.api.auth import ANONYMOUS, Role, check_token
from twinbridge.server.api.bodies import Extent, Level, loaded_json
from twinbridge.server.api.catalog_sql import stored_element, stored_json
from twinbridge.server.api.content import shaped_json
from twinbridge.server.api.live import handle_headers
from twinbridge.server.api.paging import cursor_of, limit_of
from twinbridge.server.api.results import ApiError, error_response
from twinbridge.server.api.scope import SHELL_SUBMODEL_PREFIX, SUBMODEL_PREFIX, decode_cached, scoped_submodel_id
from twinbridge.server.api.services import Services, services_of
from twinbridge.server.api.shells import shell_page
from twinbridge.server.api.value_writes import put_element_body, write_element_value

JSON = "application/json"
Endpoint = Callable[[Request], Awaitable[Response]]


class SegmentConvertor(Convertor[str]):
    """One path segment that is not a ``$`` operation (``$value``, ``$metadata``...)."""

    regex = r"[^/$]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segment", SegmentConvertor())


class SchemaOnlyRoute(APIRoute):
    """Puts a hot route into the OpenAPI document; the plain route answers the requests."""

    def matches(self, scope: AsgiScope) -> tuple[Match, AsgiScope]:
        return Match.NONE, {}


# --------------------------------------------------------------- helpers
_QUERY_CHOICES = {"level": ("deep", "core"), "extent": ("withBlobValue", "withoutBlobValue")}
_SHAPE_QUERY = [
    {"name": name, "in": "query", "required": False,
     "schema": {"type": "string", "enum": list(choices), "default": choices[0]}}
    for name, choices in _QUERY_CHOICES.items()
]
_JSON_BODY: dict[str, Any] = {"required": True, "content": {JSON: {"schema": {}}}}


def _shape_query(request: Request) -> tuple[Level, Extent]:
    """(level, extent); unknown values are a 400 naming them."""
    if not request.scope["query_string"]:
        return "deep", "withBlobValue"
    query = request.query_params
    for name, choices in _QUERY_CHOICES.items():
        given = query.get(name)
        if given is not None and given not in choices:
            raise ApiError(400, f"query parameter {name}={given!r} must be one of {list(choices)}")
    level: Level = "core" if query.get("level") == "core" else "deep"
    extent: Extent = "withoutBlobValue" if query.get("extent") == "withoutBlobValue" else "withBlobValue"
    return level, extent


def _services(request: Request, needed: Role) -> tuple[Services, str]:
    """The app's services and who sent the request (after checking its token for ``needed``)."""
    services = services_of(request)
    security = services.security
    if security.mode == "none" or (needed == "read" and security.read_open):
        return services, ANONYMOUS
    return services, check_token(security, request.headers.get("authorization"), needed)


def _json(data: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(data, media_type=JSON, headers=headers)


def _structure(services: Services, submodel_id: str) -> tuple[int, ...]:
    return services.catalogs.current().structure_revision(submodel_id)


# ----------------------------------------------------------------- reads
async def get_shells(request: Request) -> Response:
    """``GET /shells`` (paging, ``idShort``, ``assetIds``): the route in ``server.api.shells``
    documents it; solving its six dependencies cost more than the catalog page itself."""
    services, _ = _services(request, "read")
    query = request.query_params
    return shell_page(services, query.get("idShort"), query.getlist("assetIds") or None,
                      cursor_of(query.get("cursor")), limit_of(query.get("limit")),
                      services.catalogs.shell_json)


async def get_shell(request: Request) -> Response:
    services, _ = _services(request, "read")
    identifier = decode_cached(request.path_params["aasIdentifier"], "aasIdentifier")
    return _json(services.catalogs.current().shell_json(identifier))  # (NotFound naming the id)


async def get_submodel(request: Request) -> Response:
    services, _ = _services(request, "read")
    twin = services.twin
    submodel_id = scoped_submodel_id(request, twin)
    level, extent = _shape_query(request)
    stored = twin.resident.unadmitted(submodel_id) if twin.resident is not None else None
    if stored is not None:  # a first read with a bounded cache: from the row's JSON (catalog_sql)
        return _json(stored_json(stored, level, extent))
    submodel = twin.submodel(submodel_id)
    return _json(services.renders.document(twin, submodel_id, f"full/{level}/{extent}",
                                           lambda: shaped_json(submodel, level, extent)))


async def get_element(request: Request) -> Response:
    services, _ = _services(request, "read")
    twin = services.twin
    submodel_id = scoped_submodel_id(request, twin)
    path = request.path_params["idShortPath"]
    level, extent = _shape_query(request)
    _, data = services.renders.element(
        twin, _structure(services, submodel_id), submodel_id, path, f"full/{level}/{extent}",
        lambda element: shaped_json(element, level, extent),
    )
    return _json(data, handle_headers(twin.find_live(submodel_id, path)))


async def get_element_value(request: Request) -> Response:
    """``{idShort: value}`` (a list item's bare value); device-fed values carry quality headers."""
    services, _ = _services(request, "read")
    twin = services.twin
    submodel_id = scoped_submodel_id(request, twin)
    path = request.path_params["idShortPath"]
    level, extent = _shape_query(request)
    structure = _structure(services, submodel_id)
    element = services.renders.resolve(twin, structure, submodel_id, path)
    if not has_value(element):
        raise ApiError(400, f"{path} is a {type(element).__name__}, which has no value")
    with_blob, depth = extent == "withBlobValue", 1 if level == "core" else None
    _, data = services.renders.element(twin, structure, submodel_id, path, f"value/{level}/{extent}",
                                       lambda target: _named_value(target, with_blob, depth))
    return _json(data, handle_headers(twin.find_live(submodel_id, path)))


def _named_value(element: model.SubmodelElement, with_blob: bool, depth: int | None) -> Any:
    value = to_value(element, with_blob=with_blob, depth=depth)
    return value if isinstance(element.parent, model.SubmodelElementList) else {element.id_short: value}


# ---------------------------------------------------------------- writes
async def patch_element_value(request: Request) -> Response:
    """A single-valued element's value goes through the twin's client write entry (write-back,
    refusal or a stored value change, O(1)); a container's values are applied as one change."""
    services, who = _services(request, "write")
    twin, origin = services.twin, services.origin(who)
    submodel_id = scoped_submodel_id(request, twin)
    path = request.path_params["idShortPath"]
    evicted = _evicted_value(twin, submodel_id, path)
    element = evicted[1] if evicted is not None else \
        services.renders.resolve(twin, _structure(services, submodel_id), submodel_id, path)
    data = unwrap_value(element, await loaded_json(request, f"the value of {path}"), path)
    if find_value_kind(element) is not None:
        value = parse_value(element, data, path)
        if evicted is None or twin.holds(ObjectKind.SUBMODEL, submodel_id):  # (read in while the body came)
            await write_element_value(twin, twin.live(submodel_id, path), value, origin)
        else:
            await write_element_value(twin, evicted[0], value, origin)
        return Response(status_code=204)
    # The twin refuses a container whose elements a device feeds (their writes must reach it).
    twin.modify_element(submodel_id, path, lambda target: apply_value(target, data, path), origin=origin)
    return Response(status_code=204)


async def put_element(request: Request) -> Response:
    """A body that only changes a Property's value is a value write; anything else replaces."""
    services, who = _services(request, "write")
    twin, origin = services.twin, services.origin(who)
    submodel_id = scoped_submodel_id(request, twin)
    path = request.path_params["idShortPath"]
    structure = _structure(services, submodel_id)
    stored = services.renders.resolve(twin, structure, submodel_id, path)
    await put_element_body(twin, services.renders, structure, submodel_id, path, stored, await request.body(),
                           origin)
    return Response(status_code=204)


def _evicted_value(twin: Twin, submodel_id: str, path: str) -> tuple[LiveElement, model.SubmodelElement] | None:
    """A detached handle of the single-valued element at ``path`` of a submodel a bounded cache
    does not hold, decoded alone from its stored JSON (``catalog_sql.stored_element``): the value
    is checked against that element's type and written as one row, and the submodel is not read
    in (decoding it cost 1.5 ms of CPU a PATCH, BENCHMARKS.md). None: the usual path."""
    resident = twin.resident
    if resident is None or resident.resident(submodel_id):
        return None
    stored = resident.row(submodel_id)
    element = None if stored is None else stored_element(stored, path)
    if element is None or find_value_kind(element) is None:
        return None
    return twin.detached(submodel_id, path, element), element


def unwrap_value(element: model.SubmodelElement, data: Any, path: str) -> Any:
    """A $value body is ``{idShort: value}`` like the GET answer; a Property also takes its bare value.

    List items have no idShort of their own (basyx gives them a generated one): their value is bare.
    """
    if isinstance(element.parent, model.SubmodelElementList):
        return data
    if isinstance(element, model.Property) and not isinstance(data, dict):
        return data
    if not isinstance(data, dict) or list(data) != [element.id_short]:
        raise ApiError(400, f"{path}: the $value body must be {{{element.id_short!r}: <value>}}, "
                            "the same shape GET .../$value returns")
    return data[element.id_short]


# ---------------------------------------------------------- registration
_ELEMENT = "/submodel-elements/{idShortPath}"
_SCOPED_ROUTES: list[tuple[str, str, Endpoint, int]] = [
    ("", "GET", get_submodel, 200),
    (_ELEMENT, "GET", get_element, 200),
    (_ELEMENT + "/$value", "GET", get_element_value, 200),
    (_ELEMENT + "/$value", "PATCH", patch_element_value, 204),
    (_ELEMENT, "PUT", put_element, 204),
]


def _hot_routes() -> list[tuple[str, str, Endpoint, int, str]]:
    routes: list[tuple[str, str, Endpoint, int, str]] = [
        ("/shells/{aasIdentifier}", "GET", get_shell, 200, "Asset Administration Shell Repository API"),
    ]
    for scoped in (SUBMODEL_PREFIX, SHELL_SUBMODEL_PREFIX):
        tag = "Submodel API" if scoped == SUBMODEL_PREFIX else "Submodel API (via shell)"
        routes.extend((scoped + path, method, endpoint, status, tag)
                      for path, method, endpoint, status in _SCOPED_ROUTES)
    return routes


# Answered by the middleware only: FastAPI routes elsewhere document them and serve HEAD.
_ANSWERED_FIRST: list[tuple[str, str, Endpoint]] = [("/shells", "GET", get_shells)]


class HotPaths:
    """ASGI middleware answering the hot routes itself (see the module docstring); errors become
    the same Results as everywhere (``results.error_response``), anything unexpected goes on to
    the server-error handler outside."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self._routes: dict[str, list[tuple[re.Pattern[str], Endpoint]]] = {}
        routes = [(path, method, endpoint) for path, method, endpoint, _, _ in _hot_routes()]
        for path, method, endpoint in [*routes, *_ANSWERED_FIRST]:
            pattern = re.compile(re.escape(prefix) + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/$]+)", re.escape(path)))
            self._routes.setdefault(method, []).append((pattern, endpoint))

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        routes = self._routes.get(scope["method"]) if scope["type"] == "http" else None
        if routes:
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            for pattern, endpoint in routes:
                match = pattern.fullmatch(path)
                if match is not None:
                    scope["path_params"] = match.groupdict()
                    try:
                        response: Response = await endpoint(Request(scope, receive))
                    except (ApiError, TwinError) as error:
                        response = error_response(error)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def install_hot_routes(app: FastAPI, prefix: str) -> APIRouter:
    """Adds the middleware and the plain routes to ``app`` (call before any other middleware is
    added and any router is included, so they come first) and returns the router of their
    OpenAPI entries, to be included after everything else."""
    app.add_middleware(HotPaths, prefix=prefix)
    schema = APIRouter()
    for path, method, endpoint, status, tag in _hot_routes():
        app.router.add_route(prefix + re.sub(r"{(\w+)}", r"{\1:segment}", path), endpoint, methods=[method],
                             include_in_schema=False)
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                      for name in re.findall(r"{(\w+)}", path)]
        if method == "GET" and endpoint is not get_shell:
            parameters.extend(_SHAPE_QUERY)
        # The role the endpoint checks (``_services``), named as the dependency-checked routes name theirs.
        extra: dict[str, Any] = {"parameters": parameters,
                                 "security": [{"HTTPBearer": ["read" if method == "GET" else "write"]}]}
        if method in ("PUT", "PATCH"):
            extra["requestBody"] = _JSON_BODY
        via_shell = "_via_shell" if path.startswith(SHELL_SUBMODEL_PREFIX) else ""
        schema.add_api_route(path, endpoint, methods=[method], tags=[tag], status_code=status,
                             openapi_extra=extra, route_class_override=SchemaOnlyRoute,
                             name=endpoint.__name__ + via_shell)
    return schema

