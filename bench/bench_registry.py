"""AAS Registry/Discovery: lookup of shells by asset id over 100,000 and 1,000,000 descriptors.

Loads N shell descriptors (each with a globalAssetId and one specificAssetId ``serialNumber``,
so 2N asset links) into the SQLite descriptor store in bulk, then measures

- the store layer: ``DescriptorStore.lookup`` of one random asset id (p50/p99, CPU time);
- over HTTP: ``GET /lookup/shells?assetIds=…`` from ``twinbridge registry`` serving the loaded
  file in its own process (one keep-alive httpx client: per-request latency, not peak
  throughput), and ``GET /shell-descriptors/{id}`` for comparison, with the server's CPU time;

at the small size first (the baseline of the ratio) and at the large one. Prints load time,
database size and the process's max RSS. SQLite by default; ``--postgresql URL`` measures the
PostgreSQL store instead. Usage: python bench/bench_registry.py [small] [large] [lookups] [--postgresql URL]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import psycopg

from twinbridge.registry.store import Link, ShellRow, open_descriptor_store
from twinbridge.registry.store_postgres import split_url

_BATCH = 50_000


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def rows(start: int, stop: int) -> Iterator[ShellRow]:
    """Descriptors as the feeder writes them (built as JSON directly: pydantic per row would
    measure the generator, not the store)."""
    for number in range(start, stop):
        identifier = f"urn:bench:shell:{number}"
        global_id, serial = f"urn:bench:asset:{number}", f"SN-{number}"
        document = {
            "id": identifier, "idShort": f"Shell{number}", "assetKind": "Instance", "globalAssetId": global_id,
            "specificAssetIds": [{"name": "serialNumber", "value": serial}],
            "endpoints": [{"interface": "AAS-3.0", "protocolInformation": {
                "href": f"http://repo-{number % 16}.example.com/api/v3.0/shells/{b64(identifier)}",
                "endpointProtocol": "HTTP", "endpointProtocolVersion": ["1.1"]}}],
        }
        links = [Link("globalAssetId", global_id, orjson.dumps({"name": "globalAssetId", "value": global_id})),
                 Link("serialNumber", serial, orjson.dumps({"name": "serialNumber", "value": serial}))]
        yield ShellRow(identifier, "Instance", None, orjson.dumps(document), links)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1e3, ordered[int(len(ordered) * 0.99)] * 1e3


def store_lookups(service_lookup: Callable[[list[tuple[str, str]]], object], total: int,
                  count: int) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, CPU µs per lookup) of random single-asset-id lookups."""
    chooser = random.Random(7)
    latencies = []
    cpu = time.process_time()
    for _ in range(count):
        number = chooser.randrange(total)
        pair = ("serialNumber", f"SN-{number}") if number % 2 else ("globalAssetId", f"urn:bench:asset:{number}")
        before = time.perf_counter()
        found = service_lookup([pair])
        latencies.append(time.perf_counter() - before)
        assert found, pair
    p50, p99 = percentiles(latencies)
    return p50, p99, (time.process_time() - cpu) / count * 1e6


def http_lookups(base: str, total: int, count: int) -> dict[str, tuple[float, float]]:
    chooser = random.Random(11)
    results: dict[str, list[float]] = {"lookup": [], "descriptor": []}
    with httpx.Client(base_url=base) as client:
        for _ in range(count):
            number = chooser.randrange(total)
            asset = b64(orjson.dumps({"name": "serialNumber", "value": f"SN-{number}"}).decode())
            before = time.perf_counter()
            response = client.get("/lookup/shells", params={"assetIds": asset})
            results["lookup"].append(time.perf_counter() - before)
            assert response.json()["result"] == [f"urn:bench:shell:{number}"], response.text
            before = time.perf_counter()
            response = client.get(f"/shell-descriptors/{b64(f'urn:bench:shell:{number}')}")
            results["descriptor"].append(time.perf_counter() - before)
            assert response.status_code == 200
    return {name: percentiles(samples) for name, samples in results.items()}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_registry(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """``twinbridge registry`` on the loaded store, in its own process (as deployed: the client's
    GIL is not the server's)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "twinbridge.server.cli", "registry", "--port", str(port),
                                "--store", url, "--log-level", "WARNING"], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api/v3.0"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/description", timeout=1).raise_for_status()
            return process, base
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the registry did not start") from None
            time.sleep(0.1)


def database_megabytes(directory: Path, postgres: str | None) -> float:
    if postgres is None:
        return sum(p.stat().st_size for p in directory.iterdir()) / 2**20
    conninfo, schema = split_url(postgres)
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                           "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'", (schema,)).fetchone()
    return float(row[0] or 0) / 2**20 if row else 0.0


def run(directory: Path, sizes: list[int], lookups: int, postgres: str | None) -> None:
    path = directory / "registry.sqlite3"
    url = f"sqlite:///{path}" if postgres is None else postgres
    store = open_descriptor_store(url)
    loaded = 0
    baseline: float | None = None
    for size in sizes:
        started = time.perf_counter()
        while loaded < size:
            end = min(size, loaded + _BATCH)
            store.save_shells(rows(loaded, end))
            loaded = end
        load_s = time.perf_counter() - started
        in_store = store_lookups(lambda pairs: store.lookup(pairs, None, 10)[0], size, lookups * 5)
        megabytes = database_megabytes(directory, postgres)
        baseline = baseline or in_store[1]
        print(f"{size:>9,} descriptors: loaded in {load_s:6.1f} s (cumulative), {megabytes:6.0f} MiB on disk")
        print(f"    store lookup by asset id: p50 {in_store[0]:.3f} ms  p99 {in_store[1]:.3f} ms  "
              f"CPU {in_store[2]:.0f} µs/lookup  (p99 x{in_store[1] / baseline:.2f} the smallest size's)")
        process, base = start_registry(url)
        try:
            cpu = cpu_seconds(process.pid)
            http = http_lookups(base, size, lookups)
            server_cpu_ms = (cpu_seconds(process.pid) - cpu) / (2 * lookups) * 1e3
        finally:
            process.terminate()
            process.wait(10)
        print(f"    HTTP GET /lookup/shells:  p50 {http['lookup'][0]:.2f} ms  p99 {http['lookup'][1]:.2f} ms")
        print(f"    HTTP GET /shell-descriptors/{{id}}: p50 {http['descriptor'][0]:.2f} ms  "
              f"p99 {http['descriptor'][1]:.2f} ms  (server CPU {server_cpu_ms:.2f} ms/request)")
    store.close()
    print(f"bench process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("small", type=int, nargs="?", default=100_000)
    parser.add_argument("large", type=int, nargs="?", default=1_000_000)
    parser.add_argument("lookups", type=int, nargs="?", default=2_000)
    parser.add_argument("--postgresql", metavar="URL", help="measure the PostgreSQL store at this database "
                        "(a schema of its own, dropped afterwards), e.g. postgresql://postgres@127.0.0.1/test")
    args = parser.parse_args()
    postgres = None
    if args.postgresql:
        postgres = f"{args.postgresql}{'&' if '?' in args.postgresql else '?'}schema=bench_registry_{os.getpid()}"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-registry-") as directory:
            run(Path(directory), [args.small, args.large], args.lookups, postgres)
    finally:
        if postgres is not None:
            conninfo, schema = split_url(postgres)
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
