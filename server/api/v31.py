"""Part 2 v3.1 (IDTA-01002 v3.1) served beside v3.0: ``/api/v3.1`` next to ``/api/v3.0``.

Every route of the v3.0 API is mounted under the v3.1 prefix as well (``create_app``); this
module holds what v3.1 answers differently, mounted ahead of them under that prefix only, so
v3.0 clients see no change:

- ``PUT /shells/{id}``, ``/submodels/{id}``, ``/concept-descriptions/{id}`` create the resource
  when it does not exist (201 with the body and ``Location``; 204 for a replacement);
- ``/description`` (and the shell's and submodel's service descriptions) lists the v3.1 profile
  IRIs (``https://admin-shell.io/aas/API/3/1/...``) of the profiles served: the repositories'
  full, read and query profiles, the AASX file server's, the AAS and Submodel services';
- ``/serialization`` writes metamodel 3.1 documents (the 3.1 XML namespace, also inside AASX);
  JSON is the same for both metamodels.

What v3.1 changed and the v3.0 routes already do: identifiers up to 2048 characters and the 3.1
idShort rule (letters, digits, ``_`` and ``-``, not ending in ``-``) are basyx 2.2's checks on
both prefixes; ``OperationRequestValueOnly`` / ``OperationResultValueOnly`` are the
arguments-by-idShort objects ``server.api.operations`` takes and returns on both. The Query API
(``server.api.query``) is served on both prefixes. ``/lookup/shellsByAssetLink`` belongs to the
discovery service: ``registry.host`` mounts it (and the v3.1 discovery profile) on this prefix
where the registry is served.
"""

from __future__ import annotations

from typing import Literal

from basyx.aas import model
from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinbridge.server.api.auth import ReadAccess, WriteOrigin
from twinbridge.server.api.bodies import json_response, parse_body, same_id
from twinbridge.server.api.ids import decode_id, encode_id
from twinbridge.server.api.scope import ScopeDep
from twinbridge.server.api.services import ServicesDep, TwinDep, services_of
from twinbridge.server.api.shells import shell_of

V30_SUFFIX, V31_SUFFIX = "/v3.0", "/v3.1"
_PROFILE = "https://admin-shell.io/aas/API/3/1/"

PROFILES_31: tuple[str, ...] = tuple(_PROFILE + name for name in (
    "AssetAdministrationShellRepositoryServiceSpecification/SSP-001",
    "AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    "AssetAdministrationShellRepositoryServiceSpecification/SSP-003",
    "SubmodelRepositoryServiceSpecification/SSP-001",
    "SubmodelRepositoryServiceSpecification/SSP-002",
    "SubmodelRepositoryServiceSpecification/SSP-005",
    "ConceptDescriptionRepositoryServiceSpecification/SSP-001",
    "ConceptDescriptionRepositoryServiceSpecification/SSP-002",
    "AasxFileServerServiceSpecification/SSP-001",
))
SHELL_SERVICE_PROFILES_31 = tuple(_PROFILE + f"AssetAdministrationShellServiceSpecification/SSP-00{n}" for n in (1, 2))
SUBMODEL_SERVICE_PROFILES_31 = tuple(_PROFILE + f"SubmodelServiceSpecification/SSP-00{n}" for n in (1, 2, 3))

Metamodel = Literal["3.0", "3.1"]


def v31_prefix_of(prefix: str) -> str | None:
    """The v3.1 prefix beside a v3.0 one (``/api/v3.0`` → ``/api/v3.1``); None for any other prefix."""
    return prefix[: -len(V30_SUFFIX)] + V31_SUFFIX if prefix.endswith(V30_SUFFIX) else None


def metamodel_of(request: Request) -> Metamodel:
    """The metamodel version of the API the request came in on."""
    prefix = services_of(request).v31_prefix
    path: str = request.scope["path"]
    return "3.1" if prefix is not None and (path == prefix or path.startswith(prefix + "/")) else "3.0"


router = APIRouter()


# --------------------------------------------------------- PUT may create
def _put(request: Request, created: bool, obj: model.Identifiable) -> Response:
    if not created:
        return Response(status_code=204)
    location = f"{request.url.path.rsplit('/', 1)[0]}/{encode_id(obj.id)}"
    return json_response(obj, status=201, headers={"Location": location})


@router.put("/shells/{aasIdentifier}", status_code=204, tags=["Asset Administration Shell Repository API"])
async def put_shell(origin: WriteOrigin, aasIdentifier: str, request: Request, twin: TwinDep) -> Response:
    """Replaces the shell, or creates it (201) when there is none with that id (v3.1)."""
    shell = parse_body(await request.body(), model.AssetAdministrationShell)
    same_id(shell, decode_id(aasIdentifier, "aasIdentifier"), "aasIdentifier")
    return _put(request, twin.upsert(shell, origin=origin), shell)


@router.put("/submodels/{submodelIdentifier}", status_code=204, tags=["Submodel Repository API"])
async def put_submodel(origin: WriteOrigin, submodelIdentifier: str, request: Request, twin: TwinDep) -> Response:
    """Replaces the submodel, or creates it (201) when there is none with that id (v3.1)."""
    submodel = parse_body(await request.body(), model.Submodel)
    same_id(submodel, decode_id(submodelIdentifier, "submodelIdentifier"), "submodelIdentifier")
    return _put(request, twin.upsert(submodel, origin=origin), submodel)


@router.put("/concept-descriptions/{cdIdentifier}", status_code=204,
            tags=["Concept Description Repository API"])
async def put_concept_description(origin: WriteOrigin, cdIdentifier: str, request: Request,
                                  twin: TwinDep) -> Response:
    """Replaces the concept description, or creates it (201) when there is none with that id (v3.1)."""
    concept = parse_body(await request.body(), model.ConceptDescription)
    same_id(concept, decode_id(cdIdentifier, "cdIdentifier"), "cdIdentifier")
    return _put(request, twin.upsert(concept, origin=origin), concept)


# ------------------------------------------------------------ descriptions
@router.get("/description", dependencies=[ReadAccess], tags=["Description API"])
async def get_description(services: ServicesDep) -> Response:
    return json_response({"profiles": [*PROFILES_31, *services.extra_profiles_31]})


@router.get("/shells/{aasIdentifier}/description", dependencies=[ReadAccess], tags=["Description API"])
async def get_shell_service_description(aasIdentifier: str, twin: TwinDep) -> Response:
    shell_of(twin, aasIdentifier)
    return json_response({"profiles": list(SHELL_SERVICE_PROFILES_31)})


@router.get("/submodels/{submodelIdentifier}/description", dependencies=[ReadAccess], tags=["Description API"])
@router.get("/shells/{aasIdentifier}/submodels/{submodelIdentifier}/description", dependencies=[ReadAccess],
            tags=["Description API"])
async def get_submodel_service_description(scope: ScopeDep) -> Response:
    return json_response({"profiles": list(SUBMODEL_SERVICE_PROFILES_31)})
