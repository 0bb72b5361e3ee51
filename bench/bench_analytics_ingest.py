"""Cost of the plant file's analytics on the ingest path: samples/s of ``Twin.update`` into a
running Application, without analytics (baseline), with an anomaly monitor (ewma), and with a
filter chain (median of 5) plus the default (seasonal) detector, all in the same run.

Each sample goes to the twin the way an adapter stores it (``Twin.update`` with a source
timestamp); the clock stops when every monitor has handled every sample (``bus.drained()``).
Prints samples/s, p50/p99 per block of 1,000 samples, peak traced memory and the ratio to the
baseline (medians of ``--runs``). tracemalloc runs in every case alike (it roughly halves all
rates; the ratios stay comparable).

    .venv/bin/python bench/bench_analytics_ingest.py [--samples 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from tests.ports import free_port
from twinbridge.server.application import Application, Options
from twinbridge.server.config import parse_plant_file

LIVE = "Segments.LiveValues.Records.Current"
PLANT = """\
plant:
  base_iri: https://example.com/bench/
  assets:
    - id_short: Plant
      level: plant
      children:
        - {id_short: Press1, level: machine, signals: [{id_short: Vibration, unit: mm/s}]}
server: {auth: none}
"""
CASES = {
    "raw (no analytics)": "",
    "anomaly (ewma)": "analytics: {signals: [{asset: Press1, signal: Vibration, anomaly: {detector: ewma}}]}\n",
    "median(5) + anomaly (seasonal)": "analytics: {signals: [{asset: Press1, signal: Vibration, "
                                      "filters: [{filter: median, window: 5}], anomaly: {detector: seasonal}}]}\n",
}


async def run(text: str, samples: int) -> tuple[float, list[float], int]:
    with tempfile.TemporaryDirectory() as data:
        application = Application(parse_plant_file(text), Options(host="127.0.0.1", port=free_port(),
                                                                  data=Path(data), opcua=False))
        await application.start()
        try:
            twin = application.twin
            operational = next(sm.id for sm in twin.submodels.values() if sm.id_short == "OperationalData")
            handle = twin.live(operational, f"{LIVE}.Vibration")
            blocks: list[float] = []
            tracemalloc.start()
            start = block_start = time.perf_counter()
            for i in range(samples):
                twin.update(handle, 5.0 + (i % 7) * 0.01, timestamp=1e9 + i)
                if i % 1000 == 999:
                    await twin.bus.drained()
                    now = time.perf_counter()
                    blocks.append(now - block_start)
                    block_start = now
            await twin.bus.drained()
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            return samples / elapsed, blocks, peak
        finally:
            await application.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, list[float], int]]] = {name: [] for name in CASES}
    for _ in range(args.runs):
        for name, section in CASES.items():
            results[name].append(await run(PLANT + section, args.samples))
    baseline = statistics.median(rate for rate, _, _ in results["raw (no analytics)"])
    print(f"{'case':32s} {'samples/s':>10s} {'p50 ms/1k':>10s} {'p99 ms/1k':>10s} {'peak MiB':>9s} {'ratio':>6s}")
    for name, runs in results.items():
        rate = statistics.median(r for r, _, _ in runs)
        blocks = sorted(b for _, bs, _ in runs for b in bs)
        p50, p99 = blocks[len(blocks) // 2], blocks[min(len(blocks) - 1, int(len(blocks) * 0.99))]
        peak = statistics.median(p for _, _, p in runs) / 2**20
        print(f"{name:32s} {rate:10.0f} {p50 * 1e3:10.2f} {p99 * 1e3:10.2f} {peak:9.1f} {rate / baseline:6.2f}")


if __name__ == "__main__":
    asyncio.run(main())
