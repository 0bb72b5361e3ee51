"""Join ordering for SPARQL basic graph patterns, so hierarchy queries stay fast on a big plant.

rdflib orders a pattern group by how many terms are bound and evaluates the whole top
block at once; ``?a idShort "X" . ?b idShort "Y"`` then becomes a cross product of every
"X" with every "Y". This planner orders greedily instead: start with the most selective
pattern (counted in the graph, capped), then always continue with a pattern connected to
what is already bound, preferring a bound subject (a node has few triples here) over a
bound object over nothing bound. It only reorders; the query's meaning is unchanged.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from rdflib import Graph, Variable
from rdflib.paths import Path
from rdflib.plugins.sparql import algebra

_CAP = 5000


def plan(prepared: Any, graph: Graph) -> None:
    """Reorder every BGP of a prepared query in place."""

    def visit(node: Any) -> None:
        if getattr(node, "name", None) == "BGP" and len(node.triples) > 1:
            node["triples"] = _order(list(node.triples), graph)

    algebra.traverse(prepared.algebra, visitPost=visit)


def _variables(triple: tuple[Any, Any, Any]) -> set[Variable]:
    return {term for term in triple if isinstance(term, Variable)}


def _count(triple: tuple[Any, Any, Any], graph: Graph) -> int:
    s, p, o = (None if isinstance(term, Variable) else term for term in triple)
    if isinstance(p, Path):
        return _CAP
    return sum(1 for _ in islice(graph.store.triples((s, p, o), None), _CAP))


def _cost(triple: tuple[Any, Any, Any], bound: set[Variable], graph: Graph) -> tuple[int, int]:
    s, p, o = triple
    s_known = not isinstance(s, Variable) or s in bound
    o_known = not isinstance(o, Variable) or o in bound
    path = isinstance(p, Path)
    if s_known and o_known:
        return 0, 0
    if s_known:
        return (2 if path else 1), 0
    if o_known:
        if not isinstance(o, Variable) and not path:
            return 3, _count(triple, graph)
        return (5 if path else 4), 0
    return 9, _count(triple, graph)


def _order(triples: list[tuple[Any, Any, Any]], graph: Graph) -> list[tuple[Any, Any, Any]]:
    bound: set[Variable] = set()
    ordered: list[tuple[Any, Any, Any]] = []
    remaining = triples
    while remaining:
        connected = [t for t in remaining if _variables(t) & bound] if bound else remaining
        candidates = connected or remaining
        best = min(candidates, key=lambda t: _cost(t, bound, graph))
        ordered.append(best)
        bound |= _variables(best)
        remaining = [t for t in remaining if t is not best]
    return ordered
