"""Join ordering for SPARQL basic graph patterns, so hierarchy queries stay fast on a big plant.

rdflib sorts a pattern group by how many terms are unbound, right before evaluating it;
``?line idShort "Line2" . ?line hasPart+ ?m . ?m level "machine"`` then starts with every
machine and walks the tree once per machine. This planner orders greedily instead, with the
bindings known at that moment: start with the most selective pattern (counted in the graph,
capped), then always continue with a pattern connected to what is bound, preferring a bound
subject (a node has few triples) over a bound object over nothing bound. It only reorders;
the query's meaning is unchanged. It is installed as an rdflib custom evaluation that acts
only on graphs of the registered class and leaves every other graph to rdflib.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from rdflib import Graph, Variable
from rdflib.paths import Path
from rdflib.plugins.sparql import CUSTOM_EVALS
from rdflib.plugins.sparql.evaluate import evalBGP

_CAP = 1000
_Triple = tuple[Any, Any, Any]


def register(graph_type: type[Graph]) -> None:
    """Plan the BGPs of queries that run on instances of ``graph_type``."""

    def evaluate(ctx: Any, part: Any) -> Any:
        if part.name != "BGP" or not isinstance(ctx.graph, graph_type):
            raise NotImplementedError
        bound = {term for triple in part.triples for term in triple
                 if isinstance(term, Variable) and ctx[term] is not None}
        return evalBGP(ctx, order(list(part.triples), bound, ctx.graph))

    CUSTOM_EVALS[f"twinbridge-plan-{graph_type.__qualname__}"] = evaluate


def _variables(triple: _Triple) -> set[Variable]:
    return {term for term in triple if isinstance(term, Variable)}


def _count(triple: _Triple, graph: Graph) -> int:
    s, p, o = (None if isinstance(term, Variable) else term for term in triple)
    if isinstance(p, Path):
        return _CAP
    return sum(1 for _ in islice(graph.store.triples((s, p, o), None), _CAP))


def _cost(triple: _Triple, bound: set[Variable], graph: Graph) -> tuple[int, int]:
    s, p, o = triple
    s_known = not isinstance(s, Variable) or s in bound
    o_known = not isinstance(o, Variable) or o in bound
    path = isinstance(p, Path)
    if s_known and o_known:
        return (1 if path else 0), 0
    if s_known:
        return (3 if path else 2), 0
    if o_known:
        if not isinstance(o, Variable) and not path:
            return 4, _count(triple, graph)
        return (6 if path else 5), 0
    return 9, _count(triple, graph)


def order(triples: list[_Triple], bound: set[Variable], graph: Graph) -> list[_Triple]:
    """``triples`` in evaluation order, given the variables already ``bound``."""
    known = set(bound)
    ordered: list[_Triple] = []
    remaining = triples
    while remaining:
        connected = [t for t in remaining if _variables(t) & known] if known else []
        best = min(connected or remaining, key=lambda t: _cost(t, known, graph))
        ordered.append(best)
        known |= _variables(best)
        remaining = [t for t in remaining if t is not best]
    return ordered
