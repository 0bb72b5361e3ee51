"""Registry queries (Part 2 v3.1, the registries' SSP-004 "Query" profiles):
``POST /query/shell-descriptors`` (``$aasdesc`` fields) and ``POST /query/submodel-descriptors``
(``$smdesc`` fields), served on the v3.1 prefix and, like the repository's query routes, on
v3.0 too.

The body is a query in its JSON form or the grammar's text form (``text/plain``), read by the
repository's reader (``server.api.query.read_query``); errors are 400 naming the position in
the query, a query stops after ``QUERY_TIME_LIMIT_S`` (503). Pages are keyset pages by id like
the registry's lists (``cursor``: the last id handed out, base64url; without ``limit`` at most
``DEFAULT_PAGE``). ``paging_metadata.resultType`` is ``AssetAdministrationShellDescriptor``,
``SubmodelDescriptor``, or ``Identifier`` for ``$select: "id"``, whose results are the ids.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinbridge.query.syntax import Root
from twinbridge.registry.api import DEFAULT_PAGE, CursorParam, LimitParam, Reader
from twinbridge.server.api.ids import decode_id, encode_id
from twinbridge.server.api.paging import limit_of
from twinbridge.server.api.query import QUERY_TIME_LIMIT_S, read_query

QUERY_PROFILES_31: tuple[str, ...] = tuple(
    f"https://admin-shell.io/aas/API/3/1/{name}/SSP-004"
    for name in ("AssetAdministrationShellRegistryServiceSpecification", "SubmodelRegistryServiceSpecification"))
"""The registries' query profiles (v3.1; v3.0 defines no registry query)."""

_RESULT_TYPES = {Root.AASDESC: "AssetAdministrationShellDescriptor", Root.SMDESC: "SubmodelDescriptor"}


def _body(example: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "properties": {
            "$select": {"type": "string", "enum": ["id"]}, "$condition": {"type": "object"}},
            "required": ["$condition"]},
            "example": {"$condition": {"$eq": [{"$field": example}, {"$strVal": "Nameplate"}]}}},
        "text/plain": {"schema": {"type": "string"}, "example": f'{example} $eq "Nameplate"'},
    }}}


async def _answer(request: Request, service: Reader, root: Root, limit: str | None, cursor: str | None) -> Response:
    query = await read_query(request)
    after = decode_id(cursor, "cursor") if cursor else None
    matches, next_after = await service.query(root, query, after, limit_of(limit) or DEFAULT_PAGE,
                                              QUERY_TIME_LIMIT_S)
    meta: dict[str, str] = {"resultType": "Identifier" if query.select_id else _RESULT_TYPES[root]}
    if next_after is not None:
        meta["cursor"] = encode_id(next_after)
    parts = [orjson.dumps(identifier) if query.select_id else body for identifier, body in matches]
    return Response(b'{"paging_metadata":' + orjson.dumps(meta) + b',"result":[' + b",".join(parts) + b"]}",
                    media_type="application/json")


queries = APIRouter()


@queries.post("/query/shell-descriptors", tags=["Asset Administration Shell Registry API"],
              openapi_extra=_body("$aasdesc#idShort"),
              summary="Returns all Asset Administration Shell Descriptors that conform to the input query")
async def query_shell_descriptors(request: Request, service: Reader, limit: LimitParam = None,
                                  cursor: CursorParam = None) -> Response:
    return await _answer(request, service, Root.AASDESC, limit, cursor)


@queries.post("/query/submodel-descriptors", tags=["Submodel Registry API"],
              openapi_extra=_body("$smdesc#idShort"),
              summary="Returns all Submodel Descriptors that conform to the input query")
async def query_submodel_descriptors(request: Request, service: Reader, limit: LimitParam = None,
                                     cursor: CursorParam = None) -> Response:
    return await _answer(request, service, Root.SMDESC, limit, cursor)
