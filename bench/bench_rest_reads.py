"""REST reads over real HTTP against a bare Starlette endpoint returning the same bytes.

Three servers, each one uvicorn worker in its own process: twinbridge over a twin with 100 shells
and a 1,000-element submodel, twinbridge with 10,000 shells (same submodel), and a bare
Starlette app whose routes return, as constants, the bytes twinbridge answered for one shell,
one element and the whole submodel. ``wrk`` drives them in alternating rounds. Printed:
requests/s and p50/p99 of GET one shell / one element / one submodel, each with its ratio to
the bare endpoint (issue 8: reads at least as fast as the basyx-python server, which the issue
measured at 0.57x / 0.45x of us before), and ``GET /shells?limit=100`` and an ``assetIds``
filter at 100 vs 10,000 shells (the ratio should be ~1: paging and filters use indexes).

    .venv/bin/python bench/bench_rest_reads.py [--rounds 3] [--seconds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_load import Figures, load_average, rss_mib, start_server, stop, wrk

SUBMODEL_ID = "urn:twinbridge:bench:submodel"
SHELL = "urn:twinbridge:bench:shell:7"
READS = ("shell", "element", "submodel")


def build_app(shells: int) -> object:
    from basyx.aas import model

    from twinbridge.aas.twin import Twin
    from twinbridge.server.api.app import create_app
    from twinbridge.server.api.auth import ApiSecurity

    twin = Twin()
    elements: list[model.SubmodelElement] = [model.Property("Speed", model.datatypes.Double, 1234.5)]
    for group in range(10):
        children = [model.Property(f"P{index}", model.datatypes.Int, index) for index in range(99)]
        elements.append(model.SubmodelElementCollection(f"Group{group}", value=children))
    twin.create(model.Submodel(SUBMODEL_ID, id_short="Bench", submodel_element=elements))
    reference = model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, SUBMODEL_ID),), model.Submodel)
    for number in range(shells):
        info = model.AssetInformation(
            global_asset_id=f"urn:twinbridge:bench:asset:{number}",
            specific_asset_id={model.SpecificAssetId("serialNumber", f"SN-{number}")},
        )
        twin.create(model.AssetAdministrationShell(info, f"urn:twinbridge:bench:shell:{number}",
                                                   id_short=f"Shell{number}", submodel={reference}))
    return create_app(twin, security=ApiSecurity(mode="none"))


def build_bare_app(bodies_file: str) -> object:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    bodies = {name: body.encode() for name, body in json.loads(Path(bodies_file).read_text()).items()}

    def constant(body: bytes) -> object:
        async def endpoint(request: Request) -> Response:
            return Response(body, media_type="application/json")
        return endpoint

    return Starlette(routes=[Route(f"/{name}", constant(body)) for name, body in bodies.items()])  # type: ignore[arg-type]


def serve(kind: str, argument: str, port: int) -> None:
    import uvicorn

    app = build_app(int(argument)) if kind == "twin" else build_bare_app(argument)
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning",  # type: ignore[arg-type]
                access_log=False)


def paths() -> dict[str, str]:
    from twinbridge.server.api.ids import encode_id

    submodel = f"/api/v3.0/submodels/{encode_id(SUBMODEL_ID)}"
    asset = encode_id(json.dumps({"name": "serialNumber", "value": "SN-42"}))
    return {
        "shell": f"/api/v3.0/shells/{encode_id(SHELL)}",
        "element": f"{submodel}/submodel-elements/Group4.P42",
        "submodel": submodel,
        "shells?limit=100": "/api/v3.0/shells?limit=100",
        "shells?assetIds": f"/api/v3.0/shells?assetIds={asset}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], args.port)
        return

    targets = paths()
    small, small_base = start_server(__file__, ["twin", "100"], targets["shell"])
    large, large_base = start_server(__file__, ["twin", "10000"], targets["shell"])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as bodies:
        answers = {}
        for name in READS:
            with urllib.request.urlopen(small_base + targets[name]) as response:
                answers[name] = response.read().decode()
        json.dump(answers, bodies)
    bare, bare_base = start_server(__file__, ["bare", bodies.name], "/shell")
    servers = [small, large, bare]
    try:
        lists = ("shells?limit=100", "shells?assetIds")
        plan = [(f"bare {name}", bare_base + f"/{name}", bare.pid) for name in READS]
        plan += [(name, small_base + targets[name], small.pid) for name in READS]
        plan += [(f"{name} @100", small_base + targets[name], small.pid) for name in lists]
        plan += [(f"{name} @10000", large_base + targets[name], large.pid) for name in lists]
        runs: dict[str, list[Figures]] = {}
        print(f"REST reads: one uvicorn worker per server, wrk 1 thread, {args.connections} connections; "
              f"load average before: {load_average()}")
        print("body sizes: " + ", ".join(f"{name} {len(body)} B" for name, body in answers.items()))
        for round_number in range(1, args.rounds + 1):
            for name, url, pid in plan:
                figures = wrk(url, args.seconds, args.connections, pid)
                runs.setdefault(name, []).append(figures)
                print(f"round {round_number}  {name:26s} {figures}")
        medians = {name: Figures.median(figures) for name, figures in runs.items()}
        print(f"\nmedians over {args.rounds} rounds of {args.seconds:g} s (load average now: {load_average()}):")
        for name in READS:
            ours, bare_figures = medians[name], medians["bare " + name]
            print(f"  GET one {name:9s} {ours}")
            print(f"      bare {name:9s} {bare_figures}   ratio of rates {ours.rate / bare_figures.rate:.2f}, "
                  f"of CPU per request {bare_figures.cpu_us / ours.cpu_us:.2f}")
        for name in ("shells?limit=100", "shells?assetIds"):
            few, many = medians[f"{name} @100"], medians[f"{name} @10000"]
            print(f"  GET /{name:17s}    100 shells {few}")
            print(f"  GET /{name:17s} 10,000 shells {many}   ratio 10,000/100: rate {many.rate / few.rate:.2f}, "
                  f"CPU per request {few.cpu_us / many.cpu_us:.2f}")
        print(f"  RSS: 100 shells {rss_mib(small.pid):.0f} MiB, 10,000 shells {rss_mib(large.pid):.0f} MiB, "
              f"bare {rss_mib(bare.pid):.0f} MiB")
    finally:
        stop(servers)
        Path(bodies.name).unlink()


if __name__ == "__main__":
    main()
