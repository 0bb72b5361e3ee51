"""The application services every route works with, built once by ``create_app`` and typed.

Routes declare what they need as ``ServicesDep`` (or the narrower ``TwinDep``) instead of
reading attributes off ``request.app.state`` one by one: the type checker then sees a ``Twin``,
an ``ApiSecurity``..., not ``Any``, and a misspelt name fails at import, not on a request.
The few routes served without FastAPI's dependency machinery (``server.api.hot``) call
``services_of(request)``, the same single look-up.

Dependencies are ``async`` so FastAPI runs them on the event loop, where the twin lives,
instead of in a worker thread.
"""

from __future__ import annotations

import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request

from twinbridge.aas.events import Origin
from twinbridge.aas.operations import OperationRegistry
from twinbridge.aas.twin import Twin
from twinbridge.query.value_index import ValueIndexes
from twinbridge.server.api.catalog import Catalogs
from twinbridge.server.api.render_cache import RenderCache

if TYPE_CHECKING:  # both import this module
    from twinbridge.server.api.auth import ApiSecurity
    from twinbridge.server.api.operations import Job


class TurtleSource(Protocol):
    """What ``/serialization`` needs of the semantic graph: its Turtle text (slow; run off the loop)."""

    def turtle(self) -> bytes: ...


@dataclass(slots=True, eq=False)
class Services:
    """Everything the routes of one app share; one instance per ``create_app``."""

    twin: Twin
    security: ApiSecurity
    operations: OperationRegistry
    semantic_graph: TurtleSource | None = None
    v31_prefix: str | None = None  # where Part 2 v3.1 is served beside v3.0 (``server.api.v31``)
    upload_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    """Where uploads are streamed while they arrive (``server.api.uploads``): the data directory's
    ``uploads/``; the system's temporary directory for an instance without one."""
    renders: RenderCache = field(default_factory=RenderCache)
    catalogs: Catalogs = field(init=False)
    value_indexes: ValueIndexes = field(init=False)  # of submodel element values, for queries
    jobs: OrderedDict[str, Job] = field(default_factory=OrderedDict)
    extra_profiles: list[str] = field(default_factory=list)
    """Profiles of services mounted next to the repository (the registry's), for ``/description``."""
    extra_profiles_31: list[str] = field(default_factory=list)
    """The same for the v3.1 prefix's ``/description`` (``server.api.v31``)."""
    routers_31_only: list[APIRouter] = field(default_factory=list)
    """Routers mounted next to the repository on the v3.1 prefix only (the registry's
    ``/lookup/shellsByAssetLink``): the v3.1 OpenAPI document adds them."""
    routers_30_only: list[APIRouter] = field(default_factory=list)
    """Routers mounted next to the repository on the v3.0 prefix only (the registries'
    descriptors): the v3.1 OpenAPI document, made from the v3.0 one, leaves them out."""
    _origins: dict[str, Origin] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.catalogs = Catalogs(self.twin)
        self.value_indexes = ValueIndexes(self.twin)

    def close(self) -> None:
        """Stop the views' following of the twin's bus (the application's stop: another app on the
        same twin, as tests make, would otherwise keep feeding this one's catalogs)."""
        self.catalogs.close()
        self.value_indexes.close()

    def origin(self, who: str) -> Origin:
        """The ``Origin`` of REST changes by ``who`` (a token's holder), one object per holder."""
        origin = self._origins.get(who)
        if origin is None:
            origin = self._origins[who] = Origin(who, "rest")
        return origin


def install_services(app: FastAPI, services: Services) -> None:
    app.state.services = services


def app_services(app: FastAPI) -> Services:
    """The services of ``app`` (the one place that reads ``app.state``)."""
    services: Services = app.state.services
    return services


def services_of(request: Request) -> Services:
    return app_services(request.app)


async def get_services(request: Request) -> Services:
    return services_of(request)


async def get_twin(request: Request) -> Twin:
    return services_of(request).twin


ServicesDep = Annotated[Services, Depends(get_services)]
TwinDep = Annotated[Twin, Depends(get_twin)]
