"""``create_app``: the AAS Part 2 HTTP API over one twin.

Every router of ``server.api`` is mounted under ``prefix`` (default ``/api/v3.0``) and, for a
``.../v3.0`` prefix, under ``.../v3.1`` too (Part 2 v3.1, ``server.api.v31``); the OpenAPI
document and the interactive docs live under the same prefix (``{prefix}/openapi.json``,
``{prefix}/docs``, ``{prefix}/redoc``, served offline) so one reverse-proxy rule exposes the whole API.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from twinbridge.aas import files
from twinbridge.aas.limits import DEFAULT, Limits
from twinbridge.aas.operations import OperationRegistry
from twinbridge.aas.twin import Twin
from twinbridge.server.api import docs, openapi_doc
from twinbridge.server.api.auth import ApiSecurity
from twinbridge.server.api.door import Door
from twinbridge.server.api.durability import DurableWrites
from twinbridge.server.api.hot import install_hot_routes
from twinbridge.server.api.preconditions import Preconditions
from twinbridge.server.api.results import install_error_handlers
from twinbridge.server.api.services import Services, TurtleSource, app_services, install_services
from twinbridge.server.api.v31 import router as v31_router
from twinbridge.server.api.v31 import v31_prefix_of

# Modules whose ``router`` (and optional ``routers``) make up the API, in mounting order:
# fixed paths such as ``/shells/$reference`` come before ``/shells/{aasIdentifier}`` inside each.
ROUTER_MODULES = (  # after the plain routes of ``server.api.hot``: FastAPI tries routes in order
    "twinbridge.server.api.submodels",
    "twinbridge.server.api.description",
    "twinbridge.server.api.shells",
    "twinbridge.server.api.elements",
    "twinbridge.server.api.operations",
    "twinbridge.server.api.concept_descriptions",
    "twinbridge.server.api.serialization",
    "twinbridge.server.api.packages",
    "twinbridge.server.api.query",
)


def _routers_of(module_name: str) -> list[APIRouter]:
    module: Any = importlib.import_module(module_name)
    routers: list[APIRouter] = list(getattr(module, "routers", ()))
    router = getattr(module, "router", None)
    if router is not None:
        routers.insert(0, router)
    return routers


def create_app(
    twin: Twin,
    *,
    prefix: str = "/api/v3.0",
    security: ApiSecurity | None = None,
    operations: OperationRegistry | None = None,
    cors_origins: Sequence[str] = (),
    extra_routers: Sequence[APIRouter] = (),
    title: str = "twinbridge AAS API",
    semantic_graph: TurtleSource | None = None,
    limits: Limits = DEFAULT,
    data_dir: Path | None = None,
) -> FastAPI:
    """The API app; ``semantic_graph`` serves ``/serialization`` as Turtle (406 without one);
    uploads are streamed into ``data_dir/uploads`` (the system's temporary directory without one)."""
    prefix = prefix.rstrip("/")
    app = FastAPI(
        title=title,
        version="3.0",
        description="Asset Administration Shell Part 2 HTTP API (IDTA-01002 v3.0)",
        openapi_url=f"{prefix}/openapi.json",
        docs_url=None,  # offline pages instead (server/api/docs.py): FastAPI's load from a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # No OpenTelemetry here: FastAPI's check for configured providers cost 3.5% of a value write.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    docs.install(app, prefix)
    v31 = v31_prefix_of(prefix)
    services = Services(
        twin,
        security if security is not None else ApiSecurity(),
        operations if operations is not None else OperationRegistry(),
        semantic_graph,
        v31,
    )
    if data_dir is not None:
        services.upload_dir = data_dir / files.UPLOADS
        files.clear_spools(services.upload_dir)
    install_services(app, services)
    app.state.twin = twin  # for routers of other rooms (hierarchy) until they take ServicesDep
    install_error_handlers(app)
    schema_of_hot_routes = install_hot_routes(app, prefix)  # first: the innermost middleware
    if v31 is not None:
        install_hot_routes(app, v31)
    app.add_middleware(DurableWrites, twin=twin)  # answer writes once they are durable
    app.add_middleware(Preconditions, twin=twin, prefix=prefix)  # outside: ETags of what is durable
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["Location"],
        )
    app.add_middleware(Door, limits=limits)  # last, so outermost: bounds bodies, turns surprises into 500s
    for module_name in ROUTER_MODULES:
        for router in _routers_of(module_name):
            app.include_router(router, prefix=prefix)
    for router in extra_routers:
        app.include_router(router, prefix=prefix)
    app.include_router(schema_of_hot_routes, prefix=prefix)
    openapi_doc.install(app)  # path parameters, bodies and every error status with its Result
    if v31 is not None:
        _serve_v31(app, prefix, v31)
    return app


def _serve_v31(app: FastAPI, prefix: str, v31: str) -> None:
    """Part 2 v3.1 under ``v31``: its own answers (``server.api.v31``) first, then every v3.0 route.
    They stay out of the v3.0 OpenAPI document; ``{v31}/openapi.json`` is that document moved to
    the v3.1 prefix (shown by ``{v31}/docs`` and ``{v31}/redoc``)."""
    docs.install(app, v31, f"{v31}/openapi.json")
    app.include_router(v31_router, prefix=v31, include_in_schema=False)
    for module_name in ROUTER_MODULES:
        for router in _routers_of(module_name):
            app.include_router(router, prefix=v31, include_in_schema=False)

    @app.get(f"{v31}/openapi.json", include_in_schema=False)
    async def openapi_31() -> JSONResponse:
        document = copy.deepcopy(app.openapi())
        document["info"]["version"] = "3.1"
        document["info"]["description"] = "Asset Administration Shell Part 2 HTTP API (IDTA-01002 v3.1)"
        services = app_services(app)
        v30_only = {prefix + route.path for router in services.routers_30_only for route in router.routes
                    if isinstance(route, APIRoute)}
        document["paths"] = {v31 + path[len(prefix):]: item for path, item in document["paths"].items()
                             if path.startswith(prefix + "/") and path not in v30_only}
        routes = [route for router in services.routers_31_only for route in router.routes]
        if routes:
            extra = get_openapi(title=app.title, version="3.1", routes=routes)
            openapi_doc.complete(extra)
            document["paths"].update({v31 + path: item for path, item in extra["paths"].items()})
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in extra.get("components", {}).get("schemas", {}).items():
                schemas.setdefault(name, schema)
        return JSONResponse(document)
