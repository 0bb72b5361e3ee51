"""Value writes through the twin's writer on PostgreSQL: the value path against the general one.

``--clients`` tasks each write a value and wait for it to be durable (as a PATCH does before its
2xx), over and over for ``--seconds``, into a fresh schema. Two stores take turns round by round:
``PostgresStore`` as shipped (a batch of value writes is one libpq pipeline round trip,
``store.postgres_values``) and the baseline, the same store writing every batch through its
general transaction (``PostgresStore.rewrite``: psycopg's pipeline, one ``execute`` and one wait
per statement). Prints the median of the rounds: writes/s, latency p50/p99 and the process's CPU
time per write, and the ratio. No HTTP: ``bench_postgres.py`` measures the whole PATCH.

    .venv/bin/python bench/bench_pg_writes.py [--clients 32] [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import time
import uuid
from collections.abc import Sequence

import psycopg
from basyx.aas import model

from twinbridge.aas.store.base import Change
from twinbridge.aas.store.postgres import PostgresStore
from twinbridge.aas.store.postgres_schema import StoreUrl
from twinbridge.aas.twin import Twin

SERVER = "postgresql://postgres@127.0.0.1:5432/test"
SM = "urn:twinbridge:bench:writes"
ELEMENTS = 10


class GeneralPath(PostgresStore):
    """The baseline: every batch through the general transaction."""

    def write(self, changes: Sequence[Change]) -> None:
        self.rewrite(changes, uuid.uuid4().hex, in_doubt=False)


async def one_run(store: PostgresStore, clients: int, seconds: float) -> tuple[float, float, float, float]:
    """(writes/s, p50 ms, p99 ms, CPU µs per write)."""
    twin = Twin(store)
    twin.create(model.Submodel(SM, id_short="Writes", submodel_element=[
        model.Property(f"p{n}", model.datatypes.Int, 0) for n in range(ELEMENTS)]))
    await twin.persisted()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(number: int) -> None:
        count = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await twin.write_value(twin.live(SM, f"p{(number + count) % ELEMENTS}"), count)
            await twin.persisted()
            latencies.append(time.perf_counter() - started)
            count += 1

    cpu = time.process_time()
    began = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    twin.close()
    latencies.sort()
    return (len(latencies) / elapsed, latencies[len(latencies) // 2] * 1e3,
            latencies[int(len(latencies) * 0.99)] * 1e3, cpu / len(latencies) * 1e6)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kinds: dict[str, type[PostgresStore]] = {"value path": PostgresStore, "general path": GeneralPath}
    runs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in kinds}
    for round_ in range(args.rounds):
        order = list(kinds) if round_ % 2 == 0 else list(reversed(kinds))
        for name in order:
            schema = f"bench_writes_{os.getpid()}_{round_}_{name[0]}"
            try:
                figures = await one_run(kinds[name](StoreUrl(f"{SERVER}?schema={schema}")), args.clients,
                                        args.seconds)
            finally:
                with psycopg.connect(SERVER, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            runs[name].append(figures)
            print(f"round {round_ + 1} {name:12s} load {os.getloadavg()[0]:5.1f}: {figures[0]:6.0f} writes/s  "
                  f"p50 {figures[1]:6.1f} ms  p99 {figures[2]:6.1f} ms  CPU {figures[3]:4.0f} µs/write", flush=True)
    medians = {name: [statistics.median(f[i] for f in figures) for i in range(4)] for name, figures in runs.items()}
    print(f"\n{args.clients} clients, medians of {args.rounds} rounds of {args.seconds:g} s; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    for name, (rate, p50, p99, cpu) in medians.items():
        print(f"{name:12s} {rate:6.0f} writes/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  CPU {cpu:4.0f} µs/write")
    value, general = medians["value path"], medians["general path"]
    print(f"ratio value/general: rate {value[0] / general[0]:.2f}, CPU per write {value[3] / general[3]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
