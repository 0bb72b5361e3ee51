"""The registry inside twinbridge (mounted next to the repository API) and on its own
(``twinbridge registry``): one store, the routers, and the feeder of the local repository."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

import orjson
import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from pydantic import SecretStr

from twinbridge.aas.twin import Twin
from twinbridge.registry.api import (
    DISCOVERY_PROFILE_31,
    PROFILES,
    ROUTERS_30_ONLY,
    ROUTERS_31_ONLY,
    HotReads,
    RegistryState,
    discovery,
)
from twinbridge.registry.feeder import DescriptorSink, HttpSink, LocalSink, RegistryFeeder
from twinbridge.registry.of_twin import OpcUaAddress
from twinbridge.registry.query_api import QUERY_PROFILES_31, queries
from twinbridge.registry.service import RegistryService
from twinbridge.registry.settings import RegistrySettings
from twinbridge.registry.store import open_descriptor_store
from twinbridge.server.api.auth import ApiSecurity, ApiToken
from twinbridge.server.api.results import install_error_handlers
from twinbridge.server.api.services import app_services
from twinbridge.server.api.v31 import v31_prefix_of

STORE_FILE_NAME = "registry.sqlite3"


def store_url_of(configured: str | None, data_dir: Path | None) -> str:
    if configured is not None:
        return configured
    return "memory:" if data_dir is None else f"sqlite:///{(data_dir / STORE_FILE_NAME).resolve()}"


def open_service(url: str) -> RegistryService:
    return RegistryService(open_descriptor_store(url))


def mount(app: FastAPI, service: RegistryService, security: ApiSecurity, prefix: str) -> None:
    """The registry under ``prefix``; its Discovery with v3.1's ``shellsByAssetLink`` and the
    registry queries under the v3.1 prefix beside a ``.../v3.0`` one (Part 2 v3.1 changed the
    registries' descriptors, which are served on v3.0 only; the queries, v3.1's, answer on both
    as the repository's do)."""
    app.state.registry = RegistryState(service, security)
    for router in (*ROUTERS_30_ONLY, discovery, queries):
        app.include_router(router, prefix=prefix)
    v31 = v31_prefix_of(prefix)
    if v31 is not None:
        for router in (*ROUTERS_31_ONLY, discovery, queries):
            app.include_router(router, prefix=v31, include_in_schema=False)


def opcua_address(url: str) -> OpcUaAddress:
    """The OPC UA server at ``url`` as descriptors name it: its shells' and submodels' nodes."""
    from twinbridge.server.opcua.ids import shell_node_text, submodel_node_text
    from twinbridge.server.opcua.types import NAMESPACE

    return OpcUaAddress(url, partial(shell_node_text, NAMESPACE), partial(submodel_node_text, NAMESPACE))


class RegistryHost:
    """A ``Service`` of the application: the mounted registry (``serve``) and/or the feeder."""

    def __init__(self, twin: Twin, settings: RegistrySettings, data_dir: Path | None, base_url: str,
                 opcua_url: str | None = None) -> None:
        """``opcua_url``: this process's OPC UA endpoint when it runs (descriptors advertise it)."""
        self.settings = settings
        self.service = open_service(store_url_of(settings.store, data_dir)) if settings.serve else None
        sink: DescriptorSink | None = None
        if settings.feed and settings.url is not None:
            token = settings.token.get_secret_value() if settings.token is not None else None
            sink = HttpSink(settings.url, token)
        elif settings.feed and self.service is not None:
            sink = LocalSink(self.service)
        opcua = None if opcua_url is None else opcua_address(settings.opcua_endpoint or opcua_url)
        self.feeder = None if sink is None else RegistryFeeder(twin, sink, settings.endpoint_base or base_url, opcua)

    def mount(self, app: FastAPI, security: ApiSecurity, prefix: str) -> None:
        if self.service is not None:
            mount(app, self.service, security, prefix)
            services = app_services(app)
            services.extra_profiles.extend(PROFILES)
            if v31_prefix_of(prefix) is not None:
                services.extra_profiles_31.extend((DISCOVERY_PROFILE_31, *QUERY_PROFILES_31))
                services.routers_31_only.extend(ROUTERS_31_ONLY)
                services.routers_30_only.extend(ROUTERS_30_ONLY)

    async def start(self) -> None:
        if self.feeder is not None:
            await self.feeder.start()

    async def stop(self) -> None:
        if self.feeder is not None:
            await self.feeder.stop()
        if self.service is not None:
            self.service.close()

    def banner_lines(self) -> list[str]:
        lines = ["  AAS Registry and Discovery served here (/shell-descriptors, /lookup/shells, "
                 "/query/shell-descriptors)"] if self.service is not None else []
        return lines + (self.feeder.banner_lines() if self.feeder is not None else [])


def registry_app(service: RegistryService, security: ApiSecurity, prefix: str = "/api/v3.0") -> FastAPI:
    """The registry alone: Shell and Submodel Registry, Discovery, the registry queries and
    ``/description`` (and the v3.1 Discovery and queries beside a ``.../v3.0`` prefix)."""
    prefix = prefix.rstrip("/")
    app = FastAPI(title="twinbridge AAS Registry and Discovery", version="3.0",
                  openapi_url=f"{prefix}/openapi.json", docs_url=None, redoc_url=None)
    install_error_handlers(app)
    mount(app, service, security, prefix)
    app.add_middleware(HotReads, state=app.state.registry, prefix=prefix)
    description = APIRouter(tags=["Description API"])

    @description.get("/description")
    async def get_description() -> Response:
        return Response(orjson.dumps({"profiles": list(PROFILES)}), media_type="application/json")

    app.include_router(description, prefix=prefix)
    v31 = v31_prefix_of(prefix)
    if v31 is not None:
        description_31 = APIRouter(tags=["Description API"])

        @description_31.get("/description")
        async def get_description_31() -> Response:
            return Response(orjson.dumps({"profiles": [DISCOVERY_PROFILE_31, *QUERY_PROFILES_31]}),
                            media_type="application/json")

        app.include_router(description_31, prefix=v31, include_in_schema=False)
    return app


def standalone_security(token: str | None) -> ApiSecurity:
    """Reads open; writes need ``token`` when one is given (else anyone who reaches the port may write)."""
    if token is None:
        return ApiSecurity(mode="none")
    return ApiSecurity(mode="token", tokens=[ApiToken(token=SecretStr(token), role="admin", name="admin")],
                       read_open=True)


def serve_standalone(host: str, port: int, store_url: str, token: str | None, prefix: str = "/api/v3.0") -> None:
    """``twinbridge registry``: serve until SIGINT/SIGTERM."""
    service = open_service(store_url)
    app = registry_app(service, standalone_security(token), prefix)
    writes = "writes need the bearer token" if token else "writes open to anyone who reaches the port (--token)"
    print(f"twinbridge registry: http://{host}:{port}{prefix}/shell-descriptors  store {store_url}; {writes}",
          flush=True)
    try:
        asyncio.run(uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                  lifespan="off")).serve())
    finally:
        service.close()
