"""The single-submodel service view: ``/submodels/{id}`` (or ``/shells/{a}/submodels/{id}``) as a
standalone Submodel Service root.

Clients of a Submodel Service (the IDTA conformance tool among them) discover its profiles,
shells and serializations relative to that root.
"""

from __future__ import annotations

from basyx.aas import model
from fastapi import Request
from fastapi.responses import Response

from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.serialization import FormatName, collect, write_environment
from twinbridge.server.api.auth import ReadAccess
from twinbridge.server.api.bodies import json_response
from twinbridge.server.api.ids import decode_ids
from twinbridge.server.api.paging import CursorQuery, LimitQuery, paged_envelope
from twinbridge.server.api.results import ApiError
from twinbridge.server.api.scope import Scope, ScopeDep, ScopedRoutes, decode_cached
from twinbridge.server.api.serialization import AASX_MEDIA_TYPE, IdsQuery, negotiate
from twinbridge.server.api.v31 import metamodel_of

SUBMODEL_SERVICE_PROFILES = (
    "https://admin-shell.io/aas/API/3/0/SubmodelServiceSpecification/SSP-001",
    "https://admin-shell.io/aas/API/3/0/SubmodelServiceSpecification/SSP-002",
)
_FORMATS: dict[str, FormatName] = {
    "application/json": "json", "application/xml": "xml", "text/xml": "xml", AASX_MEDIA_TYPE: "aasx",
}


async def get_submodel_service_description(scope: ScopeDep) -> Response:
    return json_response({"profiles": list(SUBMODEL_SERVICE_PROFILES)})


async def get_referencing_shells(request: Request, scope: ScopeDep, limit: LimitQuery,
                                 cursor: CursorQuery) -> Response:
    """The shells that reference this submodel (via a shell: just that one)."""
    shells = _referencing_shells(request, scope)
    return json_response(paged_envelope(shells, cursor, limit, to_jsonable))


async def get_submodel_serialization(request: Request, scope: ScopeDep, aasIds: IdsQuery = None,
                                     submodelIds: IdsQuery = None,
                                     includeConceptDescriptions: bool = True) -> Response:
    """An environment of this submodel and the shells referencing it, narrowed by the id filters."""
    twin, submodel_id = scope
    media = negotiate(request.headers.get("accept"))
    fmt = _FORMATS.get(media)
    if fmt is None:
        raise ApiError(406, f"a submodel service serializes as {sorted(_FORMATS)}, not {media!r}")
    shell_ids = [shell.id for shell in _referencing_shells(request, scope)]
    if aasIds is not None:
        wanted = set(decode_ids(aasIds, "aasIds"))
        shell_ids = [identifier for identifier in shell_ids if identifier in wanted]
    submodel_ids = [submodel_id]
    if submodelIds is not None and submodel_id not in decode_ids(submodelIds, "submodelIds"):
        submodel_ids = []
    env = collect(twin, shell_ids, submodel_ids, includeConceptDescriptions)
    return Response(write_environment(env, fmt, metamodel_of(request)), media_type=media)


def add_service_routes(scoped: ScopedRoutes) -> None:
    scoped.route("/description", ["GET"], dependencies=[ReadAccess])(get_submodel_service_description)
    scoped.route("/shells", ["GET"], dependencies=[ReadAccess])(get_referencing_shells)
    scoped.route("/serialization", ["GET"], dependencies=[ReadAccess], response_class=Response,
                 responses={406: {"description": "Not Acceptable: the Accept header names no format this "
                                                 "service writes"}})(get_submodel_serialization)


def _referencing_shells(request: Request, scope: Scope) -> list[model.AssetAdministrationShell]:
    twin, submodel_id = scope
    shell_param = request.path_params.get("aasIdentifier")
    if shell_param is not None:
        return [twin.shell(decode_cached(shell_param, "aasIdentifier"))]
    return twin.referencing_shells(submodel_id)

