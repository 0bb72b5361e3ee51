"""Concept Description Repository routes: ``/concept-descriptions``."""

from __future__ import annotations

from typing import Annotated, Any

from basyx.aas import model
from basyx.aas.adapter.json import StrictAASFromJsonDecoder
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.server.api.auth import ReadAccess, WriteAccess
from twinbridge.server.api.bodies import construct_part, json_response, parse_body
from twinbridge.server.api.deps import TwinDep
from twinbridge.server.api.ids import decode_id, decode_json
from twinbridge.server.api.paging import CursorQuery, LimitQuery, paged_envelope
from twinbridge.server.api.results import ApiError
from twinbridge.server.api.shells import JSON_BODY

router = APIRouter(tags=["Concept Description Repository API"])

KeyTuple = tuple[tuple[str, str], ...]


def _keys(reference: model.Reference) -> KeyTuple:
    """Reference identity by its keys: clients send ExternalReferences and ModelReferences alike."""
    return tuple((key.type.name, key.value) for key in reference.key)


def _reference_filter(encoded: str | None, what: str) -> KeyTuple | None:
    if encoded is None:
        return None
    raw = decode_json(encoded, what)
    return _keys(construct_part(raw, f"{what} (a Reference)", StrictAASFromJsonDecoder._construct_reference))


def _matches(cd: model.ConceptDescription, id_short: str | None, is_case_of: KeyTuple | None,
             data_specification: KeyTuple | None) -> bool:
    if id_short is not None and cd.id_short != id_short:
        return False
    if is_case_of is not None and all(_keys(ref) != is_case_of for ref in cd.is_case_of):
        return False
    return data_specification is None or any(
        _keys(spec.data_specification) == data_specification for spec in cd.embedded_data_specifications
    )


def _concept_of(twin: Twin, encoded: str) -> model.ConceptDescription:
    return twin.concept_description(decode_id(encoded, "cdIdentifier"))


@router.get("/concept-descriptions", dependencies=[ReadAccess])
async def get_all_concept_descriptions(
    twin: TwinDep,
    limit: LimitQuery,
    cursor: CursorQuery,
    id_short: Annotated[str | None, Query(alias="idShort")] = None,
    is_case_of: Annotated[str | None, Query(alias="isCaseOf", description="base64url-encoded Reference")] = None,
    data_specification_ref: Annotated[
        str | None, Query(alias="dataSpecificationRef", description="base64url-encoded Reference")
    ] = None,
) -> Response:
    case = _reference_filter(is_case_of, "isCaseOf")
    spec = _reference_filter(data_specification_ref, "dataSpecificationRef")
    concepts: list[Any] = [
        cd for cd in twin.concept_descriptions.values() if _matches(cd, id_short, case, spec)
    ]
    return json_response(paged_envelope(concepts, cursor, limit, to_jsonable))


@router.post("/concept-descriptions", status_code=201, dependencies=[WriteAccess], openapi_extra=JSON_BODY)
async def post_concept_description(request: Request, twin: TwinDep) -> Response:
    concept = parse_body(await request.body(), model.ConceptDescription)
    twin.create(concept)
    return json_response(concept, status=201)


@router.get("/concept-descriptions/{cdIdentifier}", dependencies=[ReadAccess])
async def get_concept_description(cdIdentifier: str, twin: TwinDep) -> Response:
    return json_response(_concept_of(twin, cdIdentifier))


@router.put("/concept-descriptions/{cdIdentifier}", status_code=204, dependencies=[WriteAccess],
            openapi_extra=JSON_BODY)
async def put_concept_description(cdIdentifier: str, request: Request, twin: TwinDep) -> Response:
    identifier = decode_id(cdIdentifier, "cdIdentifier")
    concept = parse_body(await request.body(), model.ConceptDescription)
    if concept.id != identifier:
        raise ApiError(400, f"the body's id {concept.id!r} differs from the path's cdIdentifier {identifier!r}")
    twin.replace(concept)
    return Response(status_code=204)


@router.delete("/concept-descriptions/{cdIdentifier}", status_code=204, dependencies=[WriteAccess])
async def delete_concept_description(cdIdentifier: str, twin: TwinDep) -> Response:
    twin.delete(ObjectKind.CONCEPT_DESCRIPTION, decode_id(cdIdentifier, "cdIdentifier"))
    return Response(status_code=204)
