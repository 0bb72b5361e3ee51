"""Bigger than memory: one instance with a bounded cache (``?cache=N``) over a large PostgreSQL store.

COPYs ``--submodels`` submodels of 10 Properties (and ``--shells`` shells, by default one per 10
submodels, each referencing its share of them in order) into a fresh
schema (dropped at the end), starts ``twinbridge serve --store postgresql://…?cache=N`` and
prints its start-up time and RSS, then (wrk, 32 connections, median of ``--rounds``):

- ``GET /submodels/{id}`` over 1,000 ids that fit the cache (the baseline: memory and the
  render cache) and over ``--cold`` ids uniform over the whole store (most of them misses: one
  indexed read and a decode each); the ratio cold/hot;
- ``GET /shells?limit=100``, ``GET /submodels?limit=100``, a ``semanticId`` filter matching
  one submodel in 1,000 and one matching the rest, an ``idShort`` one (pages and filters in
  SQL), which should not grow with the store (2 connections: a page of 100 evicted submodels
  costs 100 JSON round trips);
- value ``PATCH`` of elements of the 1,000 hot submodels (resident: the write alone) and of
  random elements of (mostly evicted) submodels (checked against the stored JSON, one row);
- the shell routes (``measure_shells``; ``--only-shells`` measures only them): one shell by id
  over 1,000 resident ids (their baseline) and over ``--cold`` uniform ids, ``/shells`` pages,
  ``idShort`` and ``assetIds`` filters (one match, and one shell in 100), ``$reference`` pages;
- RSS after all that. wrk waits up to 30 s for an answer (the machine is shared: a 2 s timeout
  failed whole runs). Issue 16's targets: GET p99 ≤ 20 ms and ≥ 2,000 req/s, lists independent
  of the total, RSS ≤ 1 GiB.

    .venv/bin/python bench/bench_postgres_big.py [--submodels 100000] [--cache 10000] [--seconds 5] [--rounds 3]
        [--shells 100000] [--only-shells]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_postgres import API, ELEMENTS, SERVER, b64, paths_script, start, submodel_id
from http_load import Figures, load_average, rss_mib, stop, wrk

HEADERS = {"Authorization": "Bearer bench"}
RARE = "urn:twinbridge:bench:semantic:rare"
COMMON = "urn:twinbridge:bench:semantic"


def shell_number_of(number: int, count: int, shells: int) -> int | None:
    """The shell that submodel ``number`` completes (its last submodel), if any: shell j
    references the ``count // shells`` submodels before it, in order."""
    group = count // shells
    return number // group if number % group == group - 1 else None


def shell_id(number: int) -> str:
    return f"urn:twinbridge:bench:shell:{number}"


def rows(count: int, shells: int) -> Iterator[tuple[str, str, str]]:
    """(kind, id, body) of every document, made as they are copied (1M would not fit as a list)."""
    group = count // shells
    for number in range(count):
        semantic = RARE if number % 1000 == 0 else COMMON
        sm = submodel_id(number)
        yield "submodel", sm, orjson.dumps({
            "modelType": "Submodel", "id": sm, "idShort": f"Machine{number % 100}",
            "semanticId": {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": semantic}]},
            "submodelElements": [{"modelType": "Property", "idShort": f"P{index}", "valueType": "xs:int",
                                  "value": str(index)} for index in range(ELEMENTS)],
        }).decode()
        shell = shell_number_of(number, count, shells)
        if shell is not None:  # idShort and the "line" asset id match 1 shell in 100, the others 1
            yield "shell", shell_id(shell), orjson.dumps({
                "modelType": "AssetAdministrationShell", "id": shell_id(shell), "idShort": f"Shell{shell % 100}",
                "assetInformation": {"assetKind": "Instance",
                                     "globalAssetId": f"urn:twinbridge:bench:asset:{shell}",
                                     "specificAssetIds": [{"name": "serialNumber", "value": f"SN-{shell}"},
                                                          {"name": "line", "value": f"L{shell % 100}"}]},
                "submodels": [{"type": "ModelReference", "keys": [{"type": "Submodel", "value": submodel_id(n)}]}
                              for n in range(number - group + 1, number + 1)],
            }).decode()


def load(schema: str, count: int, shells: int) -> float:
    from twinbridge.aas.store.postgres import PostgresStore
    from twinbridge.aas.store.postgres_schema import StoreUrl

    started = time.perf_counter()
    PostgresStore(StoreUrl(f"{SERVER}?schema={schema}")).close()  # the schema, migrated
    with psycopg.connect(SERVER) as conn:
        conn.execute(f"SET search_path TO {schema}")
        with conn.cursor().copy("COPY documents (kind, id, body) FROM STDIN") as copy:
            for row in rows(count, shells):
                copy.write_row(row)
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        conn.execute("VACUUM ANALYZE documents")
    return time.perf_counter() - started


def measure(base: str, pid: int, count: int, cold: int, seconds: float, rounds: int) -> dict[str, Figures]:
    rng = random.Random(7)
    hot = [f"{API}/submodels/{b64(submodel_id(n))}" for n in rng.sample(range(count), 1_000)]
    uniform = [f"{API}/submodels/{b64(submodel_id(rng.randrange(count)))}" for _ in range(cold)]
    writes = [f"{API}/submodels/{b64(submodel_id(n))}/submodel-elements/P{n % ELEMENTS}/$value"
              for n in (rng.randrange(count) for _ in range(cold))]
    hot_writes = [f"{path}/submodel-elements/P{n % ELEMENTS}/$value" for n, path in enumerate(hot)]
    lists = {
        "GET /shells?limit=100": f"{API}/shells?limit=100",
        "GET /submodels?limit=100": f"{API}/submodels?limit=100",
        "GET /submodels?semanticId=rare&limit=100": f"{API}/submodels?semanticId={b64(RARE)}&limit=100",
        "GET /submodels?semanticId=common&limit=100": f"{API}/submodels?semanticId={b64(COMMON)}&limit=100",
        "GET /submodels?idShort=Machine7&limit=100": f"{API}/submodels?idShort=Machine7&limit=100",
    }
    warm(base, hot)
    runs: dict[str, list[Figures]] = {}
    for _ in range(rounds):
        reads(runs, base, pid, seconds, "submodel", hot, uniform, lists)
        runs.setdefault("PATCH value, 1,000 hot ids", []).append(
            wrk(base + hot_writes[0], seconds, 32, pid, paths_script(hot_writes, "PATCH", ""), 30))
        runs.setdefault("PATCH value, uniform ids", []).append(
            wrk(base + writes[0], seconds, 32, pid, paths_script(writes, "PATCH", ""), 30))
    return {name: Figures.median(figures) for name, figures in runs.items()}


def warm(base: str, hot: list[str]) -> None:
    """Read the hot ids twice: a second read admits an id into the cache (aas.resident)."""
    for _ in range(2):
        for path in hot:
            with urllib.request.urlopen(urllib.request.Request(base + path, headers=HEADERS), timeout=30):
                pass


def reads(runs: dict[str, list[Figures]], base: str, pid: int, seconds: float, what: str, hot: list[str],
          uniform: list[str], lists: dict[str, str]) -> None:
    """One round of single reads (32 connections: the hot ids, then the uniform ones) and of the
    pages (2 connections: a page of evicted objects is 100 row renderings, wrk gives up after 2 s)."""
    runs.setdefault(f"GET {what}, 1,000 hot ids", []).append(
        wrk(base + hot[0], seconds, 32, pid, paths_script(hot), 30))
    runs.setdefault(f"GET {what}, {len(uniform):,} uniform ids", []).append(
        wrk(base + uniform[0], seconds, 32, pid, paths_script(uniform), 30))
    for name, path in lists.items():
        runs.setdefault(name, []).append(wrk(base + path, seconds, 2, pid, paths_script([path]), 30))


def asset(name: str, value: str) -> str:
    return b64(orjson.dumps({"name": name, "value": value}).decode())


def measure_shells(base: str, pid: int, shells: int, cold: int, seconds: float, rounds: int) -> dict[str, Figures]:
    """The shell routes: one shell by id (1,000 hot ids: resident, the baseline; ``cold`` uniform
    ids: mostly rows never read), pages and filters in SQL (2 connections, as the lists above)."""
    rng = random.Random(11)
    hot = [f"{API}/shells/{b64(shell_id(n))}" for n in rng.sample(range(shells), 1_000)]
    uniform = [f"{API}/shells/{b64(shell_id(rng.randrange(shells)))}" for _ in range(cold)]
    some = rng.randrange(shells)
    lists = {
        "GET /shells?limit=100": f"{API}/shells?limit=100",
        "GET /shells?assetIds=serialNumber (1 match)": f"{API}/shells?assetIds={asset('serialNumber', f'SN-{some}')}",
        "GET /shells?assetIds=globalAssetId (1 match)":
            f"{API}/shells?assetIds={asset('globalAssetId', f'urn:twinbridge:bench:asset:{some}')}",
        "GET /shells?assetIds=line (1 in 100)&limit=100": f"{API}/shells?assetIds={asset('line', 'L7')}&limit=100",
        "GET /shells?idShort=Shell7&limit=100": f"{API}/shells?idShort=Shell7&limit=100",
        "GET /shells/$reference?limit=100": f"{API}/shells/$reference?limit=100",
    }
    warm(base, hot)
    runs: dict[str, list[Figures]] = {}
    for _ in range(rounds):
        reads(runs, base, pid, seconds, "shell", hot, uniform, lists)
    return {name: Figures.median(figures) for name, figures in runs.items()}


def report(results: dict[str, Figures]) -> None:
    """Each measure with its ratio to the first (the hot GET of the same run)."""
    print(f"\nload average {load_average()}")
    baseline = results[next(iter(results))].rate
    for name, figures in results.items():
        print(f"{name:46s} {figures}  ratio to hot GET {figures.rate / baseline:4.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submodels", type=int, default=100_000)
    parser.add_argument("--cache", type=int, default=10_000)
    parser.add_argument("--cold", type=int, default=50_000, help="distinct ids of the uniform reads and writes")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shells", type=int, default=None,
                        help="shells (default: one per 10 submodels); each references submodels/shells of them")
    parser.add_argument("--only-shells", action="store_true", help="measure the shell routes only")
    parser.add_argument("--schema", default="bench_big", help="prefix of the schema made (and dropped) for the run")
    args = parser.parse_args()
    count = args.submodels
    shells = args.shells or count // 10
    if count % shells:
        parser.error(f"--shells must divide --submodels ({count:,} by {shells:,})")
    schema = f"{args.schema}_{count}_{int(time.time())}"
    print(f"{count:,} submodels of {ELEMENTS} Properties + {shells:,} shells, cache {args.cache:,};"
          f" load average {load_average()}")
    processes = []
    try:
        print(f"PostgreSQL COPY + VACUUM ANALYZE: {load(schema, count, shells):.1f} s")
        with psycopg.connect(SERVER) as conn:
            size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size(%s))",
                                (f"{schema}.documents",)).fetchone()
        print(f"documents table with its indexes: {size[0] if size else '?'}")
        process, base, took = start(f"{SERVER}?schema={schema}&cache={args.cache}", None)
        processes.append(process)
        print(f"instance started in {took:.1f} s, RSS {rss_mib(process.pid):.0f} MiB")
        if not args.only_shells:
            report(measure(base, process.pid, count, args.cold, args.seconds, args.rounds))
        report(measure_shells(base, process.pid, shells, args.cold, args.seconds, args.rounds))
        print(f"RSS after the load: {rss_mib(process.pid):.0f} MiB")
    finally:
        stop(processes)
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
