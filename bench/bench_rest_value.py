"""REST read throughput: ``GET .../submodel-elements/{path}/$value`` against a bare FastAPI endpoint.

Starts two uvicorn servers (one worker each, in subprocesses): the twinbridge API over a twin with a
1,000-element submodel whose ``Speed`` Property is live (it has a handle, a quality and a source
timestamp, like a device-fed value), and a bare FastAPI app whose one route returns a constant
JSON value. Both are driven by the same load generator, ``wrk`` (Debian package ``wrk``), in
alternating rounds; the script prints requests/s, p50/p99 latency per round and the medians, the
ratio $value/bare, the throughput of ``GET /submodels/{id}`` (the whole 1,000-element submodel,
served from the revision-keyed cache) and the servers' resident memory. Last, the in-process ASGI
cost per request of both apps (best of 7): a figure that other load on the machine barely moves.

    .venv/bin/python bench/bench_rest_value.py [--rounds 3] [--seconds 8] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

SUBMODEL_ID = "urn:twinbridge:bench:submodel"
ELEMENTS = 1000


def build_app() -> Any:
    from basyx.aas import model

    from twinbridge.aas.twin import Twin
    from twinbridge.server.api.app import create_app
    from twinbridge.server.api.auth import ApiSecurity

    twin = Twin()
    elements: list[model.SubmodelElement] = [model.Property("Speed", model.datatypes.Double, 0.0)]
    per_group = 99
    for group in range(10):
        children = [model.Property(f"P{index}", model.datatypes.Int, index) for index in range(per_group)]
        elements.append(model.SubmodelElementCollection(f"Group{group}", value=children))
    twin.create(model.Submodel(SUBMODEL_ID, id_short="Bench", submodel_element=elements))
    handle = twin.live(SUBMODEL_ID, "Speed")
    twin.update(handle, 1234.5)
    return create_app(twin, security=ApiSecurity(mode="none"))


def build_bare_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/value")
    async def value() -> dict[str, float]:
        return {"Speed": 1234.5}

    return app


def serve(kind: str, port: int) -> None:
    import uvicorn

    app = build_app() if kind == "twin" else build_bare_app()
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(kind: str, probe_path: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port)],
                               cwd=Path(__file__).resolve().parent.parent)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + probe_path, timeout=2) as response:
                if response.status == 200:
                    return process, base
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"the {kind} server did not start") from None
            time.sleep(0.2)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _millis(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float, float]:
    """requests/s, p50 ms, p99 ms of one wrk run."""
    output = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                            capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _millis(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _millis(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors against {url}:\n{output}")
    return rate, p50, p99


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _asgi_cost(app: Any, path: str, requests: int) -> float:
    """Microseconds per request of ``app`` called in-process (no sockets, no HTTP parsing)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"{path} answered {message['status']}")

    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


def asgi_costs(value_path: str, runs: int = 7, requests: int = 2000) -> tuple[float, float]:
    """The best of ``runs`` per-request costs (bare, $value): the minimum filters out noisy neighbours."""
    twin_app, bare_app = build_app(), build_bare_app()
    bare: list[float] = []
    value: list[float] = []
    for _ in range(runs):
        bare.append(asyncio.run(_asgi_cost(bare_app, "/value", requests)))
        value.append(asyncio.run(_asgi_cost(twin_app, value_path, requests)))
    return min(bare), min(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", choices=["twin", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    from twinbridge.server.api.ids import encode_id

    submodel = f"/api/v3.0/submodels/{encode_id(SUBMODEL_ID)}"
    value_path = f"{submodel}/submodel-elements/Speed/$value"
    twin_server, twin_base = start("twin", value_path)
    bare_server, bare_base = start("bare", "/value")
    try:
        with urllib.request.urlopen(twin_base + value_path) as response:
            print(f"$value body: {response.read().decode()}  quality header: "
                  f"{response.headers.get('X-Twinbridge-Quality')}")
        results: dict[str, list[tuple[float, float, float]]] = {"bare": [], "value": [], "submodel": []}
        targets = {"bare": bare_base + "/value", "value": twin_base + value_path, "submodel": twin_base + submodel}
        for round_number in range(1, args.rounds + 1):
            for name, url in targets.items():
                rate, p50, p99 = wrk(url, args.seconds, args.connections)
                results[name].append((rate, p50, p99))
                print(f"round {round_number} {name:9s} {rate:9.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
        print(f"\nmedians over {args.rounds} rounds ({args.seconds} s each, wrk 1 thread, "
              f"{args.connections} connections, one uvicorn worker per server):")
        medians = {name: tuple(statistics.median(run[i] for run in runs) for i in range(3))
                   for name, runs in results.items()}
        for name, (rate, p50, p99) in medians.items():
            print(f"  {name:9s} {rate:9.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
        print(f"  ratio $value / bare FastAPI: {medians['value'][0] / medians['bare'][0]:.2f}")
        print(f"  RSS: twinbridge {rss_mib(twin_server.pid):.0f} MiB, bare {rss_mib(bare_server.pid):.0f} MiB")
        bare_us, value_us = asgi_costs(value_path)
        print(f"in-process ASGI cost per request (best of 7 x 2,000; no HTTP): bare {bare_us:.0f} us, "
              f"$value {value_us:.0f} us, ratio of rates {bare_us / value_us:.2f}")
    finally:
        for process in (twin_server, bare_server):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
