"""AAS Query Language over 100,000 submodels: planned answers against the naive loop, same run.

The repository: ``--submodels`` submodels, 50% TechnicalData (semanticId ``urn:bench:td``, a
``TechnicalProperties.Width`` Property, 0..9,999 mm), 30% Digital Nameplates (``ManufacturerName``
a MultiLanguageProperty of one of 200 manufacturers), 20% other. Queries run through the same
``Planner`` the routes use (REST catalogs + value indexes), in-process: the figures are the
query engine's, not HTTP's (``bench_rest_reads.py`` measures the HTTP overhead of a page).

1. ``semanticId`` + one element value: ``$and($sm#semanticId $eq urn:bench:td,
   $sme.TechnicalProperties.Width#value $lt 100)`` (~500 matches), one page of 100 and all ids;
2. every nameplate of one manufacturer (~150 matches);
3. ``$select id`` over every submodel (100,000 matches, no index can help: ``$starts-with`` on
   the id): time and the peak memory of the streamed id list, against rendering every submodel.

Each query runs ``--runs`` times (p50/p99 over them, after one warm-up that builds the value
index); the naive loop (``query.plan.naive``: every object asked) runs 3 times.

4. The SQL path (``query.store_query.sql_page``, what a bounded-cache deployment answers with):
   the same submodels copied into a PostgreSQL store's ``documents`` table (a fresh schema,
   dropped at the end), queries 1 and 2 answered by the database (``--sql-runs`` times; the
   CPU column is this process's, PostgreSQL's own is not in it). Skipped when ``--postgres`` is
   not reachable. Usage:
python bench/bench_query.py [--submodels 100000] [--runs 200] [--sql-runs 50] [--postgres URL]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson
import psycopg
from basyx.aas import model

from twinbridge.aas import documents
from twinbridge.aas.store.postgres import PostgresStore
from twinbridge.aas.store.postgres_schema import StoreUrl
from twinbridge.aas.twin import Twin
from twinbridge.query.json_form import parse_query
from twinbridge.query.plan import Planner, naive
from twinbridge.query.store_query import sql_page
from twinbridge.query.syntax import Query, Root
from twinbridge.query.value_index import ValueIndexes
from twinbridge.query.world import RepositoryWorld
from twinbridge.server.api.catalog import Catalogs
from twinbridge.server.api.content import shaped_json
from twinbridge.server.api.query import CatalogView, _ids_stream

TD, NP = "urn:bench:td", "https://admin-shell.io/zvei/nameplate/2/0/Nameplate"


def _semantic(value: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, value),))


def build(count: int) -> Twin:
    rng = random.Random(7)
    twin = Twin()
    for n in range(count):
        kind = n % 10
        if kind < 5:
            elements: list[model.SubmodelElement] = [
                model.SubmodelElementCollection("TechnicalProperties", [
                    model.Property("Width", model.datatypes.Double, float(rng.randint(0, 9_999))),
                    model.Property("Height", model.datatypes.Double, float(rng.randint(0, 999))),
                ])]
            submodel = model.Submodel(f"urn:bench:sm:{n}", id_short="TechnicalData", semantic_id=_semantic(TD),
                                      submodel_element=elements)
        elif kind < 8:
            elements = [
                model.MultiLanguageProperty("ManufacturerName", model.MultiLanguageTextType(
                    {"en": f"Maker {rng.randint(0, 199)}"})),
                model.Property("YearOfConstruction", model.datatypes.String, str(rng.randint(2000, 2026))),
            ]
            submodel = model.Submodel(f"urn:bench:sm:{n}", id_short="Nameplate", semantic_id=_semantic(NP),
                                      submodel_element=elements)
        else:
            submodel = model.Submodel(f"urn:bench:sm:{n}", id_short="Other", submodel_element=[
                model.Property("Note", model.datatypes.String, f"note {n}")])
        twin.create(submodel)
    return twin


def q(condition: dict[str, Any], select_id: bool = False) -> Query:
    data: dict[str, Any] = {"$condition": condition}
    if select_id:
        data["$select"] = "id"
    return parse_query(data)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3


def timed(runs: int, call: Callable[[], object]) -> tuple[float, float, float, object]:
    """Wall p50, wall p99, CPU p99 (ms; CPU time leaves out waiting for a core on a loaded machine)."""
    call()  # warm-up: the value index is built on the second use of a path
    result = call()
    samples, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        call()
        samples.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
    p50, p99 = percentiles(samples)
    return p50, p99, percentiles(cpu)[1], result


def sql_path(url: str, objects: list[model.Submodel], queries: dict[str, Query],
             expected: dict[str, tuple[list[str], float]], runs: int) -> None:
    """Queries 1 and 2 answered by PostgreSQL over the same submodels (see the docstring, 4)."""
    schema = f"bench_query_{os.getpid()}"
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        print(f"SQL path skipped: PostgreSQL at {url} is not reachable ({error})")
        return
    store = PostgresStore(StoreUrl(f"{url}?schema={schema}"))
    try:
        before = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {schema}")  # type: ignore[arg-type]  # our own name
            with conn.cursor().copy("COPY documents (kind, id, body) FROM STDIN") as copy:
                for submodel in objects:
                    copy.write_row(("submodel", submodel.id, documents.encode(submodel).decode()))
            conn.execute("ANALYZE documents")
        print(f"copied {len(objects):,} submodels into PostgreSQL (schema {schema}) in "
              f"{time.perf_counter() - before:.1f} s")
        for name, query in queries.items():
            wanted, naive_ms = expected[name]
            for variant, limit in (("page 100", 100), ("all ids", None)):
                p50, p99, cpu99, page = timed(runs, lambda query=query, limit=limit: sql_page(
                    store, query, Root.SM, 0, limit, 30.0))
                identifiers = page.identifiers  # type: ignore[attr-defined]
                assert identifiers == wanted[:len(identifiers)], "SQL and the naive loop disagree"
                matches = len(wanted) if limit is None else len(identifiers)
                print(f"{name:34} {'SQL ' + variant:14} {matches:>8,} {p50:>8.2f} {p99:>8.2f} {cpu99:>8.2f} "
                      f"{naive_ms:>9.1f} {naive_ms / p50:>6.0f}x")
    finally:
        store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[arg-type]  # our own name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submodels", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--sql-runs", type=int, default=50)
    parser.add_argument("--postgres", default=os.environ.get("TWINBRIDGE_TEST_POSTGRES",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--sql-only", action="store_true", help="skip the in-memory plans and $select id")
    args = parser.parse_args()
    started = time.perf_counter()
    twin = build(args.submodels)
    print(f"built {args.submodels:,} submodels in {time.perf_counter() - started:.1f} s, "
          f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    catalogs = Catalogs(twin)
    values = ValueIndexes(twin)
    world = RepositoryWorld(twin.shells, twin.submodels)
    planner = Planner(Root.SM, CatalogView(catalogs.current().submodels), world, values)
    objects = list(twin.submodels.values())

    queries = {
        "semanticId + Width $lt 100": q({"$and": [
            {"$eq": [{"$field": "$sm#semanticId"}, {"$strVal": TD}]},
            {"$lt": [{"$field": "$sme.TechnicalProperties.Width#value"}, {"$numVal": 100}]}]}),
        "nameplates of Maker 17": q({"$and": [
            {"$eq": [{"$field": "$sm#semanticId"}, {"$strVal": NP}]},
            {"$eq": [{"$field": "$sme.ManufacturerName#value"}, {"$strVal": "Maker 17"}]}]}),
    }
    print(f"{'query':34} {'variant':14} {'matches':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU p99':>8} {'naive ms':>9} "
          f"{'ratio':>7}")
    answers: dict[str, tuple[list[str], float]] = {}
    for name, query in queries.items():
        naive_samples = []
        for _ in range(3):
            before = time.perf_counter()
            expected = naive(query, Root.SM, objects, world)
            naive_samples.append(time.perf_counter() - before)
        naive_ms = statistics.median(naive_samples) * 1e3
        answers[name] = (expected, naive_ms)
        for variant, limit in (() if args.sql_only else (("page 100", 100), ("all ids", None))):
            p50, p99, cpu99, page = timed(args.runs,
                                          lambda query=query, limit=limit: planner.page(query, 0, limit, 30.0))
            identifiers = page.identifiers  # type: ignore[attr-defined]
            assert identifiers == expected[:len(identifiers)], "the plan and the naive loop disagree"
            matches = len(expected) if limit is None else len(identifiers)
            print(f"{name:34} {variant:14} {matches:>8,} {p50:>8.2f} {p99:>8.2f} {cpu99:>8.2f} {naive_ms:>9.1f} "
                  f"{naive_ms / p50:>6.0f}x")

    sql_path(args.postgres, objects, queries, answers, args.sql_runs)  # type: ignore[arg-type]
    if args.sql_only:
        return
    every_kind = q({"$or": [{"$eq": [{"$field": "$sm#idShort"}, {"$strVal": name}]}
                            for name in ("TechnicalData", "Nameplate", "Other")]}, select_id=True)
    scan = q({"$starts-with": [{"$field": "$sm#id"}, {"$strVal": "urn:bench:"}]}, select_id=True)
    for label, everything in (("indexed ($or of idShorts)", every_kind), ("full scan ($starts-with on id)", scan)):
        gc.collect()
        tracemalloc.start()
        before, before_cpu = time.perf_counter(), time.thread_time()
        page = planner.page(everything, 0, None, 60.0)
        streamed = sum(len(chunk) for chunk in _ids_stream(b"", page.identifiers))
        elapsed, cpu = time.perf_counter() - before, time.thread_time() - before_cpu
        _, ids_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"$select id, {label}: {len(page.identifiers):,} matches in {elapsed * 1e3:.0f} ms "
              f"({cpu * 1e3:.0f} ms CPU), "
              f"{streamed / 1e6:.1f} MB streamed, peak {ids_peak / 2**20:.1f} MiB traced")
    gc.collect()
    tracemalloc.start()
    before = time.perf_counter()
    rendered = sum(len(orjson.dumps(shaped_json(submodel))) for submodel in objects)
    render_elapsed = time.perf_counter() - before
    _, render_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"rendering every submodel instead: {render_elapsed * 1e3:.0f} ms, {rendered / 1e6:.0f} MB, "
          f"peak {render_peak / 2**20:.1f} MiB traced")
    print(f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, "
          f"CPU {time.process_time():.0f} s, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
