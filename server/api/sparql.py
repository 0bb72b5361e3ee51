"""``/query/sparql``: read-only SPARQL over the semantic graph (``app.state.semantic_graph``).

The query comes as the body (``application/sparql-query`` or ``text/plain``), a form field
or JSON ``{"query": ...}`` (POST), or the ``query`` parameter (GET, SPARQL protocol). It runs
in a worker thread against the time limit ``app.state.sparql_timeout_s`` (default 5 s); the
first well-formed query builds the graph (``SemanticGraph`` is lazy by default), and that
build is not counted against the limit.
Malformed queries answer 400, UPDATE/SERVICE/FROM 403, a query past the limit 422.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from twinbridge.server.api.auth import ReadAccess
from twinbridge.server.api.results import ApiError
from twinbridge.submodels.semantic import QueryError, QueryRejected, QueryTimeout, SemanticGraph

router = APIRouter(tags=["SPARQL"])
DEFAULT_TIMEOUT_S = 5.0
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/sparql-results+json": {}, "text/turtle": {}}},
}


async def _query_text(request: Request) -> str:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the query is not UTF-8 text") from None
    if content_type == "application/x-www-form-urlencoded":
        values = parse_qs(text).get("query")
        if not values:
            raise ApiError(400, "the form has no 'query' field")
        return values[0]
    if content_type == "application/json":
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as error:
            raise ApiError(400, f"the JSON body is malformed: {error}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise ApiError(400, 'the JSON body must be an object with a "query" string')
        return str(payload["query"])
    if content_type not in ("", "application/sparql-query", "text/plain"):
        raise ApiError(415, f"unsupported content type {content_type!r}; send application/sparql-query")
    return text


async def _answer(request: Request, text: str) -> Response:
    graph = getattr(request.app.state, "semantic_graph", None)
    if graph is None:
        raise ApiError(404, "this server has no semantic graph (server.semantic is off in its configuration)")
    assert isinstance(graph, SemanticGraph)
    if not text.strip():
        raise ApiError(400, "the SPARQL query is empty")
    timeout = float(getattr(request.app.state, "sparql_timeout_s", DEFAULT_TIMEOUT_S))
    try:
        content_type, body = await run_in_threadpool(graph.query, text, timeout)
    except QueryError as error:
        raise ApiError(400, str(error)) from None
    except QueryRejected as error:
        raise ApiError(403, str(error)) from None
    except QueryTimeout as error:
        raise ApiError(422, f"{error} (limit {timeout:g} s)") from None
    return Response(body, media_type=content_type)


@router.post("/query/sparql", dependencies=[ReadAccess], response_class=Response, responses=_RESPONSES)
async def post_sparql(request: Request) -> Response:
    return await _answer(request, await _query_text(request))


@router.get("/query/sparql", dependencies=[ReadAccess], response_class=Response, responses=_RESPONSES)
async def get_sparql(request: Request, query: str) -> Response:
    return await _answer(request, query)
