"""AAS Repository over real HTTP: requests/s and latency of shell reads and writes.

Serves a twin with N shells through uvicorn (one worker, as deployed) and drives it with
one keep-alive httpx client, so the figures are per-connection latency, not peak throughput.
Prints medians of the runs. Usage: python bench/bench_rest_shells.py [shells] [requests] [runs]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from collections.abc import Callable

import httpx
import uvicorn
from basyx.aas import model

from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.server.api.ids import encode_id


def build_twin(count: int) -> Twin:
    twin = Twin()
    for number in range(count):
        info = model.AssetInformation(
            global_asset_id=f"urn:bench:asset:{number}",
            specific_asset_id={model.SpecificAssetId("serialNumber", f"SN-{number}")},
        )
        submodels = {model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, f"urn:bench:sm:{number}:{i}"),),
                                          model.Submodel) for i in range(5)}
        twin.create(model.AssetAdministrationShell(info, f"urn:bench:shell:{number}", id_short=f"Shell{number}",
                                                   submodel=submodels))
    return twin


def serve(twin: Twin) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(twin), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}/api/v3.0"


def measure(requests: int, call: Callable[[int], httpx.Response]) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms)."""
    latencies = []
    started = time.perf_counter()
    for number in range(requests):
        before = time.perf_counter()
        response = call(number)
        latencies.append(time.perf_counter() - before)
        if response.status_code >= 300:
            raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
    elapsed = time.perf_counter() - started
    latencies.sort()
    return requests / elapsed, latencies[len(latencies) // 2] * 1e3, latencies[int(len(latencies) * 0.99)] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description="AAS repository routes over real HTTP, one keep-alive client")
    parser.add_argument("--shells", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    shells, requests, runs = args.shells, args.requests, args.runs
    twin = build_twin(shells)
    server, thread, base = serve(twin)
    ids = [encode_id(f"urn:bench:shell:{n}") for n in range(shells)]
    scenarios: dict[str, Callable[[httpx.Client], Callable[[int], httpx.Response]]] = {
        "GET /shells/{id}": lambda c: lambda n: c.get(f"/shells/{ids[n % shells]}"),
        "GET /shells?limit=100 (paged)": lambda c: lambda n: c.get("/shells", params={"limit": "100"}),
        "GET /shells?assetIds=... (filter)": lambda c: lambda n: c.get(
            "/shells", params={"assetIds": encode_id(f'{{"name":"serialNumber","value":"SN-{n % shells}"}}')}),
        "PUT /shells/{id}/asset-information": lambda c: lambda n: c.put(
            f"/shells/{ids[n % shells]}/asset-information",
            json={"assetKind": "Instance", "globalAssetId": f"urn:bench:asset:{n % shells}"}),
    }
    print(f"twinbridge REST shells benchmark: {shells} shells, {requests} requests x {runs} runs, one client")
    try:
        with httpx.Client(base_url=base) as client:
            for name, make in scenarios.items():
                call = make(client)
                measure(min(50, requests), call)
                results = [measure(requests, call) for _ in range(runs)]
                rate = statistics.median(r[0] for r in results)
                p50 = statistics.median(r[1] for r in results)
                p99 = statistics.median(r[2] for r in results)
                print(f"  {name:40s} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
