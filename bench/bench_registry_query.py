"""Registry queries (``POST /query/shell-descriptors``) over N shell descriptors, SQLite and PostgreSQL.

Loads ``bench_registry``'s descriptors (each with an idShort, a globalAssetId, one serialNumber
specificAssetId and one endpoint on one of 16 hosts) into each store, then times
``RegistryService.query`` -- what the route runs, without HTTP -- for

1. one serial number (``$aasdesc#specificAssetIds[].value $eq``): one match;
2. the shells of one host (``$contains`` on the endpoint's href), ids only, all N/16 of them;

against the naive loop in the same run: every body read from the same store, parsed and asked
with the same evaluator (``query.plan.matcher``). On SQLite the service scans and evaluates
(SQLite has no jsonpath of the language's semantics); on PostgreSQL the condition runs as SQL
(``query.sql``; both conditions compile exactly, so no descriptor is parsed in Python).
A fresh SQLite file and PostgreSQL schema, dropped at the end. Usage:
python bench/bench_registry_query.py [--descriptors 100000] [--runs 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from bench_registry import rows  # the same descriptors as the lookup bench

from twinbridge.query.json_form import parse_query
from twinbridge.query.plan import matcher
from twinbridge.query.resolve import Deadline
from twinbridge.query.syntax import Query, Root
from twinbridge.registry.service import RegistryService
from twinbridge.registry.store import open_descriptor_store


def timed(runs: int, call: Callable[[], object]) -> tuple[float, float, float]:
    """Wall p50, wall p99 and CPU p50 (ms)."""
    call()
    samples, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        samples.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    samples.sort()
    return (statistics.median(samples) * 1e3, samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e3,
            statistics.median(cpu) * 1e3)


def naive(service: RegistryService, query: Query) -> list[str]:
    holds = matcher(query, Root.AASDESC, Deadline(600.0, time.monotonic))
    found, after = [], None
    while True:
        bodies, after = service.store.shells(None, None, after, 5_000)
        found.extend(document["id"] for document in map(orjson.loads, bodies) if holds(document))
        if after is None:
            return found


def run(name: str, url: str, count: int, runs: int) -> None:
    service = RegistryService(open_descriptor_store(url))
    try:
        started = time.perf_counter()
        for start in range(0, count, 50_000):
            service.store.save_shells(rows(start, min(count, start + 50_000)))
        print(f"{name}: {count:,} descriptors loaded in {time.perf_counter() - started:.1f} s")
        queries = {
            "one serial number": (parse_query({"$condition": {"$eq": [
                {"$field": "$aasdesc#specificAssetIds[].value"}, {"$strVal": f"SN-{count // 2}"}]}}), 100),
            "one host's shells, ids": (parse_query({"$select": "id", "$condition": {"$contains": [
                {"$field": "$aasdesc#endpoints[].protocolinformation.href"}, {"$strVal": "//repo-7."}]}}), count),
        }
        for label, (query, limit) in queries.items():
            before = time.perf_counter()
            expected = naive(service, query)
            naive_ms = (time.perf_counter() - before) * 1e3

            def answer(query: Query = query, limit: int = limit) -> list[tuple[str, bytes]]:
                return asyncio.run(service.query(Root.AASDESC, query, None, limit, 600.0))[0]

            assert [identifier for identifier, _ in answer()] == sorted(expected), "query and naive loop disagree"
            p50, p99, cpu = timed(runs, answer)
            print(f"    {label:24} {len(expected):>7,} matches  p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  "
                  f"CPU {cpu:7.1f} ms  naive {naive_ms:8.0f} ms  x{naive_ms / p50:.0f}")
    finally:
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--descriptors", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", default=os.environ.get("TWINBRIDGE_TEST_POSTGRES",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        run("SQLite", f"sqlite:///{Path(directory) / 'registry.sqlite3'}", args.descriptors, args.runs)
    schema = f"bench_registry_query_{os.getpid()}"
    try:
        run("PostgreSQL", f"{args.postgres}?schema={schema}", args.descriptors, args.runs)
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[arg-type]  # our own name
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
