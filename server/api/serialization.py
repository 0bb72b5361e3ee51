"""``GET /serialization``: an environment of chosen shells and submodels, in the format ``Accept`` asks for.

JSON and XML carry the model; an AASX package also carries the supplementary files (File
element attachments, thumbnails); Turtle is the semantic graph when the application has one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from twinbridge.aas.serialization import FormatName, collect, write_aasx, write_environment
from twinbridge.aas.twin import Twin
from twinbridge.server.api.auth import ReadAccess
from twinbridge.server.api.ids import decode_ids
from twinbridge.server.api.results import ApiError
from twinbridge.server.api.services import TwinDep, services_of
from twinbridge.server.api.shells import shell_of
from twinbridge.server.api.v31 import metamodel_of

router = APIRouter(tags=["Serialization API"])

AASX_MEDIA_TYPE = "application/asset-administration-shell-package+xml"
AASX_JSON_MEDIA_TYPE = "application/asset-administration-shell-package+json"  # an AASX whose data part is JSON
TURTLE = "text/turtle"
_MEDIA_TYPES: dict[str, FormatName | None] = {
    "application/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    AASX_MEDIA_TYPE: "aasx",
    AASX_JSON_MEDIA_TYPE: "aasx",
    "application/asset-administration-shell-package": "aasx",
    TURTLE: None,
}
_DEFAULT = "application/json"

IdsQuery = Annotated[list[str] | None, Query(description="base64url-encoded identifiers (repeat or comma-separate)")]


def negotiate(accept: str | None) -> str:
    """The best supported media type for an ``Accept`` header (q-values honoured)."""
    if not accept:
        return _DEFAULT
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        fields = [field.strip() for field in part.split(";")]
        media, quality = fields[0].lower(), 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            choices.append((-quality, position, media))
    for _, _, media in sorted(choices):
        if media in _MEDIA_TYPES:
            return media
        if media in ("*/*", "application/*"):
            return _DEFAULT
    raise ApiError(
        406, f"cannot serialize as {accept!r}; supported: {', '.join(_MEDIA_TYPES)}"
    )


def _ids(values: list[str] | None, what: str) -> list[str] | None:
    return None if values is None else decode_ids(values, what)


async def _serialize(request: Request, twin: Twin, shell_ids: list[str] | None, submodel_ids: list[str] | None,
                     include_concept_descriptions: bool) -> Response:
    media = negotiate(request.headers.get("accept"))
    fmt = _MEDIA_TYPES[media]
    if fmt is None:
        graph = services_of(request).semantic_graph
        if graph is None:
            raise ApiError(406, "this server has no semantic graph to serialize as text/turtle")
        # The graph takes its own lock; a big plant's Turtle takes seconds, so not on the event loop.
        return Response(await run_in_threadpool(graph.turtle), media_type=TURTLE)
    env = collect(twin, shell_ids, submodel_ids, include_concept_descriptions)
    headers = {"Content-Disposition": 'attachment; filename="environment.aasx"'} if fmt == "aasx" else None
    metamodel = metamodel_of(request)
    body = (write_aasx(env, json_part=True, metamodel=metamodel) if media == AASX_JSON_MEDIA_TYPE
            else write_environment(env, fmt, metamodel))
    return Response(body, media_type=media, headers=headers)


_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {media: {} for media in _MEDIA_TYPES}},
    404: {"description": "Not Found: aasIds or submodelIds name an object this repository lacks"},
    406: {"description": "Not Acceptable: the Accept header names no format this server writes"},
}


@router.get("/serialization", dependencies=[ReadAccess], response_class=Response, responses=_ANSWERS)
async def generate_serialization(
    request: Request,
    twin: TwinDep,
    aas_ids: Annotated[IdsQuery, Query(alias="aasIds")] = None,
    submodel_ids: Annotated[IdsQuery, Query(alias="submodelIds")] = None,
    include_concept_descriptions: Annotated[bool, Query(alias="includeConceptDescriptions")] = True,
) -> Response:
    return await _serialize(request, twin, _ids(aas_ids, "aasIds"), _ids(submodel_ids, "submodelIds"),
                      include_concept_descriptions)


@router.get("/shells/{aasIdentifier}/serialization", dependencies=[ReadAccess], response_class=Response,
            responses=_ANSWERS)
async def generate_shell_serialization(
    aasIdentifier: str,
    request: Request,
    twin: TwinDep,
    aas_ids: Annotated[IdsQuery, Query(alias="aasIds")] = None,
    submodel_ids: Annotated[IdsQuery, Query(alias="submodelIds")] = None,
    include_concept_descriptions: Annotated[bool, Query(alias="includeConceptDescriptions")] = True,
) -> Response:
    """The single-shell view (AAS Service at ``/shells/{id}``): serializes this shell.

    ``aasIds`` may only name this shell; ``submodelIds`` narrows its submodels.
    """
    shell = shell_of(twin, aasIdentifier)
    named = _ids(aas_ids, "aasIds")
    if named is not None and any(identifier != shell.id for identifier in named):
        raise ApiError(400, f"this service serves only the shell {shell.id!r}; aasIds names others")
    return await _serialize(request, twin, [shell.id], _ids(submodel_ids, "submodelIds"), include_concept_descriptions)
