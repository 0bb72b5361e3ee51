"""What running each SPARQL query in a forked child costs (``submodels/sparql_worker.py``).

    .venv/bin/python bench/bench_sparql_fork.py [--machines 1000] [--components 5] [--queries 20] [--ship]

Builds the bench plant's graph, then for two queries prints the median/p99 latency in-process
(``SemanticGraph.query``, the baseline, under the lock) and in a forked child
(``SparqlWorkers.run``), their ratio, how long ``os.fork`` itself blocks the event loop (page
tables: grows with the RSS), and the largest event-loop stall a 1 ms ticker saw meanwhile.

``--ship`` weighs a pre-started pool (forkserver or spawn) instead: such a worker does not share
the server's pages, so the graph must reach it. It prints what sending the built graph once
costs (pickling it in the server, and loading it in a spawned process), the price of every
refresh, and of every worker a time limit kills.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import pickle
import resource
import statistics
import time

from bench_plant import MACHINES_OF_LINE, description

from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import build_environment
from twinbridge.submodels.description import PlantDescription
from twinbridge.submodels.hierarchy import PlantHierarchy
from twinbridge.submodels.semantic import SemanticGraph
from twinbridge.submodels.sparql_worker import SparqlWorkers

ASK = 'ASK { ?s tb:level "cell" }'


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _ticker(stalls: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        stalls.append(now - last - 0.001)
        last = now


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--ship", action="store_true", help="the cost of sending the graph to a spawned worker")
    args = parser.parse_args()

    plant = build_environment(PlantDescription.model_validate(description(args.machines, args.components)))
    twin = Twin()
    plant.load_into(twin)
    graph = SemanticGraph(twin, PlantHierarchy.from_twin(twin))
    graph.build()
    gc.freeze()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.machines} machines: {len(graph.graph)} triples, max RSS {rss:.0f} MiB")

    if args.ship:
        _ship(graph.graph)
        return
    forks = []
    for _ in range(args.queries):
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        forks.append(time.perf_counter() - started)
        os.waitpid(pid, 0)
    median, p99 = _stats(forks)
    print(f"os.fork alone: median {median * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")

    workers = SparqlWorkers(limit=1)
    for name, query in (("ASK cell", ASK), ("machines of Line2", MACHINES_OF_LINE)):
        inline = []
        for _ in range(args.queries):
            started = time.perf_counter()
            graph.query(query, 30.0)
            inline.append(time.perf_counter() - started)
        forked = []
        stalls: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(stalls, stop))
        for _ in range(args.queries):
            started = time.perf_counter()
            deadline = time.monotonic() + 30.0
            await workers.run(lambda q=query, d=deadline: graph.evaluate_unlocked(q, d), 30.0)  # type: ignore[misc]
            forked.append(time.perf_counter() - started)
        stop.set()
        await ticker
        (in_median, in_p99), (fork_median, fork_p99) = _stats(inline), _stats(forked)
        print(f"SPARQL {name}: in-process median {in_median * 1e3:.1f} ms p99 {in_p99 * 1e3:.1f} ms; "
              f"forked median {fork_median * 1e3:.1f} ms p99 {fork_p99 * 1e3:.1f} ms "
              f"(ratio {fork_median / in_median:.2f}); largest event-loop stall {max(stalls) * 1e3:.1f} ms")


def _load(data: bytes) -> float:
    """In a spawned worker: unpickle the graph; the seconds it took (CPU: a worker has a core)."""
    started = time.process_time()
    pickle.loads(data)
    return time.process_time() - started


def _ship(graph: object) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    data = pickle.dumps(graph, protocol=pickle.HIGHEST_PROTOCOL)
    dumped, dumped_cpu = time.perf_counter() - started, time.process_time() - cpu
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        loaded_cpu = pool.apply(_load, (data,))
    print(f"ship the graph to a spawned worker: pickle {len(data) / 2**20:.0f} MiB in {dumped:.2f} s "
          f"({dumped_cpu:.2f} CPU-s, the server's event loop blocked meanwhile); unpickle in the worker "
          f"{loaded_cpu:.2f} CPU-s")


if __name__ == "__main__":
    asyncio.run(main())
