"""Persisting live device values: ``Twin.flush`` with N dirty values spread over many submodels.

A plant of ``--submodels`` submodels of ``--properties`` Doubles over SQLite (FULL); every round
updates ``--dirty`` of the values through ``Twin.update`` (the device hot path), then flushes.
Prints the CPU time ``flush`` holds the event loop and the wall time until the values are durable
(``wait_persisted``, or the return of a synchronous flush). The baseline in the same run is the
encoding of the touched submodels as whole documents (what a flush cost before issue 8).

    .venv/bin/python bench/bench_flush.py [--submodels 1000] [--properties 100] [--dirty 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

from basyx.aas import model

from twinbridge.aas import documents
from twinbridge.aas.store import SqliteStore
from twinbridge.aas.twin import Twin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submodels", type=int, default=1_000)
    parser.add_argument("--properties", type=int, default=100)
    parser.add_argument("--dirty", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        twin = Twin(SqliteStore(Path(directory) / "flush.sqlite3"))
        handles = []
        for s in range(args.submodels):
            identifier = f"urn:bench:sm:{s}"
            twin.create(model.Submodel(identifier, submodel_element=[
                model.Property(f"p{i}", model.datatypes.Double, value=0.0) for i in range(args.properties)]))
            handles += [twin.live(identifier, f"p{i}") for i in range(args.properties)]
        wait = getattr(twin, "wait_persisted", lambda: None)
        wait()
        gc.freeze()  # as the server does after start-up
        stride = max(1, len(handles) // args.dirty)
        chosen = handles[::stride][: args.dirty]
        touched = {handle.submodel_id for handle in chosen}
        loop_cpu, durable, baseline = [], [], []
        for round_ in range(args.rounds):
            for handle in chosen:
                twin.update(handle, float(round_))
            wall, cpu = time.perf_counter(), time.process_time()
            twin.flush()
            loop_cpu.append(time.process_time() - cpu)
            wait()
            durable.append(time.perf_counter() - wall)
            cpu = time.process_time()
            for identifier in touched:
                documents.encode(twin.submodel(identifier))
            baseline.append(time.process_time() - cpu)
        twin.store.close() if not hasattr(twin, "close") else twin.close()
    print(f"flush of {len(chosen):,} dirty values in {len(touched):,} of {args.submodels:,} submodels "
          f"x {args.properties} properties, {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    print(f"  event-loop CPU per flush   {statistics.median(loop_cpu) * 1000:9.1f} ms "
          f"({statistics.median(loop_cpu) / len(chosen) * 1e6:.1f} µs per value)")
    print(f"  until durable (wall)       {statistics.median(durable) * 1000:9.1f} ms")
    print(f"  baseline: encoding the {len(touched):,} touched submodels whole "
          f"{statistics.median(baseline) * 1000:9.1f} ms CPU "
          f"(ratio flush/baseline {statistics.median(loop_cpu) / statistics.median(baseline):.2f})")


if __name__ == "__main__":
    main()
