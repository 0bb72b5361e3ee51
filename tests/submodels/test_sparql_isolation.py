"""SPARQL cannot stall the server: queries run in killable children, a bounded number at once.

The cases the hardening probe found: a catastrophic REGEX held the GIL for 14 s (every REST
request stalled), 30k VALUES rows were parsed untimed, concurrent heavy queries queued behind
one lock, GRAPH answered 500.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from twinbridge.aas.twin import Twin
from twinbridge.submodels import sparql_worker
from twinbridge.submodels.semantic import SemanticGraph
from twinbridge.submodels.sparql import QueryTimeout

SPARQL = {"Content-Type": "application/sparql-query"}
# (a+)+$ against 34 a's and a '!' backtracks 2^34 times: minutes inside one ``re`` call
CATASTROPHIC = 'SELECT ?x WHERE { BIND("' + "a" * 34 + '!" AS ?x) FILTER(REGEX(?x, "^(a+)+$")) }'
HUGE_VALUES = "SELECT ?v WHERE { VALUES ?v { " + " ".join(f'"{n}"' for n in range(60_000)) + " } }"


async def test_a_catastrophic_regex_and_a_huge_parse_are_killed_while_rest_answers(
        client: httpx.AsyncClient, twin: Twin, graph: SemanticGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test client's limit is 2 s and it has 2 workers: both heavy queries take one; a third
    query is refused with 503 + Retry-After; REST keeps answering; both heavy ones end at the limit."""
    pools: list[sparql_worker.SparqlWorkers] = []
    reserve = sparql_worker.SparqlWorkers.reserve

    def seen(self: sparql_worker.SparqlWorkers) -> None:
        pools.append(self)
        reserve(self)

    monkeypatch.setattr(sparql_worker.SparqlWorkers, "reserve", seen)
    assert (await client.post("/query/sparql", content='ASK { ?s tb:level "cell" }', headers=SPARQL)).status_code == 200
    before = graph.graph.serialize(format="nt")
    started = time.monotonic()
    regex = asyncio.create_task(client.post("/query/sparql", content=CATASTROPHIC, headers=SPARQL))
    parse = asyncio.create_task(client.post("/query/sparql", content=HUGE_VALUES, headers=SPARQL))
    while pools[-1].running < 2 and time.monotonic() - started < 1.5:  # both heavy queries hold a worker
        await asyncio.sleep(0.01)
    busy = await client.post("/query/sparql", content='ASK { ?s ?p ?o }', headers=SPARQL)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert "SPARQL workers are busy" in busy.json()["messages"][0]["text"]
    slowest = 0.0
    while not regex.done():
        asked = time.monotonic()
        assert (await client.get("/shells", params={"limit": 1})).status_code == 200
        slowest = max(slowest, time.monotonic() - asked)
        await asyncio.sleep(0.1)
    assert slowest < 1.0, f"a REST read waited {slowest:.2f} s behind SPARQL"  # (minutes before: the GIL)
    for task in (regex, parse):
        response = await task
        assert response.status_code == 422, response.text
        assert "ran past its time limit" in response.json()["messages"][0]["text"]
    assert time.monotonic() - started < 6.0  # killed at the 2 s limit, not after minutes
    # the slots are free again and the graph is what it was
    answer = await client.post("/query/sparql", content='ASK { ?s tb:level "cell" }', headers=SPARQL)
    assert answer.status_code == 200 and answer.json()["boolean"] is True
    assert graph.graph.serialize(format="nt") == before


async def test_forms_the_endpoint_does_not_support_answer_403_not_500(client: httpx.AsyncClient) -> None:
    cases = [
        ("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", 403, "GRAPH is not supported"),
        ("SELECT * WHERE { GRAPH <urn:g> { ?s ?p ?o } }", 403, "GRAPH is not supported"),
        ("SELECT * FROM NAMED <urn:g> WHERE { ?s ?p ?o }", 403, "FROM / FROM NAMED"),
        ("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", 403, "SERVICE"),
        ("LOAD <http://example.org/data.ttl>", 403, "read-only"),
        ("SELECT ?s WHERE { ?s ?p }", 400, "malformed SPARQL query"),
        ("SELECT * WHERE { ?s ?p ?o FILTER(REGEX(?o, '(')) }", 400, "cannot evaluate (error)"),
    ]
    for query, status, text in cases:
        response = await client.post("/query/sparql", content=query, headers=SPARQL)
        assert response.status_code == status, (query, response.text)
        assert text in response.json()["messages"][0]["text"]
    for name in ("default-graph-uri", "named-graph-uri"):
        response = await client.get("/query/sparql", params={"query": "ASK {}", name: "urn:g"})
        assert response.status_code == 403 and name in response.json()["messages"][0]["text"]
        form = await client.post("/query/sparql", data={"query": "ASK {}", name: "urn:g"})
        assert form.status_code == 403


async def test_a_query_that_grows_past_its_memory_headroom_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child may grow by HEADROOM beyond the server (1 GiB; 8 MiB here): a huge intermediate
    result ends the query, never the server (the OOM killer might choose it)."""
    monkeypatch.setattr(sparql_worker, "HEADROOM", 8 << 20)

    def evaluate() -> tuple[str, bytes]:
        rows = bytearray(64 << 20)  # what a cross product sorted in memory would build up
        return "text/plain", bytes(rows[:1])

    with pytest.raises(QueryTimeout, match="needed more than 8 MiB"):
        await sparql_worker.SparqlWorkers(1).run(evaluate, 30)
