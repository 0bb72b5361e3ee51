"""Instances on a shared PostgreSQL store, against the same data on SQLite in the same run.

Loads ``--submodels N`` submodels of 10 Properties (and N shells, one per submodel) straight
into a fresh PostgreSQL schema (COPY, not through the API) and into a SQLite file, starts two
``twinbridge serve --store postgresql://…`` processes (A, B) and one on the SQLite file, and
prints for each: start-up time and RSS, ``GET /submodels/{id}`` over 1,000 different ids and
``GET /shells?limit=100`` (wrk), value ``PATCH`` of random elements (wrk), and for PostgreSQL
how long a value written on A takes to be visible on B (p50/p99 over 200 writes). The SQLite
instance and A take turns round by round (alternating which goes first), so both see the same
load on a shared machine; each figure is the median of ``--rounds`` with every round's rate
and the server's CPU seconds per run beside it. Ratios are PostgreSQL/SQLite.
Issue 16's targets: GET p99 ≤ 20 ms and ≥ 2,000 req/s per instance,
/shells independent of N, RSS ≤ 1 GiB, PATCH ≥ 2,000/s, A→B p99 ≤ 200 ms.

The history journal is off unless ``--journal``: it fsyncs on the event loop (~8 ms a batch on
this machine), which caps value writes for every store alike; this measures the store.

    .venv/bin/python bench/bench_postgres.py [--submodels 10000] [--seconds 5] [--rounds 3] [--journal]
"""

from __future__ import annotations

import argparse
import base64
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_load import ROOT, Figures, cpu_seconds, free_port, load_average, rss_mib, stop, wrk

SERVER = "postgresql://postgres@127.0.0.1:5432/test"
API = "/api/v3.0"
ELEMENTS = 10


def b64(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def submodel_id(number: int) -> str:
    return f"urn:twinbridge:bench:sm:{number}"


def documents(count: int) -> tuple[list[bytes], list[bytes]]:
    submodels, shells = [], []
    for number in range(count):
        sm = submodel_id(number)
        submodels.append(orjson.dumps({
            "modelType": "Submodel", "id": sm, "idShort": f"Machine{number}",
            "semanticId": {"type": "ExternalReference",
                           "keys": [{"type": "GlobalReference", "value": "urn:twinbridge:bench:semantic"}]},
            "submodelElements": [{"modelType": "Property", "idShort": f"P{index}", "valueType": "xs:int",
                                  "value": str(index)} for index in range(ELEMENTS)],
        }))
        shells.append(orjson.dumps({
            "modelType": "AssetAdministrationShell", "id": f"urn:twinbridge:bench:shell:{number}",
            "idShort": f"Shell{number}",
            "assetInformation": {"assetKind": "Instance", "globalAssetId": f"urn:twinbridge:bench:asset:{number}"},
            "submodels": [{"type": "ModelReference", "keys": [{"type": "Submodel", "value": sm}]}],
        }))
    return submodels, shells


def load_postgres(schema: str, submodels: list[bytes], shells: list[bytes]) -> float:
    from twinbridge.aas.store.postgres import PostgresStore
    from twinbridge.aas.store.postgres_schema import StoreUrl

    started = time.perf_counter()
    PostgresStore(StoreUrl(f"{SERVER}?schema={schema}")).close()  # the schema, migrated
    with psycopg.connect(SERVER) as conn:
        conn.execute(f"SET search_path TO {schema}")
        with conn.cursor().copy("COPY documents (kind, id, body) FROM STDIN") as copy:
            for kind, bodies in (("shell", shells), ("submodel", submodels)):
                for body in bodies:
                    copy.write_row((kind, orjson.loads(body)["id"], body.decode()))
        conn.execute("ANALYZE documents")  # this schema's: the whole database takes a lock per table of every schema
    return time.perf_counter() - started


def load_sqlite(path: Path, submodels: list[bytes], shells: list[bytes]) -> None:
    from twinbridge.aas.store.sqlite import SqliteStore

    SqliteStore(path).close()
    db = sqlite3.connect(path)
    with db:
        db.executemany("INSERT INTO documents (kind, id, body) VALUES (?, ?, ?)",
                       [("shell", orjson.loads(body)["id"], body) for body in shells]
                       + [("submodel", orjson.loads(body)["id"], body) for body in submodels])
    db.close()


def start(store: str, config: Path | None) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "twinbridge.server.cli", "serve", "--memory", "--store", store, "--port", str(port),
         "--no-opcua", "--token", "bench", "--log-level", "WARNING", *(["--config", str(config)] if config else [])],
        cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{base}{API}/shells?limit=1", timeout=5):
                return process, base, time.monotonic() - started
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"the instance on {store} exited") from None
            time.sleep(0.5)


def paths_script(paths: list[str], method: str = "GET", body: str | None = None) -> str:
    """wrk Lua cycling through ``paths`` (a PATCH sends ``body`` with a counter)."""
    listed = ",".join(f'"{path}"' for path in paths)
    send = (f'wrk.format("{method}", paths[i], headers, "{body}" .. (n % 100000))' if body is not None
            else f'wrk.format("{method}", paths[i], headers)')
    return f"""
local paths = {{{listed}}}
local headers = {{["Authorization"] = "Bearer bench", ["Content-Type"] = "application/json"}}
local n = 0
request = function()
  n = n + 1
  local i = (n % #paths) + 1
  return {send}
end
"""


TESTS = ("GET submodel", "GET /shells?limit=100", "PATCH value", "PATCH value, 128 conn.")


@dataclass
class Runs:
    """Every round's figures of one test on one instance, and the server's CPU seconds per run."""

    figures: list[Figures] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    def line(self) -> str:
        median = Figures.median(self.figures)
        rates = " / ".join(f"{f.rate:.0f}" for f in self.figures)
        return f"{median}  CPU {statistics.median(self.cpu_s):5.2f} s/run  (rounds: {rates} req/s)"


def one_round(base: str, pid: int, count: int, seconds: float, runs: dict[str, Runs]) -> None:
    """Each test once against one instance (wrk, 32 connections unless named)."""
    rng = random.Random(7)
    picks = [rng.randrange(count) for _ in range(1_000)]
    reads = [f"{API}/submodels/{b64(submodel_id(n))}" for n in picks]
    writes = [f"{API}/submodels/{b64(submodel_id(n))}/submodel-elements/P{n % ELEMENTS}/$value" for n in picks]
    shells = f"{API}/shells?limit=100"
    plan = {"GET submodel": (reads[0], 32, paths_script(reads)),
            "GET /shells?limit=100": (shells, 32, paths_script([shells])),
            "PATCH value": (writes[0], 32, paths_script(writes, "PATCH", "")),
            # more clients, bigger group commits: the write rate follows the concurrency
            "PATCH value, 128 conn.": (writes[0], 128, paths_script(writes, "PATCH", ""))}
    for name in TESTS:
        path, connections, script = plan[name]
        cpu = cpu_seconds(pid)
        runs[name].figures.append(wrk(base + path, seconds, connections, pid, script))
        runs[name].cpu_s.append(cpu_seconds(pid) - cpu)


def visibility(a: str, b: str, samples: int = 200) -> tuple[float, float]:
    """p50/p99 ms from a value PATCH acknowledged by A until B serves it."""
    path = f"{API}/submodels/{b64(submodel_id(0))}/submodel-elements/P0/$value"
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
    delays = []
    for value in range(1_000_000, 1_000_000 + samples):
        request = urllib.request.Request(a + path, data=str(value).encode(), method="PATCH", headers=headers)
        urllib.request.urlopen(request, timeout=10).close()
        acknowledged = time.perf_counter()
        while True:
            with urllib.request.urlopen(urllib.request.Request(b + path, headers=headers), timeout=10) as response:
                if orjson.loads(response.read())["P0"] == value:
                    break
            time.sleep(0.001)
        delays.append((time.perf_counter() - acknowledged) * 1000)
    delays.sort()
    return statistics.median(delays), delays[int(len(delays) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submodels", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite baseline")
    parser.add_argument("--journal", action="store_true",
                        help="keep the history journal on (it fsyncs on the event loop: ~8 ms per write batch)")
    args = parser.parse_args()
    count = args.submodels
    schema = f"bench_{count}_{int(time.time())}"
    print(f"{count:,} submodels of {ELEMENTS} Properties + {count:,} shells; load average {load_average()}")
    made = time.perf_counter()
    submodels, shells = documents(count)
    print(f"documents made in {time.perf_counter() - made:.1f} s")
    print(f"PostgreSQL COPY: {load_postgres(schema, submodels, shells):.1f} s")
    store = f"{SERVER}?schema={schema}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            config = None
            if not args.journal:
                config = Path(scratch) / "plant.yaml"
                config.write_text("server:\n  history:\n    journal: false\n")
            print(f"history journal {'on' if args.journal else 'off'}")
            instances: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
            if not args.no_sqlite:
                sqlite_file = Path(scratch) / "bench.sqlite3"
                load_sqlite(sqlite_file, submodels, shells)
                process, base, took = start(f"sqlite://{sqlite_file}", config)
                processes.append(process)
                instances["sqlite"] = (process, base)
                print(f"SQLite instance started in {took:.1f} s, RSS {rss_mib(process.pid):.0f} MiB")
            del submodels, shells
            a, base_a, took_a = start(store, config)
            processes.append(a)
            b, base_b, took_b = start(store, config)
            processes.append(b)
            instances["postgresql"] = (a, base_a)
            print(f"PostgreSQL instances started in {took_a:.1f} s and {took_b:.1f} s, "
                  f"RSS {rss_mib(a.pid):.0f} / {rss_mib(b.pid):.0f} MiB")
            # the instances take turns round by round (the same load for both), and the order
            # alternates, so neither always runs right after the other's write burst
            results = {name: {test: Runs() for test in TESTS} for name in instances}
            for round_ in range(args.rounds):
                print(f"round {round_ + 1}: load average {load_average()}", flush=True)
                order = list(instances) if round_ % 2 == 0 else list(reversed(instances))
                for name in order:
                    process, base = instances[name]
                    one_round(base, process.pid, count, args.seconds, results[name])
            p50, p99 = visibility(base_a, base_b)
            print(f"\nload average {load_average()}; medians of {args.rounds} rounds of {args.seconds:g} s")
            for test in TESTS:
                print(f"{test:23s} postgresql {results['postgresql'][test].line()}")
                if "sqlite" in results:
                    ratio = (Figures.median(results["postgresql"][test].figures).rate
                             / Figures.median(results["sqlite"][test].figures).rate)
                    print(f"{'':23s} sqlite     {results['sqlite'][test].line()}  ratio {ratio:4.2f}")
            print(f"RSS after the load: postgresql A {rss_mib(a.pid):.0f} MiB, B {rss_mib(b.pid):.0f} MiB"
                  + (f", sqlite {rss_mib(instances['sqlite'][0].pid):.0f} MiB" if "sqlite" in instances else ""))
            print(f"A -> B visible: p50 {p50:.1f} ms  p99 {p99:.1f} ms (200 value writes)")
    finally:
        stop(processes)
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
