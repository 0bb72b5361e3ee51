"""REST value writes over real HTTP: ``PATCH .../$value`` and ``PUT`` of a Property.

Starts one twinbridge server (uvicorn, one worker, in a subprocess) whose twin holds a 20-element
and a 1,000-element submodel (each: one Property and collections of Int Properties; the written
Property sits at the same depth in both), with the SQLite store by default so that every answer
is durable (the API answers a write once ``twin.persisted()`` covers it). ``wrk`` drives it with
1 and 32 keep-alive connections, in alternating rounds, every request writing a new value. Prints
requests/s, p50/p99 per round and the medians, and the ratio 1,000-element / 20-element (issue 8:
≥ 0.8; and ≥ 3,000 writes/s with 32 connections). A bare Starlette endpoint that answers a PATCH
with 204 (its own uvicorn worker, same wrk) is measured in the same rounds: the ceiling of
HTTP on this machine under its current load.

    .venv/bin/python bench/bench_rest_writes.py [--rounds 3] [--seconds 5] [--store sqlite|memory]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_load import Figures, load_average, rss_mib, start_server, stop, writes_script, wrk

SMALL, BIG = "urn:twinbridge:bench:small", "urn:twinbridge:bench:big"
TARGET = "Group0.P10"


def build_twin(store_url: str) -> object:
    from basyx.aas import model

    from twinbridge.aas.store import open_store
    from twinbridge.aas.twin import Twin

    twin = Twin(open_store(store_url))
    for identifier, groups, per_group in ((SMALL, 1, 19), (BIG, 10, 99)):
        elements: list[model.SubmodelElement] = [model.Property("Speed", model.datatypes.Double, 0.0)]
        for group in range(groups):
            children = [model.Property(f"P{index}", model.datatypes.Int, index) for index in range(per_group)]
            elements.append(model.SubmodelElementCollection(f"Group{group}", value=children))
        twin.create(model.Submodel(identifier, id_short="Bench", submodel_element=elements))
    return twin


def serve(store: str, port: int) -> None:
    import uvicorn

    from twinbridge.aas.twin import Twin
    from twinbridge.server.api.app import create_app
    from twinbridge.server.api.auth import ApiSecurity

    with tempfile.TemporaryDirectory(prefix="bench-writes-") as scratch:
        url = "memory:" if store == "memory" else f"sqlite://{Path(scratch).resolve()}/store.sqlite3"
        twin = build_twin(url)
        assert isinstance(twin, Twin)
        twin.wait_persisted()
        uvicorn.run(create_app(twin, security=ApiSecurity(mode="none")), host="127.0.0.1", port=port,
                    workers=1, log_level="warning", access_log=False)


def serve_bare(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def accept(request: Request) -> Response:
        await request.body()
        return Response(status_code=204)

    app = Starlette(routes=[Route("/value", accept, methods=["GET", "PATCH"])])
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def element_path(submodel_id: str) -> str:
    from twinbridge.server.api.ids import encode_id

    return f"/api/v3.0/submodels/{encode_id(submodel_id)}/submodel-elements/{TARGET}"


def put_script(base: str, path: str) -> str:
    """A PUT of the element's own JSON with a new lexical value (a value-only change)."""
    with urllib.request.urlopen(base + path) as response:
        body = json.loads(response.read())
    body.pop("value")
    prefix = json.dumps(body, separators=(",", ":"))[:-1] + ',"value":"'
    return writes_script("PUT", path, prefix, '"}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "bare":
        serve_bare(args.port)
        return
    if args.serve:
        serve(args.serve, args.port)
        return

    small, big = element_path(SMALL), element_path(BIG)
    server, base = start_server(__file__, [args.store], small)
    bare, bare_base = start_server(__file__, ["bare"], "/value")
    try:
        scenarios = {
            ("PATCH bare", "-"): writes_script("PATCH", "/value", "", ""),
            ("PATCH $value", "20"): writes_script("PATCH", small + "/$value", "", ""),
            ("PATCH $value", "1000"): writes_script("PATCH", big + "/$value", "", ""),
            ("PUT element", "20"): put_script(base, small),
            ("PUT element", "1000"): put_script(base, big),
        }
        runs: dict[tuple[str, str, int], list[Figures]] = {}
        print(f"REST value writes: one uvicorn worker, store {args.store}, wrk 1 thread; "
              f"load average before: {load_average()}")
        for round_number in range(1, args.rounds + 1):
            for connections in (1, 32):
                for (kind, size), lua in scenarios.items():
                    target, pid = (bare_base, bare.pid) if size == "-" else (base, server.pid)
                    figures = wrk(target, args.seconds, connections, pid, lua)
                    runs.setdefault((kind, size, connections), []).append(figures)
                    label = "" if size == "-" else f"{size}-element"
                    print(f"round {round_number}  {kind:12s} {label:>12s}  c={connections:<2d} {figures}")
        with urllib.request.urlopen(base + big + "/$value") as response:
            print(f"last value written to the 1,000-element submodel: {response.read().decode()}")
        print(f"\nmedians over {args.rounds} rounds of {args.seconds:g} s (load average now: {load_average()}):")
        for connections in (1, 32):
            bare_figures = Figures.median(runs[("PATCH bare", "-", connections)])
            print(f"  bare Starlette PATCH c={connections:<2d} {bare_figures}")
        for kind in ("PATCH $value", "PUT element"):
            for connections in (1, 32):
                small_figures = Figures.median(runs[(kind, "20", connections)])
                big_figures = Figures.median(runs[(kind, "1000", connections)])
                print(f"  {kind:12s} c={connections:<2d}   20-element {small_figures}")
                print(f"  {kind:12s} c={connections:<2d} 1000-element {big_figures}")
                print(f"  {'':12s}        ratio 1000/20: rate {big_figures.rate / small_figures.rate:.2f}, "
                      f"CPU per request {small_figures.cpu_us / big_figures.cpu_us:.2f}")
        print(f"  server RSS: {rss_mib(server.pid):.0f} MiB")
    finally:
        stop([server, bare])


if __name__ == "__main__":
    main()
