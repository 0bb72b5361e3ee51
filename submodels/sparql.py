"""Read-only SPARQL over the twin's graph: what a query may ask, and the time limit it runs under.

Apart from ``semantic`` (which builds the graph and keeps it in step with the twin) because the
forked child of ``sparql_worker`` and the HTTP endpoint need only this: parse and refuse
(UPDATE, SERVICE, FROM, GRAPH), evaluate on a graph, answer as SPARQL JSON or Turtle.

The time limit is checked inside the graph's triple lookups, at every lookup and every 1024
triples: a query past it stops with ``QueryTimeout``. Pattern groups are ordered by
``query_plan`` rather than by rdflib's bound-term count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from pyparsing import ParseException
from rdflib import Graph
from rdflib.plugins.sparql import algebra, prepareQuery
from rdflib.plugins.sparql.parser import parseUpdate
from rdflib.plugins.sparql.sparql import Query

from twinbridge.aas.errors import InvalidInput, TwinError
from twinbridge.submodels import query_plan
from twinbridge.submodels.rdf_mapping import PREFIXES

_CHECK_EVERY = 1024


class QueryError(InvalidInput):
    """The SPARQL text is malformed."""


class QueryRejected(TwinError):
    """The query asks for something this read-only endpoint does not do (UPDATE, SERVICE, FROM)."""


class QueryTimeout(TwinError):
    """The query ran past its time limit and was stopped."""


class DeadlineGraph(Graph):
    """A graph whose triple lookups stop a query that runs past ``deadline`` (monotonic seconds)."""

    deadline = float("inf")

    def triples(self, triple: Any) -> Iterator[Any]:  # type: ignore[override]
        deadline = self.deadline
        if deadline != float("inf"):
            _check(deadline)
            for count, found in enumerate(super().triples(triple)):
                if not count % _CHECK_EVERY:
                    _check(deadline)
                yield found
        else:
            yield from super().triples(triple)


query_plan.register(DeadlineGraph)


def _check(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise QueryTimeout("the SPARQL query ran past its time limit and was stopped")


def new_graph() -> DeadlineGraph:
    """An empty graph on rdflib's in-memory store with our prefixes (the store chosen by
    ``bench/bench_rdf_store.py``: see BENCHMARKS.md)."""
    graph = DeadlineGraph(store="SimpleMemory")
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def evaluate(graph: DeadlineGraph, prepared: Query, deadline: float) -> tuple[str, bytes]:
    """(content type, body) of a ``prepare``d query: SPARQL JSON results for SELECT/ASK, Turtle
    for CONSTRUCT/DESCRIBE; stopped with ``QueryTimeout`` past ``deadline``."""
    graph.deadline = deadline
    try:
        result = graph.query(prepared)
        if result.type in ("SELECT", "ASK"):
            body = result.serialize(format="json")
            content_type = "application/sparql-results+json"
        else:
            assert result.graph is not None
            body = turtle(result.graph)
            content_type = "text/turtle"
    except RecursionError:
        raise QueryTimeout("the SPARQL query is too deeply nested to evaluate") from None
    finally:
        graph.deadline = float("inf")
    assert body is not None
    return content_type, body


def turtle(graph: Graph) -> bytes:
    """The graph as Turtle, written in its N-Triples subset after the prefix declarations.

    rdflib's pretty Turtle writer sorts and nests the whole graph (~150 µs a triple: minutes
    for a big plant); one triple per line is valid Turtle and ~60 times faster.
    """
    header = "".join(f"@prefix {prefix}: <{namespace}> .\n" for prefix, namespace in PREFIXES.items())
    return header.encode() + b"\n" + graph.serialize(format="nt", encoding="utf-8")


def check_syntax(sparql: str) -> tuple[str, bytes]:
    """Parse and check ``sparql`` only (raises as ``prepare`` does); an empty answer when it is fine."""
    prepare(sparql)
    return "", b""


def prepare(sparql: str) -> Query:
    """The parsed query, or ``QueryError`` (malformed) / ``QueryRejected`` (not read-only or not on
    the one default graph)."""
    try:
        prepared = prepareQuery(sparql, initNs=PREFIXES)
    except ParseException as error:
        if _is_update(sparql):
            raise QueryRejected("SPARQL UPDATE is not allowed: this endpoint is read-only") from None
        raise QueryError(f"malformed SPARQL query at line {error.lineno}, column {error.col}: {error.msg}") from None
    except Exception as error:  # rdflib reports unknown prefixes and the like with plain exceptions
        raise QueryError(f"malformed SPARQL query: {error}") from None
    if prepared.algebra.get("datasetClause"):
        raise QueryRejected("FROM / FROM NAMED are not supported: the query runs over the twin's graph")
    found: list[str] = []
    algebra.traverse(prepared.algebra, visitPre=_collect(found))
    if "ServiceGraphPattern" in found:
        raise QueryRejected("SERVICE (federated queries) is not allowed on this endpoint")
    if "Graph" in found:
        raise QueryRejected("GRAPH is not supported: the twin is one default graph without named graphs")
    return prepared


def _is_update(sparql: str) -> bool:
    try:
        parseUpdate(sparql)
    except Exception:  # any parse failure: it is not a valid update either
        return False
    return True


def _collect(found: list[str]) -> Callable[[Any], None]:
    """Collects the names of the algebra nodes a query uses (SERVICE and GRAPH are refused)."""
    def visit(node: Any) -> None:
        name = getattr(node, "name", None)
        if isinstance(name, str):
            found.append(name)
    return visit
