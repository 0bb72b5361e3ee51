"""History engines compared on the demo's signals: DuckDB (embedded, columnar) against SQLite.

One simulated day of a machine's signals, as the demo produces them (``adapters/simulators``):
four float32 temperatures with drift and noise at 1 Hz, two counters at 1 Hz, two setpoints
that change a few times a day (recorded on change only), and two vibration channels at 10 Hz
(int16 registers scaled by 0.01). Each engine gets the same points, in arrival order (all
series interleaved by time), in batches of ``--batch`` points as the Historian's writer
thread hands them over. Measured per engine, in the same run:

- ingest: points/s of batched appends, one connection, one core (target ≥ 200,000/s);
- bytes per point on disk after the engine's own compression (target ≤ 4; Gorilla 1.37);
- aggregate: one day of one element at 10 Hz (864,000 points) into 1,000 buckets of
  avg/min/max/count/first/last (target ≤ 100 ms);
- raw read: 100,000 consecutive points of one element (target ≤ 200 ms);
- and the real ``DuckDbHistory`` store (what the Historian uses) on the same workload;
- the Historian end to end: ``twin.update`` → bus (EVERY) → writer thread → DuckDB, against
  ``twin.update`` with no history in the same run;
- an asyncua client's HistoryRead of 10,000 raw values (target ≤ 300 ms).

Every timing is a median of ``--runs``; the ratio column compares against SQLite measured in
the same run.

    .venv/bin/python bench/bench_history.py [--runs 5] [--batch 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np
from basyx.aas import model

from twinbridge.aas.twin import Twin
from twinbridge.history.duckdb_store import DuckDbHistory
from twinbridge.history.historian import Historian, HistorianSettings
from twinbridge.history.store import PointBatch, SeriesKey

DAY_S = 86_400
START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


@dataclass
class Workload:
    series: np.ndarray  # uint32 series id per point
    t_us: np.ndarray  # int64 epoch microseconds
    value: np.ndarray  # float64
    quality: np.ndarray  # uint8 (0 Good, 1 Uncertain, 2 Bad)
    names: list[str]

    @property
    def points(self) -> int:
        return len(self.t_us)


def demo_day(seed: int = 7) -> Workload:
    """The demo machine's signals over one day, interleaved by arrival time."""
    rng = np.random.default_rng(seed)
    parts: list[tuple[int, np.ndarray, np.ndarray]] = []
    names: list[str] = []
    one_hz = np.arange(DAY_S, dtype=np.int64) * 1_000_000
    ten_hz = np.arange(DAY_S * 10, dtype=np.int64) * 100_000
    for index, base in enumerate((42.0, 55.0, 38.0, 24.0)):  # temperatures, float32 registers
        drift = np.cumsum(rng.normal(0, 0.01, DAY_S))
        daily = 3.0 * np.sin(np.arange(DAY_S) / DAY_S * 2 * np.pi)
        values = (base + drift + daily + rng.normal(0, 0.05, DAY_S)).astype(np.float32).astype(np.float64)
        parts.append((len(names), one_hz + index * 1_000, values))
        names.append(f"temperature{index}")
    for index, rate in enumerate((0.25, 3.6)):  # part counter, energy counter (kWh, 0.1 resolution)
        steps = rng.poisson(rate, DAY_S)
        values = np.cumsum(steps).astype(np.float64) / (1 if index == 0 else 10)
        parts.append((len(names), one_hz + 5_000 + index * 1_000, values))
        names.append(f"counter{index}")
    for index in range(2):  # setpoints: a handful of operator changes a day, recorded on change
        times = np.sort(rng.choice(DAY_S, 6, replace=False)).astype(np.int64) * 1_000_000
        values = np.round(rng.uniform(1000, 3000, 6), 0)
        parts.append((len(names), times + 9_000, values))
        names.append(f"setpoint{index}")
    for index in range(2):  # vibration: int16 registers, scale 0.01 mm/s
        raw = np.clip(250 + 40 * np.sin(np.arange(DAY_S * 10) / 600) + rng.normal(0, 30, DAY_S * 10), 0, 32767)
        values = np.round(raw).astype(np.int16).astype(np.float64) * 0.01
        parts.append((len(names), ten_hz + 20_000 + index * 1_000, values))
        names.append(f"vibration{index}")
    series = np.concatenate([np.full(len(t), s, np.uint32) for s, t, _ in parts])
    t_us = np.concatenate([t for _, t, _ in parts]) + START_US
    value = np.concatenate([v for _, _, v in parts])
    order = np.argsort(t_us, kind="stable")
    quality = np.zeros(len(order), np.uint8)
    quality[rng.choice(len(order), len(order) // 1000, replace=False)] = 1  # an occasional Uncertain
    return Workload(series[order], t_us[order], value[order], quality, names)


def one_element_day(series_id: int, seed: int = 11) -> Workload:
    """864,000 points of one element: a day at 10 Hz (the aggregate and raw-read workload)."""
    rng = np.random.default_rng(seed)
    t_us = START_US + np.arange(DAY_S * 10, dtype=np.int64) * 100_000
    value = np.round(50 + 10 * np.sin(np.arange(DAY_S * 10) / 3000) + rng.normal(0, 1, DAY_S * 10), 2)
    return Workload(np.full(len(t_us), series_id, np.uint32), t_us, value, np.zeros(len(t_us), np.uint8),
                    ["signal"])


class Engine(Protocol):
    name: str

    def append(self, w: Workload, lo: int, hi: int) -> None: ...

    def finish(self) -> None: ...

    def size(self) -> int: ...

    def aggregate(self, series: int, start: int, end: int, buckets: int) -> int: ...

    def raw(self, series: int, start: int, count: int) -> int: ...

    def close(self) -> None: ...


class SqliteEngine:
    """One row per point, clustered by (series, t) in a WITHOUT ROWID b-tree: the layout that
    makes per-element range reads cheap. WAL, synchronous=NORMAL, one transaction per batch."""

    name = "SQLite 3 (WITHOUT ROWID, PK series,t)"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE points (series INTEGER, t INTEGER, value REAL, quality INTEGER,"
                        " PRIMARY KEY (series, t)) WITHOUT ROWID")

    def append(self, w: Workload, lo: int, hi: int) -> None:
        rows = zip(w.series[lo:hi].tolist(), w.t_us[lo:hi].tolist(), w.value[lo:hi].tolist(),
                   w.quality[lo:hi].tolist(), strict=True)
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?)", rows)
        self.db.execute("COMMIT")

    def finish(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))

    def aggregate(self, series: int, start: int, end: int, buckets: int) -> int:
        width = -(-(end - start) // buckets)
        rows = self.db.execute(
            "WITH g AS (SELECT (t - ?1) / ?2 AS b, avg(value) AS a, min(value) AS lo, max(value) AS hi, count(*) AS n,"
            " min(t) AS ft, max(t) AS lt FROM points WHERE series = ?3 AND t >= ?1 AND t < ?4 GROUP BY b)"
            " SELECT b, a, lo, hi, n, (SELECT value FROM points WHERE series = ?3 AND t = ft),"
            " (SELECT value FROM points WHERE series = ?3 AND t = lt) FROM g ORDER BY b",
            (start, width, series, end)).fetchall()
        return len(rows)

    def raw(self, series: int, start: int, count: int) -> int:
        rows = self.db.execute("SELECT t, value, quality FROM points WHERE series = ? AND t >= ? ORDER BY t LIMIT ?",
                               (series, start, count)).fetchall()
        return len(rows)

    def close(self) -> None:
        self.db.close()


class DuckDbEngine:
    """The real store: ``DuckDbHistory`` (appends from numpy columns, DuckDB's own lightweight
    compression: ALP for doubles, bit-packing/delta for integers, RLE/constant), compacted every
    simulated day as the Historian's maintenance does by default (compaction counts in ingest)."""

    name = "DuckDB (DuckDbHistory, daily compaction: the default)"
    compact_every_us = DAY_S * 1_000_000

    def __init__(self, path: Path, names: list[str]) -> None:
        self.path = path
        self.store = DuckDbHistory(path)
        self.ids = [self.store.series_id(SeriesKey("urn:bench", name)) for name in names]
        self.next_compaction = START_US + self.compact_every_us

    def append(self, w: Workload, lo: int, hi: int) -> None:
        self.store.append(PointBatch(series=w.series[lo:hi], t_us=w.t_us[lo:hi], value=w.value[lo:hi],
                                     quality=w.quality[lo:hi]))
        if self.compact_every_us and w.t_us[hi - 1] >= self.next_compaction:
            self.store.compact(self.next_compaction)
            self.next_compaction += self.compact_every_us

    def finish(self) -> None:
        self.store.compact(before_us=2**62)
        self.store.checkpoint()

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))

    def aggregate(self, series: int, start: int, end: int, buckets: int) -> int:
        return len(self.store.aggregate(series, start, end, -(-(end - start) // buckets)))

    def raw(self, series: int, start: int, count: int) -> int:
        return len(self.store.read(series, start, 2**62, count).t_us)

    def close(self) -> None:
        self.store.close()


class DuckDbRawEngine(DuckDbEngine):
    """DuckDB without the store's compaction: rows stay in arrival order (interleaved series)."""

    name = "DuckDB (arrival order, no compaction)"
    compact_every_us = 0

    def finish(self) -> None:
        self.store.checkpoint()


class DuckDbHourlyEngine(DuckDbEngine):
    """DuckDB compacted every hour: smaller sorted runs, so each compresses less well."""

    name = "DuckDB (DuckDbHistory, hourly compaction)"
    compact_every_us = 3_600_000_000


def median_time(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def ingest(engine: Engine, day: Workload, batch: int) -> float:
    started = time.perf_counter()
    for lo in range(0, day.points, batch):
        engine.append(day, lo, min(lo + batch, day.points))
    return time.perf_counter() - started


def measure(make: Callable[[Path], Engine], day: Workload, signal: Workload, runs: int, batch: int,
            directory: Path) -> dict[str, float]:
    """Two simulated days: the second day's growth of the files is the steady-state cost per point
    (blocks freed by compaction are reused by then), the first day's size the cold-start cost."""
    second = Workload(day.series, day.t_us + DAY_S * 1_000_000, day.value, day.quality, day.names)
    rates, first_sizes, second_sizes = [], [], []
    for run in range(max(1, runs // 2)):
        engine = make(directory / f"day{run}.db")
        elapsed = ingest(engine, day, batch)
        engine.finish()
        first_sizes.append(engine.size() / day.points)
        elapsed += ingest(engine, second, batch)
        engine.finish()
        rates.append(2 * day.points / elapsed)
        second_sizes.append(engine.size() / day.points - first_sizes[-1])
        engine.close()
    engine = make(directory / "signal.db")
    ingest(engine, signal, batch)
    engine.finish()
    sid = int(signal.series[0])
    start, end = int(signal.t_us[0]), int(signal.t_us[-1]) + 1
    assert engine.aggregate(sid, start, end, 1000) == 1000
    aggregate = median_time(lambda: engine.aggregate(sid, start, end, 1000), runs)
    raw_start = int(signal.t_us[signal.points // 2])
    assert engine.raw(sid, raw_start, 100_000) == 100_000
    raw = median_time(lambda: engine.raw(sid, raw_start, 100_000), runs)
    engine.close()
    return {"ingest": statistics.median(rates), "bytes": statistics.median(second_sizes),
            "first": statistics.median(first_sizes), "aggregate": aggregate, "raw": raw}


async def historian_rate(points: int, elements: int, directory: Path, with_history: bool) -> tuple[float, float]:
    """twin.update → bus (EVERY) → Historian → DuckDB, until durable: (points per wall second,
    points per CPU second of the whole process, writer thread and DuckDB's threads included).
    The CPU figure is the "on one core" rate; it holds when other work shares the machine."""
    twin = Twin()
    twin.create(model.Submodel("urn:bench:sm", submodel_element=[
        model.Property(f"P{i}", model.datatypes.Double, 0.0) for i in range(elements)]))
    handles = [twin.live("urn:bench:sm", f"P{i}") for i in range(elements)]
    historian = Historian(twin, DuckDbHistory(directory / "historian.duckdb"), HistorianSettings(flush_interval_s=0.5))
    if with_history:
        await historian.start()
    update = twin.update
    started = time.perf_counter()
    cpu_started = time.process_time()
    stamp = START_US / 1e6
    for index in range(points):
        update(handles[index % elements], float(index % 977), stamp + index * 1e-4)
        if index % 2_000 == 1_999:
            await asyncio.sleep(0)  # a real adapter yields between reads; the loop-side task runs here
    if with_history:
        await historian.flushed()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if with_history:
        assert historian.written == points, (historian.written, historian.dropped)
        await historian.stop()
    return points / elapsed, points / cpu


_READER = """
import asyncio, datetime, statistics, sys, time
from asyncua import Client, ua
async def main(url, node_id, start, end, points, runs):
    async with Client(url, timeout=30) as client:
        node = client.get_node(ua.NodeId.from_string(node_id))
        samples, cpu = [], []
        for _ in range(runs):
            began, began_cpu = time.perf_counter(), time.process_time()
            values = await node.read_raw_history(datetime.datetime.fromtimestamp(start, datetime.UTC),
                                                 datetime.datetime.fromtimestamp(end, datetime.UTC))
            samples.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            assert len(values) == points, len(values)
        print(statistics.median(samples), statistics.median(cpu))
asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])))
"""


async def opcua_history_read(points: int, runs: int, directory: Path) -> tuple[float, float, float]:
    """Seconds (medians) for an asyncua client in its own process (as on another machine) to
    HistoryRead ``points`` raw values of one variable: wall time, the client's CPU time (decoding
    10,000 DataValues in Python is most of it) and the server's CPU time per read."""
    from twinbridge.history.service import HistoryService
    from twinbridge.history.settings import HistorySettings
    from twinbridge.server.application import property_of_value_node
    from twinbridge.server.opcua import OpcUaServer, OpcUaSettings, ids

    twin = Twin()
    twin.create(model.Submodel("urn:bench:sm", submodel_element=[model.Property("P", model.datatypes.Double, 0.0)]))
    service = HistoryService(twin, HistorySettings(), directory)
    await service.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    opcua = OpcUaServer(twin, OpcUaSettings(host="127.0.0.1", port=port), directory / "opcua")
    await opcua.start()
    assert opcua.server is not None and service.historian is not None
    service.serve_opcua(opcua.server, property_of_value_node)
    handle = twin.live("urn:bench:sm", "P")
    start = time.time() - points
    for index in range(points):
        twin.update(handle, float(index), start + index)
        if index % 2_000 == 1_999:
            await asyncio.sleep(0)
    await service.historian.flushed()
    node_id = ids.element_node_id(opcua.namespace_index, "urn:bench:sm", "P/Value").to_string()
    try:
        reader = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _READER, opcua.endpoint_url, node_id, str(start - 1), str(start + points + 1),
            str(points), str(runs), stdout=asyncio.subprocess.PIPE)
        server_cpu = time.process_time()
        out, _ = await reader.communicate()
        server_cpu = (time.process_time() - server_cpu) / runs  # the connect's share is included
    finally:
        await opcua.stop()
        await service.stop()
    wall, client_cpu = (float(part) for part in out.decode().strip().splitlines()[-1].split())
    return wall, client_cpu, server_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10_000, help="points per append (one writer-thread flush)")
    parser.add_argument("--historian-points", type=int, default=500_000, help="updates for the end-to-end run")
    args = parser.parse_args()
    day = demo_day()
    signal = one_element_day(0)
    print(f"workload: {day.points:,} points of {len(day.names)} demo signals over one day; "
          f"aggregate/raw: {signal.points:,} points of one element; batches of {args.batch:,}; "
          f"load average {os.getloadavg()[0]:.2f}; duckdb {duckdb.__version__}, sqlite {sqlite3.sqlite_version}")
    engines: list[tuple[str, Callable[[Path], Engine]]] = [
        (SqliteEngine.name, SqliteEngine),
        (DuckDbRawEngine.name, lambda p: DuckDbRawEngine(p, day.names)),
        (DuckDbHourlyEngine.name, lambda p: DuckDbHourlyEngine(p, day.names)),
        (DuckDbEngine.name, lambda p: DuckDbEngine(p, day.names)),
    ]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        for index, (name, make) in enumerate(engines):
            directory = Path(tmp) / str(index)
            directory.mkdir()
            results[name] = measure(make, day, signal, args.runs, args.batch, directory)
    rates = []
    with tempfile.TemporaryDirectory(prefix="bench-historian-") as tmp:
        for run in range(max(1, args.runs // 2)):
            directory = Path(tmp) / str(run)
            directory.mkdir()
            rates.append((asyncio.run(historian_rate(args.historian_points, 100, directory, with_history=False)),
                          asyncio.run(historian_rate(args.historian_points, 100, directory, with_history=True))))
    with tempfile.TemporaryDirectory(prefix="bench-opcua-history-") as tmp:
        opcua_read, client_cpu, server_cpu = asyncio.run(opcua_history_read(10_000, args.runs, Path(tmp)))
    bare = statistics.median(rate[0] for rate, _ in rates)
    full = statistics.median(rate[0] for _, rate in rates)
    bare_cpu = statistics.median(rate[1] for rate, _ in rates)
    full_cpu = statistics.median(rate[1] for _, rate in rates)
    base = results[SqliteEngine.name]
    print("\n| engine | ingest pts/s | bytes/pt, steady state (day 2) | bytes/pt, first day | "
          "aggregate 864k→1,000 (ms) | raw 100k (ms) |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['ingest']:,.0f} ({r['ingest'] / base['ingest']:.1f}×) | {r['bytes']:.2f} "
              f"({r['bytes'] / base['bytes']:.2f}×) | {r['first']:.2f} | {r['aggregate'] * 1000:.1f} "
              f"({r['aggregate'] / base['aggregate']:.2f}×) | {r['raw'] * 1000:.1f} ({r['raw'] / base['raw']:.2f}×) |")
    print(f"\nHistorian end to end (twin.update → bus EVERY → writer thread → DuckDB, durable), "
          f"{args.historian_points:,} updates of 100 elements: {full:,.0f} points/s; twin.update alone "
          f"(no history) {bare:,.0f}/s in the same run: ratio {full / bare:.2f}; per CPU-second "
          f"{full_cpu:,.0f} points/s (twin.update alone {bare_cpu:,.0f}/s)")
    print(f"OPC UA HistoryRead of 10,000 raw values (asyncua client in its own process): {opcua_read * 1000:.0f} ms "
          f"(target ≤ 300 ms); CPU per read: client {client_cpu * 1000:.0f} ms, server {server_cpu * 1000:.0f} ms")
    print(f"\ntargets: ingest ≥ 200,000/s, ≤ 4 bytes/pt, aggregate ≤ 100 ms, raw ≤ 200 ms; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
