"""rdflib's in-memory store against an Oxigraph-backed rdflib store, on the 1,000-machine plant.

    .venv/bin/python bench/bench_rdf_store.py [--machines 1000] [--queries 20] [--runs 3]

For each store, in its own process (so the RSS figures do not mix): emit the plant's triples
with ``rdf_mapping`` (the same emission ``SemanticGraph`` does), add them to an empty
``rdflib.Graph`` on that store, and time the hierarchy queries the tests and ``bench_plant``
run (through ``Graph.query``: rdflib's engine with our join planner for the memory store,
Oxigraph's native SPARQL engine for the Oxigraph store). Prints one table: memory (RSS growth
of the graph, and per triple), build time, and p50/p99 of each query, medians of ``--runs``
processes. The in-memory store is the baseline of the ratios. Times are CPU seconds of the
process (``time.process_time``): the machine is shared, and wall time there mostly measures
the wait for a core.

The Oxigraph store needs ``pip install oxrdflib`` (not a twinbridge dependency; the figures
decided against it, see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plant import MACHINES_OF_LINE, TEMPERATURES_BELOW_CELL, description

ANCESTORS = """
SELECT ?a WHERE { ?m Referable:idShort "M25" ; tb:isPartOf+ ?a }"""
VALUES_BY_SEMANTIC_ID = """
SELECT ?shell ?value WHERE {
  ?cell Referable:idShort "L0Cell3" ; tb:hasPart+ ?shell .
  ?shell tb:hasSubmodel ?sm . ?sm Referable:idShort "OperationalData" .
  ?sm (Submodel:submodelElements|SubmodelElementCollection:value)+ ?t .
  ?t Referable:idShort "Temperature" ; HasSemantics:semanticId ?ref .
  ?ref Reference:keys ?key . ?key Key:value ?cd .
  OPTIONAL { ?t Property:value ?value }
}"""
QUERIES = {"machines of a line by manufacturer": MACHINES_OF_LINE,
           "temperatures below a cell": TEMPERATURES_BELOW_CELL,
           "ancestors of a machine": ANCESTORS,
           "values by semanticId below a cell": VALUES_BY_SEMANTIC_ID}
STORES = ("memory", "oxigraph", "oxigraph-disk")


def _strict(term: Any) -> Any:
    """Oxigraph refuses IRIs that are not RFC 3987 IRIs; our element nodes carry list indexes
    (``#Readings[0]``) in the fragment, which must be percent-encoded there."""
    from rdflib import URIRef

    if isinstance(term, URIRef) and ("[" in term or "]" in term):
        return URIRef(term.replace("[", "%5B").replace("]", "%5D"))
    return term


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def measure(store: str, machines: int, queries: int) -> dict[str, object]:
    """One process, one store: build and query; returns the figures as JSON-able dict."""
    from rdflib import Graph
    from rdflib.plugins.sparql import prepareQuery

    from twinbridge.aas.twin import Twin
    from twinbridge.submodels.builder import build_environment
    from twinbridge.submodels.description import PlantDescription
    from twinbridge.submodels.hierarchy import PlantHierarchy
    from twinbridge.submodels.rdf_mapping import PREFIXES
    from twinbridge.submodels.semantic import SemanticGraph

    plant = build_environment(PlantDescription.model_validate(description(machines, 5)))
    twin = Twin()
    plant.load_into(twin)
    semantic = SemanticGraph(twin, PlantHierarchy.from_model(plant))
    triples = semantic.emit_all()
    del semantic
    before = _rss()
    started = time.process_time()
    if store == "memory":
        from twinbridge.submodels.sparql import new_graph

        graph: Graph = new_graph()
        add = graph.store.add
        for triple in triples:
            add(triple, graph)
    else:
        graph = Graph(store="Oxigraph")
        if store == "oxigraph-disk":
            graph.open(str(Path(tempfile.mkdtemp(prefix="bench-oxigraph-")) / "store"), create=True)
        for prefix, namespace in PREFIXES.items():
            graph.bind(prefix, namespace)
        graph.addN((_strict(s), p, _strict(o), graph) for s, p, o in triples)
    build_s = time.process_time() - started
    count = len(graph)
    del triples
    memory = _rss() - before
    figures: dict[str, object] = {"build_s": build_s, "memory": memory, "triples": count}
    for name, text in QUERIES.items():
        query = prepareQuery(text, initNs=PREFIXES) if store == "memory" else text
        samples = []
        rows = 0
        for _ in range(queries):
            started = time.process_time()
            result = graph.query(query, initNs=PREFIXES) if store != "memory" else graph.query(query)
            rows = len(json.loads(result.serialize(format="json"))["results"]["bindings"])
            samples.append(time.process_time() - started)
        ordered = sorted(samples)
        figures[name] = (statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], rows)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", choices=STORES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.machines, args.queries)))
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.machines} machines; median of {args.runs} "
          f"processes per store, {args.queries} queries each")
    results: dict[str, list[dict[str, object]]] = {store: [] for store in STORES}
    for _ in range(args.runs):
        for store in STORES:
            output = subprocess.run([sys.executable, __file__, "--one", store, "--machines", str(args.machines),
                                     "--queries", str(args.queries)], check=True, capture_output=True, text=True)
            results[store].append(json.loads(output.stdout.strip().splitlines()[-1]))

    def median(store: str, key: str, index: int | None = None) -> float:
        values = [run[key] if index is None else run[key][index] for run in results[store]]  # type: ignore[index]
        return float(statistics.median(values))  # type: ignore[arg-type]

    header = (f"| {'what':42s} | " + " | ".join(f"{store:>22s}" for store in STORES)
              + " | oxigraph / memory | disk / memory |")
    print(header)
    print("|" + "---|" * (len(STORES) + 3))
    rows = [("triples", lambda s: f"{median(s, 'triples'):,.0f}", None),
            ("graph memory (RSS growth)", lambda s: f"{median(s, 'memory') / 2**20:,.0f} MiB",
             lambda: (median("oxigraph", "memory") / median("memory", "memory"),
                      median("oxigraph-disk", "memory") / median("memory", "memory"))),
            ("bytes per triple", lambda s: f"{median(s, 'memory') / median(s, 'triples'):,.0f} B", None),
            ("build (add every triple)", lambda s: f"{median(s, 'build_s'):.2f} s",
             lambda: (median("oxigraph", "build_s") / median("memory", "build_s"),
                      median("oxigraph-disk", "build_s") / median("memory", "build_s")))]
    for name in QUERIES:
        rows.append((f"{name} p50 / p99",
                     lambda s, n=name: f"{median(s, n, 0) * 1e3:.1f} / {median(s, n, 1) * 1e3:.1f} ms"
                                       f" ({median(s, n, 2):.0f} rows)",
                     lambda n=name: (median("oxigraph", n, 0) / median("memory", n, 0),
                                     median("oxigraph-disk", n, 0) / median("memory", n, 0))))
    for label, cell, ratio in rows:
        ratios = ratio() if ratio else None
        print(f"| {label:42s} | " + " | ".join(f"{cell(store):>22s}" for store in STORES)
              + (f" | {ratios[0]:>16.2f}x | {ratios[1]:>12.2f}x |" if ratios else " | | |"))


if __name__ == "__main__":
    main()
