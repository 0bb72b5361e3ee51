"""Which submodel a submodel-scoped route addresses, and whether the shell in its path allows it.

Every submodel-scoped route (submodel, elements, operations) is mounted twice with one
implementation: under ``/submodels/{submodelIdentifier}`` and under
``/shells/{aasIdentifier}/submodels/{submodelIdentifier}``; the latter first checks that the
shell exists and references the submodel, so a shell never exposes a submodel it does not own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, Request

from twinbridge.aas.errors import NotFound
from twinbridge.aas.twin import Twin
from twinbridge.aas.twin_reads import references
from twinbridge.server.api.ids import decode_id
from twinbridge.server.api.services import TwinDep

SUBMODEL_PREFIX = "/submodels/{submodelIdentifier}"
SHELL_SUBMODEL_PREFIX = "/shells/{aasIdentifier}/submodels/{submodelIdentifier}"
_DECODED_LIMIT = 4096


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


class Scope(NamedTuple):
    twin: Twin
    submodel_id: str


def scoped_submodel_id(request: Request, twin: Twin) -> str:
    """The submodel id of the route; via a shell, the shell must exist and reference it."""
    params = request.path_params
    submodel_id = decode_cached(params["submodelIdentifier"], "submodelIdentifier")
    shell_param = params.get("aasIdentifier")
    if shell_param is not None:
        shell_id = decode_cached(shell_param, "aasIdentifier")
        if not references(twin.shell(shell_id), submodel_id):
            raise NotFound(f"the shell {shell_id!r} does not reference a submodel {submodel_id!r}")
    if submodel_id not in twin.submodels:
        raise NotFound(f"no Submodel with id {submodel_id!r}")
    return submodel_id


async def submodel_scope(request: Request, twin: TwinDep) -> Scope:
    return Scope(twin, scoped_submodel_id(request, twin))


ScopeDep = Annotated[Scope, Depends(submodel_scope)]



