"""Import of a 20,000-property AAS JSON environment: parse, twin upsert, SQLite persist.

Prints the median of several runs for twinbridge's path (orjson + basyx constructors,
``aas.serialization``) and, in the same run, for a baseline of plain basyx (``json`` with
``StrictAASFromJsonDecoder`` to parse, ``json`` with ``AASToJsonEncoder`` to encode each stored
document, as ``aas/documents.py`` did before). Target: end to end <= 3 s.

    .venv/bin/python bench/bench_import.py [--submodels 200] [--properties 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from basyx.aas import model
from basyx.aas.adapter.json import AASToJsonEncoder, StrictAASFromJsonDecoder

from twinbridge.aas import documents
from twinbridge.aas.serialization import (
    Environment,
    FormatName,
    import_environment,
    read_environment,
    write_environment,
)
from twinbridge.aas.store import MemoryStore, SqliteStore
from twinbridge.aas.twin import Twin


def generate(submodels: int, properties: int) -> bytes:
    env = Environment()
    for s in range(submodels):
        elements = [
            model.Property(
                f"p{p}",
                model.datatypes.Double,
                value=float(p),
                semantic_id=model.ExternalReference(
                    (model.Key(model.KeyTypes.GLOBAL_REFERENCE, f"https://example.com/ids/cd/{p}"),)
                ),
            )
            for p in range(properties)
        ]
        env.submodels.append(model.Submodel(f"https://example.com/ids/sm/{s}", id_short=f"sm{s}",
                                            submodel_element=elements))
    env.shells.append(model.AssetAdministrationShell(
        model.AssetInformation(global_asset_id="https://example.com/asset/1"),
        "https://example.com/ids/aas/1",
        id_short="bench",
        submodel={model.ModelReference.from_referable(sm) for sm in env.submodels},
    ))
    return write_environment(env, "json")


def _legacy_encode(obj: model.Identifiable) -> bytes:
    jsonable = documents.strip_empty_specific_asset_ids(json.loads(json.dumps(obj, cls=AASToJsonEncoder)))
    return json.dumps(jsonable, separators=(",", ":"), ensure_ascii=False).encode()


def _legacy_parse(data: bytes) -> Environment:
    document = json.loads(data, cls=StrictAASFromJsonDecoder)
    return Environment(document.get("assetAdministrationShells", []), document.get("submodels", []),
                       document.get("conceptDescriptions", []))


def _legacy_import(twin: Twin, env: Environment) -> None:
    """The same twin upserts in one batch, with the previous ``documents.encode`` swapped in."""
    fast_encode = documents.encode
    documents.encode = _legacy_encode  # type: ignore[assignment]
    try:
        with twin.store.batch():
            for obj in env.identifiables():
                twin.upsert(obj)
    finally:
        documents.encode = fast_encode  # type: ignore[assignment]


T = TypeVar("T")


def _timed(function: Callable[[], T]) -> tuple[float, float, T]:
    """(wall s, CPU s, result); CPU time is the steadier figure on a shared machine."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run_once(data: bytes, workdir: Path, legacy: bool) -> dict[str, tuple[float, float]]:
    parse = _legacy_parse if legacy else (lambda d: read_environment(d, "json"))
    importer = _legacy_import if legacy else import_environment
    parse_wall, parse_cpu, env = _timed(lambda: parse(data))
    twin_wall, twin_cpu, _ = _timed(lambda: importer(Twin(MemoryStore()), env))
    env = parse(data)  # fresh objects: the first import parented them
    store = SqliteStore(workdir / f"bench-{time.monotonic_ns()}.sqlite3")
    twin = Twin(store)
    stored_wall, stored_cpu, _ = _timed(lambda: importer(twin, env))
    store.close()
    return {"parse": (parse_wall, parse_cpu), "twin (memory store)": (twin_wall, twin_cpu),
            "twin + sqlite": (stored_wall, stored_cpu),
            "end to end": (parse_wall + stored_wall, parse_cpu + stored_cpu)}


def _last_database(directory: str) -> str:
    return max(Path(directory).glob("bench-*.sqlite3"), key=lambda path: path.stat().st_mtime).name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submodels", type=int, default=200)
    parser.add_argument("--properties", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = generate(args.submodels, args.properties)
    print(f"environment: {args.submodels} submodels x {args.properties} properties "
          f"= {args.submodels * args.properties} properties, {len(data) / 1e6:.1f} MB JSON")
    print(f"median of {args.runs} interleaved runs, wall s (CPU s)")
    labels = {True: "baseline (plain basyx json)", False: "twinbridge"}
    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[bool, list[dict[str, tuple[float, float]]]] = {True: [], False: []}
        for _ in range(args.runs):
            for legacy in (True, False):
                runs[legacy].append(run_once(data, Path(tmp), legacy))
        for legacy, results in runs.items():
            figures = []
            for key in results[0]:
                wall = statistics.median(run[key][0] for run in results)
                cpu = statistics.median(run[key][1] for run in results)
                figures.append(f"{key} {wall:5.2f} ({cpu:4.2f})")
            print(f"{labels[legacy]:28s} " + "  ".join(figures))
        restart_wall, restart_cpu, reloaded = _timed(lambda: Twin(SqliteStore(Path(tmp) / _last_database(tmp))))
        print(f"restart (Twin over the imported SqliteStore): {restart_wall:.2f} s ({restart_cpu:.2f}), "
              f"{len(reloaded.submodels)} submodels")
        one = next(iter(reloaded.submodels.values()))
        for label, encode in (("baseline", _legacy_encode), ("twinbridge", documents.encode)):
            timings = []
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(100):
                    encode(one)
                timings.append((time.perf_counter() - start) / 100)
            print(f"encode one {len(one.submodel_element)}-property submodel (each structural write), "
                  f"{label}: {statistics.median(timings) * 1e3:.2f} ms")
        env = read_environment(data, "json")
        formats: tuple[FormatName, ...] = ("json", "xml", "aasx")
        for fmt in formats:
            write_wall, write_cpu, written = _timed(partial(write_environment, env, fmt))
            read_wall, read_cpu, _ = _timed(partial(read_environment, written, fmt))
            print(f"{fmt:4s}: write {write_wall:.2f} s ({write_cpu:.2f}), {len(written) / 1e6:.1f} MB;"
                  f" read {read_wall:.2f} s ({read_cpu:.2f})")
        tracemalloc.start()
        env = read_environment(data, "json")
        import_environment(Twin(SqliteStore(Path(tmp) / "memory.sqlite3")), env)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak traced memory of one twinbridge import: {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
