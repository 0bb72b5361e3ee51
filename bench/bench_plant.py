"""Plant-scale figures: build 1,000 machines × 5 components, its RDF graph, SPARQL and roll-up latency.

    .venv/bin/python bench/bench_plant.py [--machines 1000] [--components 5] [--queries 20] [--updates 300]
                                          [--no-freeze]

Prints: description validation and environment build time (shells, submodels, properties),
loading into a Twin, the semantic graph build (triples) and its Turtle serialization,
median/p99 of two hierarchy SPARQL queries, the delay from a machine value update to the
plant-level roll-up (three levels up), and what the following graph costs per value write and
per element added/removed. Times are wall and CPU: the CPU figure is the steadier
one on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import statistics
import time
from typing import Any

from basyx.aas import model

from twinbridge.aas import paths
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import build_environment
from twinbridge.submodels.description import PlantDescription
from twinbridge.submodels.hierarchy import PlantHierarchy
from twinbridge.submodels.rollups import RollupEngine
from twinbridge.submodels.semantic import SemanticGraph

BASE = "https://bench.example.com/plant/"
MANUFACTURERS = ("Krones", "KUKA", "Siemens", "Festo")


def _address(company: str) -> dict[str, str]:
    return {"company": company, "street": "Main street 1", "zip_code": "12345", "city_town": "Town",
            "national_code": "DE"}


def description(machines: int, components: int) -> dict[str, Any]:
    machine_signals = [{"id_short": name, "unit": unit} for name, unit in (
        ("Power", "kW"), ("Temperature", "degC"), ("Availability", "%"), ("SpindleSpeed", "1/min"),
        ("Pressure", "bar"), ("Vibration", "mm/s"), ("Current", "A"), ("Voltage", "V"))]
    component_signals = [{"id_short": "Temperature", "unit": "degC"}, {"id_short": "Vibration", "unit": "mm/s"}]
    lines = []
    per_cell = 10
    cells_total = max(1, machines // per_cell)
    line_count = max(1, cells_total // 10)
    machine_index = 0
    for line in range(line_count):
        cells = []
        for cell in range(cells_total // line_count):
            items = []
            for _ in range(per_cell):
                machine_index += 1
                maker = MANUFACTURERS[machine_index % len(MANUFACTURERS)]
                items.append({
                    "id_short": f"M{machine_index}", "level": "machine", "serial_number": f"SN{machine_index}",
                    "nameplate": {"manufacturer_name": maker, "manufacturer_product_designation": "Machine",
                                  "manufacturer_product_type": "T1", "year_of_construction": 2020,
                                  "order_code_of_manufacturer": f"OC-{machine_index}",
                                  "product_article_number_of_manufacturer": f"AN-{machine_index}",
                                  "address": _address(maker)},
                    "technical_data": {"properties": [
                        {"id_short": f"Rated{n}", "value_type": "xs:double", "value": float(n), "unit": "kW"}
                        for n in range(4)]},
                    "signals": machine_signals,
                    "children": [{
                        "id_short": f"M{machine_index}C{c}", "level": "component", "serial_number": f"C{c}",
                        "signals": component_signals,
                    } for c in range(components)],
                })
            cells.append({"id_short": f"L{line}Cell{cell}", "level": "cell", "children": items,
                          "rollups": [{"id_short": "TotalPower", "function": "sum", "input": "Power"},
                                      {"id_short": "Availability", "function": "mean", "input": "Availability"}]})
        lines.append({"id_short": f"Line{line}", "level": "line", "children": cells,
                      "rollups": [{"id_short": "TotalPower", "function": "sum", "input": "TotalPower"}]})
    return {"base_iri": BASE, "assets": [{
        "id_short": "Plant", "level": "plant", "children": lines,
        "rollups": [{"id_short": "TotalPower", "function": "sum", "input": "TotalPower"}]}]}


def _count_properties(submodels: list[model.Submodel]) -> int:
    count = 0
    for sm in submodels:
        stack: list[model.Referable] = list(sm.submodel_element)
        while stack:
            element = stack.pop()
            count += isinstance(element, model.Property | model.MultiLanguageProperty)
            stack.extend(paths.children(element))
    return count


class _Clock:
    """Wall and CPU time since the last lap: on a shared machine the CPU time is the steadier figure."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> str:
        wall, cpu = time.perf_counter(), time.process_time()
        text = f"{wall - self.wall:.2f} s wall / {cpu - self.cpu:.2f} s CPU"
        self.wall, self.cpu = wall, cpu
        return text


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms (n={len(ordered)})"


MACHINES_OF_LINE = """
SELECT ?id WHERE {
  ?line Referable:idShort "Line2" ; tb:hasPart+ ?m .
  ?m tb:level "machine" ; Identifiable:id ?id ; tb:hasSubmodel ?sm .
  ?sm Referable:idShort "Nameplate" ; Submodel:submodelElements ?e .
  ?e Referable:idShort "ManufacturerName" ; MultiLanguageProperty:value/AbstractLangString:text "KUKA" .
}"""
TEMPERATURES_BELOW_CELL = """
SELECT ?shell ?value WHERE {
  ?cell Referable:idShort "L0Cell3" ; tb:hasPart+ ?shell .
  ?shell tb:hasSubmodel ?sm .
  ?sm Referable:idShort "OperationalData" .
  ?sm (Submodel:submodelElements|SubmodelElementCollection:value)+ ?current .
  ?current Referable:idShort "Current" ; SubmodelElementCollection:value ?t .
  ?t Referable:idShort "Temperature" .
  OPTIONAL { ?t Property:value ?value }
}"""


async def graph_updates(twin: Twin, graph: SemanticGraph, target: tuple[str, str], updates: int) -> None:
    """What the following graph costs per change: a value write (one triple replaced) and an
    element added to a machine's submodel (only that subtree emitted), until the bus is drained."""
    handle = twin.live(*target)
    size = 0
    for label, change in (
        ("value write", lambda step: twin.update(handle, float(step))),
        ("element added and removed", lambda step: (
            twin.add_element(target[0], None, model.Property(f"Extra{step}", model.datatypes.Double, 1.0)),
            twin.delete_element(target[0], f"Extra{step}"))),
    ):
        samples = []
        for step in range(updates):
            started = time.perf_counter()
            change(step)
            await twin.bus.drained()
            samples.append(time.perf_counter() - started)
        print(f"graph following, {label} (incl. roll-ups on the bus): {_percentiles(samples)}")
        size = size or len(graph.graph)
    assert len(graph.graph) == size, "adding and removing an element left triples behind"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--freeze", action=argparse.BooleanOptionalAction, default=True,
                        help="gc.freeze() after the build (default on)")
    args = parser.parse_args()

    raw = description(args.machines, args.components)
    clock = _Clock()
    plant_description = PlantDescription.model_validate(raw)
    plant = build_environment(plant_description)
    print(f"plant built from its description in {clock.lap()}: {len(plant.shells)} shells, "
          f"{len(plant.submodels)} submodels, {_count_properties(plant.submodels)} properties "
          f"(incl. multi-language), {len(plant.concept_descriptions)} concept descriptions")
    twin = Twin()
    plant.load_into(twin)
    print(f"loaded into a Twin (MemoryStore: every document JSON-encoded) in {clock.lap()}")
    hierarchy = PlantHierarchy.from_twin(twin)
    print(f"hierarchy read back from the BoM submodels in {clock.lap()}")
    graph = SemanticGraph(twin, hierarchy)
    graph.build()
    print(f"RDF graph built in {clock.lap()}: {len(graph.graph)} triples")
    turtle = graph.turtle()
    print(f"Turtle serialization in {clock.lap()}: {len(turtle) / 2**20:.0f} MiB")
    del turtle
    if args.freeze:
        # what a server does after start-up: the model lives as long as the process, so full
        # collections (seconds on this heap) need not rescan it
        gc.freeze()

    for name, query in (("machines of Line2 by manufacturer", MACHINES_OF_LINE),
                        ("temperatures below a cell", TEMPERATURES_BELOW_CELL)):
        samples = []
        rows = 0
        for _ in range(args.queries):
            started = time.perf_counter()
            _, body = graph.query(query, 30.0)
            samples.append(time.perf_counter() - started)
            rows = len(json.loads(body)["results"]["bindings"])
        print(f"SPARQL {name} ({rows} rows): {_percentiles(samples)}")

    engine = RollupEngine(twin, hierarchy, plant)
    started = time.perf_counter()
    await engine.start()
    print(f"roll-up engine started ({len(engine.rollups)} roll-ups) in {time.perf_counter() - started:.2f} s")
    await graph.start()
    machine = hierarchy.children(hierarchy.children(hierarchy.children(hierarchy.roots()[0])[0])[0])[0]
    source = twin.live(*plant.signal_target(machine, "Power"))
    target = twin.live(*plant.signal_target(hierarchy.roots()[0], "TotalPower"))
    watch = twin.bus.subscribe()
    delays = []
    for step in range(args.updates):
        watch.drain()
        started = time.perf_counter()
        twin.update(source, float(step + 1))
        while True:
            batch = await watch.next_batch()
            if any(event.element is target for event in batch.values):
                break
        delays.append(time.perf_counter() - started)
    watch.close()
    print(f"plant roll-up (3 levels above the machine) updated after its input changed: {_percentiles(delays)}")
    await graph_updates(twin, graph, plant.signal_target(machine, "Temperature"), args.updates)
    await graph.stop()
    await engine.stop()
    print(f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
