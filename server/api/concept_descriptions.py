"""Concept Description Repository routes: ``/concept-descriptions``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from basyx.aas import model
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from twinbridge.aas import compat_basyx
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.server.api.auth import ReadAccess, WriteOrigin
from twinbridge.server.api.bodies import bytes_response, construct_part, json_response, parsed_body, same_id
from twinbridge.server.api.catalog import (
    Key,
    KeyTuple,
    data_specification_key,
    id_short_key,
    is_case_of_key,
    reference_keys,
)
from twinbridge.server.api.ids import decode_id, decode_json
from twinbridge.server.api.paging import CursorQuery, LimitQuery, envelope_bytes, next_cursor
from twinbridge.server.api.services import ServicesDep, TwinDep
from twinbridge.server.api.shells import JSON_BODY

router = APIRouter(tags=["Concept Description Repository API"])

def _reference_key(encoded: str | None, what: str, key: Callable[[KeyTuple], Key]) -> list[Key]:
    if encoded is None:
        return []
    raw = decode_json(encoded, what)
    return [key(reference_keys(construct_part(raw, f"{what} (a Reference)",
                                              compat_basyx.construct_reference)))]


def _concept_of(twin: Twin, encoded: str) -> model.ConceptDescription:
    return twin.concept_description(decode_id(encoded, "cdIdentifier"))


@router.get("/concept-descriptions", dependencies=[ReadAccess])
async def get_all_concept_descriptions(
    services: ServicesDep,
    limit: LimitQuery,
    cursor: CursorQuery,
    id_short: Annotated[str | None, Query(alias="idShort")] = None,
    is_case_of: Annotated[str | None, Query(alias="isCaseOf", description="base64url-encoded Reference")] = None,
    data_specification_ref: Annotated[
        str | None, Query(alias="dataSpecificationRef", description="base64url-encoded Reference")
    ] = None,
) -> Response:
    keys = [*_reference_key(is_case_of, "isCaseOf", is_case_of_key),
            *_reference_key(data_specification_ref, "dataSpecificationRef", data_specification_key)]
    if id_short is not None:
        keys.append(id_short_key(id_short))
    concepts = services.catalogs.current().concept_descriptions
    ids, after = concepts.page(keys, cursor, limit)
    return bytes_response(envelope_bytes([concepts.rendered(identifier) for identifier in ids], next_cursor(after)))


@router.post("/concept-descriptions", status_code=201, openapi_extra=JSON_BODY)
async def post_concept_description(origin: WriteOrigin, request: Request, twin: TwinDep) -> Response:
    concept = await parsed_body(request, model.ConceptDescription)
    twin.create(concept, origin=origin)
    return json_response(concept, status=201)


@router.get("/concept-descriptions/{cdIdentifier}", dependencies=[ReadAccess])
async def get_concept_description(cdIdentifier: str, services: ServicesDep) -> Response:
    concepts = services.catalogs.current().concept_descriptions
    return bytes_response(concepts.rendered(_concept_of(services.twin, cdIdentifier).id))


@router.put("/concept-descriptions/{cdIdentifier}", status_code=204,
            openapi_extra=JSON_BODY)
async def put_concept_description(origin: WriteOrigin, cdIdentifier: str, request: Request, twin: TwinDep) -> Response:
    identifier = decode_id(cdIdentifier, "cdIdentifier")
    concept = await parsed_body(request, model.ConceptDescription)
    same_id(concept, identifier, "cdIdentifier")
    twin.replace(concept, origin=origin)
    return Response(status_code=204)


@router.delete("/concept-descriptions/{cdIdentifier}", status_code=204)
async def delete_concept_description(origin: WriteOrigin, cdIdentifier: str, twin: TwinDep) -> Response:
    twin.delete(ObjectKind.CONCEPT_DESCRIPTION, decode_id(cdIdentifier, "cdIdentifier"), origin=origin)
    return Response(status_code=204)
