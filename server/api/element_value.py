"""``GET .../submodel-elements/{idShortPath}/$value``: the hottest route of the API.

Dashboards and gateways poll device values through it, so it is served by a plain Starlette
route: FastAPI's per-request machinery (dependency solving, validation) would cost about as much
as the rest of the request. Query parameters are parsed by hand and the token is only read when
reads need one. FastAPI matches routes in the order they were added, so ``server.api.submodels``
adds these first.
"""

from __future__ import annotations

import re

import orjson
from basyx.aas import model
from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinbridge.aas.twin import Twin
from twinbridge.aas.value_only import has_value, to_value
from twinbridge.server.api.live import handle_headers
from twinbridge.server.api.render_cache import render_cache
from twinbridge.server.api.results import ApiError
from twinbridge.server.api.scope import SHELL_SUBMODEL_PREFIX, SUBMODEL_PREFIX, check_read, scoped_submodel_id

_VALUE_QUERY = [
    {"name": "level", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["deep", "core"], "default": "deep"}},
    {"name": "extent", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["withBlobValue", "withoutBlobValue"], "default": "withBlobValue"}},
]
_QUERY_CHOICES = {"level": ("deep", "core"), "extent": ("withBlobValue", "withoutBlobValue")}


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
    await check_read(request)
    twin: Twin = request.app.state.twin
    with_blob, depth = _value_query(request)
    submodel_id = scoped_submodel_id(request)
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
    return Response(orjson.dumps(value), media_type="application/json", headers=handle_headers(handle))


def add_element_value_routes(router: APIRouter) -> None:
    """The route under both submodel prefixes; each plain route is followed by an APIRoute that is
    never reached and only puts the route into the OpenAPI document."""
    for prefix in (SUBMODEL_PREFIX, SHELL_SUBMODEL_PREFIX):
        path = prefix + "/submodel-elements/{idShortPath}/$value"
        router.add_route(path, get_element_value, methods=["GET"], include_in_schema=False)
        in_path = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                   for name in re.findall(r"{(\w+)}", path)]
        router.add_api_route(path, get_element_value, methods=["GET"], tags=["Submodel API"],
                             openapi_extra={"parameters": [*in_path, *_VALUE_QUERY]})
