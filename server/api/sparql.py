"""``/query/sparql``: read-only SPARQL over the semantic graph (``app.state.semantic_graph``).

The query comes as the body (``application/sparql-query`` or ``text/plain``), a form field
or JSON ``{"query": ...}`` (POST), or the ``query`` parameter (GET, SPARQL protocol). It runs
in a forked child process (``submodels.sparql_worker``), parse included, killed at the time
limit ``app.state.sparql_timeout_s`` (default 5 s); at most ``app.state.sparql_workers``
(default 2) run at once. The first well-formed query builds the graph (``SemanticGraph`` is
lazy by default; a child checks the syntax first, so a malformed query builds nothing), and
that build is not counted against the limit.
Malformed queries answer 400, UPDATE/SERVICE/FROM/GRAPH and the dataset parameters 403, a query past the limit 422,
one beyond the worker limit 503 with ``Retry-After``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinbridge.server.api.auth import ReadAccess
from twinbridge.server.api.results import ApiError
from twinbridge.submodels.semantic import SemanticGraph
from twinbridge.submodels.sparql import QueryError, QueryRejected, QueryTimeout, check_syntax
from twinbridge.submodels.sparql_worker import QueryBusy, SparqlWorkers

router = APIRouter(tags=["SPARQL"])
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_WORKERS = 2
RETRY_AFTER_S = 1
_DATASET_PARAMETERS = ("default-graph-uri", "named-graph-uri")
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/sparql-results+json": {}, "text/turtle": {}}},
    400: {"description": "the query is malformed, or uses a form rdflib cannot evaluate"},
    403: {"description": "UPDATE, SERVICE, FROM, GRAPH or a dataset parameter: this endpoint does not do them"},
    404: {"description": "the server has no semantic graph (server.semantic: off)"},
    415: {"description": "the body's content type is not a SPARQL query"},
    422: {"description": "the query ran past server.sparql.timeout_s and was stopped"},
    503: {"description": "all server.sparql.workers are busy; try again after Retry-After seconds",
          "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
}


async def _query_text(request: Request) -> str:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the query is not UTF-8 text") from None
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(text)
        _refuse_datasets(form)
        values = form.get("query")
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


def _refuse_datasets(parameters: Mapping[str, object]) -> None:
    """The protocol's dataset parameters name graphs this endpoint does not have (as FROM would)."""
    for name in _DATASET_PARAMETERS:
        if name in parameters:
            raise ApiError(403, f"{name} is not supported: the query runs over the twin's one default graph")


async def _answer(request: Request, text: str) -> Response:
    _refuse_datasets(request.query_params)
    graph = getattr(request.app.state, "semantic_graph", None)
    if graph is None:
        raise ApiError(404, "this server has no semantic graph (server.semantic is off in its configuration)")
    assert isinstance(graph, SemanticGraph)
    if not text.strip():
        raise ApiError(400, "the SPARQL query is empty")
    timeout = float(getattr(request.app.state, "sparql_timeout_s", DEFAULT_TIMEOUT_S))
    workers = _workers(request)
    try:
        workers.reserve()
    except QueryBusy as error:
        raise ApiError(503, str(error), {"Retry-After": str(RETRY_AFTER_S)}) from None
    try:
        if not graph.built:  # a malformed query must not build the graph
            await workers.run(lambda: check_syntax(text), timeout)
            await graph.ensure_built()
        deadline = time.monotonic() + timeout
        content_type, body = await workers.run(lambda: graph.evaluate_unlocked(text, deadline), timeout)
    except QueryRejected as error:
        raise ApiError(403, str(error)) from None
    except QueryError as error:
        raise ApiError(400, str(error)) from None
    except QueryTimeout as error:
        raise ApiError(422, f"{error} (limit {timeout:g} s)") from None
    finally:
        workers.release()
    return Response(body, media_type=content_type)


def _workers(request: Request) -> SparqlWorkers:
    workers = getattr(request.app.state, "sparql_worker_pool", None)
    if workers is None:
        limit = int(getattr(request.app.state, "sparql_workers", DEFAULT_WORKERS))
        workers = request.app.state.sparql_worker_pool = SparqlWorkers(limit)
    assert isinstance(workers, SparqlWorkers)
    return workers


@router.post("/query/sparql", dependencies=[ReadAccess], response_class=Response, responses=_RESPONSES)
async def post_sparql(request: Request) -> Response:
    return await _answer(request, await _query_text(request))


@router.get("/query/sparql", dependencies=[ReadAccess], response_class=Response, responses=_RESPONSES)
async def get_sparql(request: Request, query: str) -> Response:
    return await _answer(request, query)
