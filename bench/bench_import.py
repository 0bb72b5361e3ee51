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
from pathlib import Path
from typing import TypeVar

from basyx.aas import model
from basyx.aas.adapter.json import AASToJsonEncoder, StrictAASFromJsonDecoder

from aas import documents
from aas.serialization import Environment, import_environment, read_environment, write_environment
from aas.store import MemoryStore, SqliteStore
from aas.twin import Twin


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


def _timed(function: Callable[[], T]) -> tuple[float, T]:
    gc.collect()
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def run_once(data: bytes, workdir: Path, legacy: bool) -> dict[str, float]:
    parse = _legacy_parse if legacy else (lambda d: read_environment(d, "json"))
    parse_s, env = _timed(lambda: parse(data))
    if legacy:
        twin_s, _ = _timed(lambda: _legacy_import(Twin(MemoryStore()), env))
    else:
        twin_s, _ = _timed(lambda: import_environment(Twin(MemoryStore()), env))
    env = parse(data)  # fresh objects: the first import parented them
    store = SqliteStore(workdir / f"bench-{time.monotonic_ns()}.sqlite3")
    twin = Twin(store)
    if legacy:
        stored_s, _ = _timed(lambda: _legacy_import(twin, env))
    else:
        stored_s, _ = _timed(lambda: import_environment(twin, env))
    store.close()
    return {"parse": parse_s, "twin (memory store)": twin_s, "twin + sqlite": stored_s,
            "end_to_end": parse_s + stored_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submodels", type=int, default=200)
    parser.add_argument("--properties", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = generate(args.submodels, args.properties)
    print(f"environment: {args.submodels} submodels x {args.properties} properties "
          f"= {args.submodels * args.properties} properties, {len(data) / 1e6:.1f} MB JSON")
    with tempfile.TemporaryDirectory() as tmp:
        for label, legacy in (("baseline (plain basyx json)", True), ("twinbridge", False)):
            runs = [run_once(data, Path(tmp), legacy) for _ in range(args.runs)]
            medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(f"{label:30s} " + "  ".join(f"{key} {value:6.3f}s" for key, value in medians.items()))
        tracemalloc.start()
        env = read_environment(data, "json")
        import_environment(Twin(SqliteStore(Path(tmp) / "memory.sqlite3")), env)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak traced memory of one twinbridge import: {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
