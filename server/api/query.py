"""Query API (Part 2 v3.1): ``POST /query/shells``, ``/query/submodels``, ``/query/concept-descriptions``.

The body is a query of the AAS Query Language in its JSON form (``application/json``, as the
HTTP mapping defines it) or in the grammar's text form (``text/plain``, an extension: the
specification defines no text mapping for HTTP; see ``query.text_form``). The answer pages like
every repository list (``limit``, ``cursor``: the catalog's sequence numbers, so a cursor
survives creations and deletions) and carries ``paging_metadata.resultType`` (the class of the
results, or ``Identifier`` for ``$select: "id"``, whose results are the identifiers as strings).

Plans come from ``twinbridge.query.plan`` over the REST catalogs and the twin's value indexes;
a query runs under ``QUERY_TIME_LIMIT_S`` (checked between objects, so it really stops) and a
query that is not one of the language is a 400 naming the position in it.

``$select: "id"`` without a ``limit`` streams the identifiers in chunks: the matching ids are
found first (under the time limit, so a timeout is still a proper 503, not a cut-off body), then
written ``_CHUNK`` at a time; no object is rendered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from basyx.aas import model
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from twinbridge.aas.store.postgres import PostgresStore
from twinbridge.query.json_form import parse_query
from twinbridge.query.plan import Page, PageSource, Planner
from twinbridge.query.store_query import StorePlanner
from twinbridge.query.syntax import Query, Root
from twinbridge.query.text_form import parse_text_query
from twinbridge.query.world import RepositoryWorld
from twinbridge.server.api.auth import ReadAccess
from twinbridge.server.api.bodies import bytes_response, load_json
from twinbridge.server.api.catalog import Catalog, asset_key, id_short_key, semantic_first_key, semantic_value_key
from twinbridge.server.api.content import shaped_json
from twinbridge.server.api.paging import CursorQuery, LimitQuery, next_cursor
from twinbridge.server.api.results import ApiError
from twinbridge.server.api.services import Services, ServicesDep

router = APIRouter(tags=["Query API"])

QUERY_TIME_LIMIT_S = 5.0
"""A query stops after this long (503): at 100,000 submodels a full scan takes ~1 s (BENCHMARKS.md)."""
MAX_QUERY_BYTES = 256 * 1024
_CHUNK = 1_000

_KEYS = {"idShort": id_short_key, "semanticKey": semantic_value_key, "semanticFirstKey": semantic_first_key,
         "globalAssetId": lambda value: asset_key("globalAssetId", value)}

_QUERY_BODY: dict[str, Any] = {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "properties": {
        "$select": {"type": "string", "enum": ["id"]}, "$condition": {"type": "object"}},
        "required": ["$condition"]},
        "example": {"$condition": {"$eq": [{"$field": "$sm#idShort"}, {"$strVal": "Nameplate"}]}}},
    "text/plain": {"schema": {"type": "string"}, "example": '$sm#idShort $eq "Nameplate"'},
}}


class CatalogView:
    """A REST catalog as ``query.plan.Catalog``."""

    def __init__(self, catalog: Catalog[Any]) -> None:
        self._catalog = catalog

    def all_seqs(self) -> Sequence[int]:
        return self._catalog.ordered()

    def seqs(self, attribute: str, value: str) -> Sequence[int] | None:
        key = _KEYS.get(attribute)
        return None if key is None else self._catalog.key_seqs(key(value))

    def seq_of(self, identifier: str) -> int | None:
        return self._catalog.seq_of(identifier)

    def id_of(self, seq: int) -> str:
        return self._catalog.id_of(seq)

    def get(self, identifier: str) -> model.Identifiable:
        obj: model.Identifiable = self._catalog.get(identifier)
        return obj


def planner(services: Services, root: Root) -> PageSource:
    """The in-memory plan over the catalogs and value indexes; for submodels and shells on an
    instance that keeps only some in memory (the store URL's ``?cache=N``), the query in SQL over
    the store."""
    catalogs = services.catalogs.current()
    catalog: Catalog[Any]
    backend = services.twin.store.backend
    if root is Root.AAS:
        if catalogs.stored_shells is not None and isinstance(backend, PostgresStore):
            return StorePlanner(backend, root)
        catalog = catalogs.shells
    elif root is Root.SM:
        if catalogs.stored is not None and isinstance(backend, PostgresStore):
            return StorePlanner(backend, root)
        catalog = catalogs.submodels
    else:
        catalog = catalogs.concept_descriptions
    twin = services.twin
    return Planner(root, CatalogView(catalog), RepositoryWorld(twin.shells, twin.submodels),
                   services.value_indexes if root is Root.SM else None)


async def read_query(request: Request) -> Query:
    body = await request.body()
    if len(body) > MAX_QUERY_BYTES:
        raise ApiError(413, f"a query is at most {MAX_QUERY_BYTES} bytes, got {len(body)}")
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type == "text/plain":
        return parse_text_query(body.decode("utf-8", errors="replace"))
    if media_type not in ("application/json", ""):
        raise ApiError(415, f"a query is application/json (or text/plain in the grammar's form), not {media_type}")
    return parse_query(load_json(body, "a query"))


_RESULT_TYPES = {Root.AAS: "AssetAdministrationShell", Root.SM: "Submodel", Root.CD: "ConceptDescription"}


def _metadata(result_type: str, cursor: str | None) -> bytes:
    meta: dict[str, str] = {"resultType": result_type}
    if cursor is not None:
        meta["cursor"] = cursor
    return b'{"paging_metadata":' + orjson.dumps(meta) + b',"result":['


def _ids_stream(head: bytes, identifiers: list[str]) -> Iterator[bytes]:
    yield head
    for start in range(0, len(identifiers), _CHUNK):
        chunk = b",".join(orjson.dumps(identifier) for identifier in identifiers[start:start + _CHUNK])
        yield chunk if start == 0 else b"," + chunk
    yield b"]}"


def _render(services: Services, root: Root, identifier: str) -> bytes:
    catalogs = services.catalogs
    if root is Root.AAS:
        return catalogs.shell_json(identifier)
    if root is Root.CD:
        return catalogs.concept_descriptions.rendered(identifier)
    twin = services.twin
    return services.renders.document(twin, identifier, "full/deep/withBlobValue",
                                     lambda: shaped_json(twin.submodel(identifier)))


async def answer(services: Services, request: Request, root: Root, cursor: int, limit: int | None) -> Response:
    query = await read_query(request)
    source = planner(services, root)
    if isinstance(source, StorePlanner):  # blocking SQL: off the loop, after this instance's own writes
        await services.twin.persisted()
        page: Page = await asyncio.to_thread(source.page, query, cursor, limit, QUERY_TIME_LIMIT_S)
    else:
        page = source.page(query, cursor, limit, QUERY_TIME_LIMIT_S)
    next_page = next_cursor(page.after)
    if query.select_id:
        head = _metadata("Identifier", next_page)
        if limit is None:
            return StreamingResponse(_ids_stream(head, page.identifiers), media_type="application/json")
        return bytes_response(b"".join(_ids_stream(head, page.identifiers)))
    parts = [_render(services, root, identifier) for identifier in page.identifiers]
    return bytes_response(_metadata(_RESULT_TYPES[root], next_page) + b",".join(parts) + b"]}")


_ANSWERS: dict[int | str, dict[str, Any]] = {
    415: {"description": "Unsupported Media Type: a query is application/json, or text/plain in the grammar's form"}}


@router.post("/query/shells", dependencies=[ReadAccess], openapi_extra={"requestBody": _QUERY_BODY},
             responses=_ANSWERS,
             summary="Returns the Asset Administration Shells a query of the AAS Query Language holds for")
async def query_shells(request: Request, services: ServicesDep, limit: LimitQuery, cursor: CursorQuery) -> Response:
    return await answer(services, request, Root.AAS, cursor, limit)


@router.post("/query/submodels", dependencies=[ReadAccess], openapi_extra={"requestBody": _QUERY_BODY},
             responses=_ANSWERS,
             summary="Returns the Submodels a query of the AAS Query Language holds for")
async def query_submodels(request: Request, services: ServicesDep, limit: LimitQuery,
                          cursor: CursorQuery) -> Response:
    return await answer(services, request, Root.SM, cursor, limit)


@router.post("/query/concept-descriptions", dependencies=[ReadAccess], openapi_extra={"requestBody": _QUERY_BODY},
             responses=_ANSWERS,
             summary="Returns the Concept Descriptions a query of the AAS Query Language holds for")
async def query_concept_descriptions(request: Request, services: ServicesDep, limit: LimitQuery,
                                     cursor: CursorQuery) -> Response:
    return await answer(services, request, Root.CD, cursor, limit)
