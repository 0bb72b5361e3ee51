"""``create_app``: the AAS Part 2 HTTP API over one twin.

Every router of ``server.api`` is mounted under ``prefix`` (default ``/api/v3.0``); the OpenAPI
document and the interactive docs live under the same prefix (``{prefix}/openapi.json``,
``{prefix}/docs``, ``{prefix}/redoc``, served offline) so one reverse-proxy rule exposes the whole API.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from twinbridge.aas.operations import OperationRegistry
from twinbridge.aas.twin import Twin
from twinbridge.server.api import docs
from twinbridge.server.api.auth import ApiSecurity
from twinbridge.server.api.durability import DurableWrites
from twinbridge.server.api.hot import install_hot_routes
from twinbridge.server.api.results import install_error_handlers
from twinbridge.server.api.services import Services, TurtleSource, install_services

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
) -> FastAPI:
    """The API app; ``semantic_graph`` serves ``/serialization`` as Turtle (406 without one)."""
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
    install_services(app, Services(
        twin,
        security if security is not None else ApiSecurity(),
        operations if operations is not None else OperationRegistry(),
        semantic_graph,
    ))
    app.state.twin = twin  # for routers of other rooms (hierarchy) until they take ServicesDep
    install_error_handlers(app)
    schema_of_hot_routes = install_hot_routes(app, prefix)  # first: the innermost middleware
    app.add_middleware(DurableWrites, twin=twin)  # answer writes once they are durable
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["Location"],
        )
    for module_name in ROUTER_MODULES:
        for router in _routers_of(module_name):
            app.include_router(router, prefix=prefix)
    for router in extra_routers:
        app.include_router(router, prefix=prefix)
    app.include_router(schema_of_hot_routes, prefix=prefix)
    return app
