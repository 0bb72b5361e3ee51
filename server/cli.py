"""The ``twinbridge`` command line: serve, demo, export, validate; journal verify, backup, restore; registry."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path

import uvloop

from twinbridge.aas.errors import StorageError, TwinError
from twinbridge.aas.store import STORE_FILE_NAME, StoreUrlError, check_url
from twinbridge.analytics.cli import add_detect_parser, run_detect
from twinbridge.history import cli as history_cli
from twinbridge.server.config import ConfigError, PlantFile, load_plant_file
from twinbridge.server.tokens import admin_token

EXAMPLE_PLANT = Path(__file__).resolve().parent.parent / "examples" / "plant.yaml"

YOUNG_OBJECTS_PER_COLLECTION = 10_000
"""The serving process's generation-0 threshold (CPython's default: 700).

A value PATCH holds its request's objects (scope, closures, task, future, the change) for the
~20 ms its group commit takes; with 32 in flight, a collection every 700 allocations found them
alive every ~17 requests and promoted them, and the promoted garbage drove a full collection
every ~1.5 s: 50 us of CPU per PATCH in the collector (gen0 17, gen1 4, gen2 28 us;
``bench/bench_patch.py``, BENCHMARKS.md). At 10,000 a PATCH flood leaves almost nothing to
promote, a young collection scans 10,000 objects at most (about a millisecond) and
cyclic garbage waits that much longer.
"""


def _common(parser: argparse.ArgumentParser, default_data: str | None) -> None:
    parser.add_argument("--config", type=Path, help="plant file (YAML): plant, sources, bindings, server")
    parser.add_argument("--host", help="REST listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="REST port (default 8080)")
    parser.add_argument("--data", type=Path, default=Path(default_data) if default_data else None,
                        help=f"data directory (default {default_data})")
    parser.add_argument("--memory", action="store_true", help="keep everything in memory (no data directory)")
    parser.add_argument("--store", metavar="URL", help="store URL (sqlite:///abs/file.sqlite3, memory:, "
                        "postgresql://user@host:5432/db?schema=NAME shared by several instances); "
                        "default: the plant file's, else SQLite in the data directory")
    parser.add_argument("--import", dest="imports", type=Path, action="append", default=[],
                        metavar="FILE", help="AASX, JSON or XML file to import at start-up (repeatable); "
                        "creates what is missing and keeps what exists")
    parser.add_argument("--replace", action="store_true",
                        help="--import overwrites objects that already exist (edits made over REST are lost)")
    parser.add_argument("--token", help="admin API token (else $TWINBRIDGE_TOKEN, else generated and stored)")
    parser.add_argument("--opcua-port", type=int, help="OPC UA port (default 4840)")
    parser.add_argument("--no-opcua", action="store_true", help="do not start the OPC UA server")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twinbridge", description="AAS interoperability server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    _common(serve, "data")
    demo = commands.add_parser("demo", help="run the example plant with simulated Modbus and MQTT devices")
    _common(demo, "data/demo")
    demo.add_argument("--mqtt-url", help="use this MQTT broker instead of the embedded one")
    demo.add_argument("--mqtt-port", type=int,
                      help="port of the embedded MQTT broker (default: the plant file's, 1883 in the example)")
    export = commands.add_parser("export", help="write the repository as JSON, XML or AASX")
    export.add_argument("--format", choices=["json", "xml", "aasx"], default="json")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    export.add_argument("--config", type=Path, help="plant file whose plant is built before exporting")
    export.add_argument("--data", type=Path, default=Path("data"),
                        help="data directory of the repository to export (default data; the demo's is data/demo)")
    export.add_argument("--memory", action="store_true", help="export only what --config/--import build")
    export.add_argument("--import", dest="imports", type=Path, action="append", default=[], metavar="FILE")
    trust = commands.add_parser("trust", help="trust an OPC UA client certificate (it moves from pki/rejected)")
    trust.add_argument("file", type=Path, help="the client's certificate (DER or PEM), e.g. one in DATA/pki/rejected")
    trust.add_argument("--data", type=Path, default=Path("data"), help="data directory (default data; the demo's is "
                       "data/demo)")
    validate = commands.add_parser("validate", help="check a plant file and print its errors")
    validate.add_argument("file", type=Path)
    add_detect_parser(commands)
    simulate = commands.add_parser("simulate", help="run a what-if scenario (YAML) offline and print its KPIs")
    simulate.add_argument("scenario", type=Path)
    simulate.add_argument("--config", type=Path, help="plant file with simulation blocks (default: the example plant)")
    simulate.add_argument("--out", type=Path, help="also write the whole result as JSON to this file")
    simulate.add_argument("--workers", type=int, help="worker processes (default: the plant file's, else one per core)")
    history_cli.add_commands(commands)
    registry = commands.add_parser("registry", help="serve the AAS Registry and Discovery alone")
    registry.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    registry.add_argument("--port", type=int, default=8081, help="port (default 8081)")
    registry.add_argument("--data", type=Path, default=Path("data/registry"),
                          help="directory of the descriptor store (default data/registry)")
    registry.add_argument("--store", help="store URL instead: sqlite:///abs/path/registry.sqlite3 or memory:")
    registry.add_argument("--token", help="bearer token writes need (else $TWINBRIDGE_TOKEN; else writes are open)")
    registry.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(getattr(args, "log_level", "WARNING"))
    try:
        if args.command == "validate":
            return _validate(args.file)
        if args.command == "trust":
            return _trust(args.file, args.data)
        if args.command == "detect":
            return run_detect(args)
        if args.command == "simulate":
            from twinbridge.server.simulations import simulate_command

            return simulate_command(args.scenario, args.config or EXAMPLE_PLANT, args.out, args.workers)
        if args.command == "registry":
            return _registry(args)
        if args.command in history_cli.COMMANDS:
            return history_cli.run(args, lambda token, data: admin_token(token, data)[0])
        config_path = args.config or (EXAMPLE_PLANT if args.command == "demo" else None)
        plant_file = load_plant_file(config_path) if config_path else PlantFile()
        if args.command == "export":
            return _export(args, plant_file)
        return _serve(args, plant_file, demo=args.command == "demo")
    except ConfigError as error:
        print(f"twinbridge: invalid configuration {error}", file=sys.stderr)
        return 2
    except StorageError as error:  # the store is not a twinbridge store, or its disk failed
        print(f"twinbridge: cannot start: {error}", file=sys.stderr)
        return 1
    except TwinError as error:  # the plant does not build (a roll-up without input, a bad template file)
        print(f"twinbridge: {error} (twinbridge validate FILE lists every problem with its line)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"twinbridge: cannot start: {_reason(error)}", file=sys.stderr)
        return 1


def _reason(error: BaseException) -> str:
    """An error's message, or (for one raised bare, like a plain TimeoutError) its kind and cause."""
    text = str(error)
    if text:
        return text
    cause = error.__cause__ or error.__context__
    return f"{type(error).__name__}" + (f" ({_reason(cause)})" if cause is not None else "")


def _configure_logging(level: str) -> None:
    """Our rooms log at ``level``; the libraries below us only speak up for warnings."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for room in ("twinbridge", "aas", "adapters", "server", "submodels", "history"):
        logging.getLogger(room).setLevel(level.upper())


def _trust(file: Path, data: Path) -> int:
    from twinbridge.server.opcua.security import PKI_DIR, Pki, trust

    try:
        target = trust(Pki(data / PKI_DIR), file)
    except (OSError, ValueError) as error:
        print(f"twinbridge: cannot trust {file}: {error}", file=sys.stderr)
        return 2
    print(f"trusted: {target} (a running server accepts this client at its next connection)")
    return 0


def _validate(path: Path) -> int:
    from twinbridge.server.plant_check import check_plant_file

    plant_file, problems = check_plant_file(path)
    if problems or plant_file is None:
        print(ConfigError(str(path), problems), file=sys.stderr)
        return 2
    print(f"{path}: valid ({len(plant_file.southbound.sources)} sources, "
          f"{len(plant_file.southbound.bindings)} bindings)")
    return 0


def _registry(args: argparse.Namespace) -> int:
    import os

    from twinbridge.registry.host import serve_standalone, store_url_of

    serve_standalone(args.host, args.port, store_url_of(args.store, args.data),
                     args.token or os.environ.get("TWINBRIDGE_TOKEN"))
    return 0


def _serve(args: argparse.Namespace, plant_file: PlantFile, demo: bool) -> int:
    from twinbridge.server.application import Application, Options

    if args.store is not None:
        try:
            check_url(args.store)
        except StoreUrlError as error:
            print(f"twinbridge: --store: {error}", file=sys.stderr)
            return 2

    options = Options(
        host=args.host, port=args.port, data=None if args.memory else args.data, imports=args.imports,
        token=args.token, opcua_port=args.opcua_port, opcua=not args.no_opcua, demo=demo,
        mqtt_url=getattr(args, "mqtt_url", None), mqtt_port=getattr(args, "mqtt_port", None), replace=args.replace,
        store=args.store,
    )
    application = Application(plant_file, options)
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION, *gc.get_threshold()[1:])
    # uvloop, the loop uvicorn itself would pick: the HTTP transports, callbacks and wake-ups in
    # C took 13-15% off the CPU of a value PATCH (bench/bench_patch.py, 7 alternating rounds)
    uvloop.run(application.run())
    return 0


def _export(args: argparse.Namespace, plant_file: PlantFile) -> int:
    from twinbridge.server.content import export_repository

    if not args.memory and not (args.data / STORE_FILE_NAME).is_file():
        demo = " (the demo's is data/demo)" if (args.data / "demo" / STORE_FILE_NAME).is_file() else ""
        print(f"twinbridge: no repository at {args.data}{demo}: name one with --data DIR, or build one in "
              "memory with --memory --config FILE / --import FILE", file=sys.stderr)
        return 2
    data = export_repository(plant_file, None if args.memory else args.data, args.imports, args.format)
    if args.output:
        args.output.write_bytes(data)
        print(f"wrote {len(data)} bytes to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
