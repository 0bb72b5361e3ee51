"""``GET /description``: the service specification profiles this server implements (Part 2 v3.0)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from twinbridge.server.api.auth import ReadAccess
from twinbridge.server.api.bodies import json_response
from twinbridge.server.api.services import ServicesDep, TwinDep
from twinbridge.server.api.shells import shell_of

router = APIRouter(tags=["Description API"])

_PROFILE_PREFIX = "https://admin-shell.io/aas/API/3/0/"

PROFILES: tuple[str, ...] = tuple(
    _PROFILE_PREFIX + name
    for name in (
        "AssetAdministrationShellRepositoryServiceSpecification/SSP-001",
        "AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
        "SubmodelRepositoryServiceSpecification/SSP-001",
        "SubmodelRepositoryServiceSpecification/SSP-002",
        "ConceptDescriptionRepositoryServiceSpecification/SSP-001",
        "AasxFileServerServiceSpecification/SSP-001",
    )
)

# What ``/shells/{id}`` offers when used as a standalone AAS Service.
SHELL_SERVICE_PROFILES: tuple[str, ...] = (
    _PROFILE_PREFIX + "AssetAdministrationShellServiceSpecification/SSP-001",
    _PROFILE_PREFIX + "AssetAdministrationShellServiceSpecification/SSP-002",
)


@router.get("/description", dependencies=[ReadAccess])
async def get_description(services: ServicesDep) -> Response:
    return json_response({"profiles": [*PROFILES, *services.extra_profiles]})


@router.get("/shells/{aasIdentifier}/description", dependencies=[ReadAccess])
async def get_shell_service_description(aasIdentifier: str, twin: TwinDep) -> Response:
    shell_of(twin, aasIdentifier)
    return json_response({"profiles": list(SHELL_SERVICE_PROFILES)})
