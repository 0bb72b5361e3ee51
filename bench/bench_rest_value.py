"""REST read throughput: ``GET .../submodel-elements/{path}/$value`` against a bare FastAPI endpoint.

Starts two uvicorn servers (one worker each, in subprocesses): the twinbridge API over a twin with a
1,000-element submodel whose ``Speed`` Property is live (it has a handle, a quality and a source
timestamp, like a device-fed value), and a bare FastAPI app whose one route returns a constant
JSON value. Both are driven by the same load generator, ``wrk`` (``http_load``), in alternating
rounds; the script prints requests/s, p50/p99 latency and the server's CPU per request for each
round and the medians, the ratio $value/bare, the throughput of ``GET /submodels/{id}`` (the
whole 1,000-element submodel, served from the revision-keyed cache) and the servers' resident
memory. Last, the in-process ASGI cost per request of both apps (best of 7): a figure that other
load on the machine barely moves.

    .venv/bin/python bench/bench_rest_value.py [--rounds 3] [--seconds 8] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import urllib.request
from typing import Any

from http_load import Figures, rss_mib, start_server, stop, wrk  # the script's folder is on sys.path

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
    twin_server, twin_base = start_server(__file__, ["twin"], value_path, timeout_s=60)
    bare_server, bare_base = start_server(__file__, ["bare"], "/value", timeout_s=60)
    try:
        with urllib.request.urlopen(twin_base + value_path) as response:
            print(f"$value body: {response.read().decode()}  quality header: "
                  f"{response.headers.get('X-Twinbridge-Quality')}")
        results: dict[str, list[Figures]] = {"bare": [], "value": [], "submodel": []}
        targets = {"bare": (bare_base + "/value", bare_server), "value": (twin_base + value_path, twin_server),
                   "submodel": (twin_base + submodel, twin_server)}
        for round_number in range(1, args.rounds + 1):
            for name, (url, server) in targets.items():
                results[name].append(wrk(url, args.seconds, args.connections, server.pid))
                print(f"round {round_number} {name:9s} {results[name][-1]}")
        print(f"\nmedians over {args.rounds} rounds ({args.seconds} s each, wrk 1 thread, "
              f"{args.connections} connections, one uvicorn worker per server):")
        medians = {name: Figures.median(runs) for name, runs in results.items()}
        for name, figures in medians.items():
            print(f"  {name:9s} {figures}")
        print(f"  ratio $value / bare FastAPI: {medians['value'].rate / medians['bare'].rate:.2f}")
        print(f"  RSS: twinbridge {rss_mib(twin_server.pid):.0f} MiB, bare {rss_mib(bare_server.pid):.0f} MiB")
        bare_us, value_us = asgi_costs(value_path)
        print(f"in-process ASGI cost per request (best of 7 x 2,000; no HTTP): bare {bare_us:.0f} us, "
              f"$value {value_us:.0f} us, ratio of rates {bare_us / value_us:.2f}")
    finally:
        stop([twin_server, bare_server])

if __name__ == "__main__":
    main()
