"""The seasonal detector bank over more than a day of signal time: throughput and memory (issue 14).

N signals (default 100) at ``--rate`` samples per second each go through one ``seasonal`` bank,
one sample per signal per call (each signal at its own phase, as MQTT topics arrive), for a day
and then ``--after-calls`` more calls. Why a day: the seasonal look-ups ("the same time
yesterday") start only once a signal has a day behind it, and its history is what grew with the
sample rate before the bounded history (one sample per minute). Printed per run: samples/s per
CPU-second of ``bank.score`` during the first day and after it, p50/p99 of the per-call CPU time
after the first day, the history's memory (tracemalloc of the allocations made by the detector
modules since the bank was created, in a second run of the same rate with tracemalloc on, since
tracemalloc slows every allocation) and the run's max RSS.

Every run is a child process that imports twinbridge by ``PYTHONPATH``: this checkout's ``src``,
and with ``--baseline-src DIR`` an export of other code (``git -C /work/main archive HEAD | tar -x
-C DIR``) at ``--baseline-rate``, where the old code survives (it kept every sample of a day as
Python floats); this checkout runs at that rate too, for a same-run ratio.

    .venv/bin/python bench/bench_seasonal_day.py [--signals 100] [--rate 1] [--after-calls 3000]
        [--baseline-src DIR] [--baseline-rate 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()
DAY_S = 86_400
BLOCK = 1_000  # calls whose inputs are made at once, outside the timed calls


def run(signals: int, rate: float, after_calls: int, memory: bool) -> dict[str, Any]:
    """One measurement in this process (the child's side)."""
    from twinbridge.analytics.detectors import create_bank

    if memory:
        tracemalloc.start()
    bank = create_bank("seasonal", signals)
    before = tracemalloc.take_snapshot() if memory else None
    slots = np.arange(signals, dtype=np.intp)
    phase = np.arange(signals) / signals / rate  # each signal at its own moment within a sample period
    rng = np.random.default_rng(0)
    t0 = 1.7e9
    day_calls = int(DAY_S * rate)
    total = day_calls + after_calls
    day_ns = 0
    after: list[int] = []
    for start in range(0, total, BLOCK):
        calls = np.arange(start, min(start + BLOCK, total))
        times = t0 + calls[:, None] / rate + phase
        values = 20.0 + np.sin(times / DAY_S * 2 * np.pi) + rng.normal(0.0, 0.1, times.shape)
        for i, t, x in zip(calls.tolist(), times, values, strict=True):
            begin = time.thread_time_ns()
            bank.score(slots, t, x)
            spent = time.thread_time_ns() - begin
            if i < day_calls:
                day_ns += spent
            else:
                after.append(spent)
    result: dict[str, Any] = {
        "rate": rate, "signals": signals,
        "first_day": day_calls * signals / (day_ns / 1e9),
        "after": len(after) * signals / (sum(after) / 1e9),
        "p50_us": float(np.percentile(after, 50)) / 1e3, "p99_us": float(np.percentile(after, 99)) / 1e3,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if before is not None:
        detectors = [tracemalloc.Filter(True, "*/analytics/detectors/*")]
        grown = tracemalloc.take_snapshot().filter_traces(detectors).compare_to(
            before.filter_traces(detectors), "filename")
        result["history_mib"] = sum(stat.size_diff for stat in grown) / 2**20
    return result


def child(src: Path, rate: float, args: argparse.Namespace, memory: bool) -> dict[str, Any]:
    """``run`` in a fresh interpreter importing twinbridge from ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, str(HERE), "--worker", "--signals", str(args.signals), "--rate", str(rate),
               "--after-calls", str(args.after_calls if not memory else 100)] + (["--memory"] if memory else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def source_of(folder: Path) -> Path:
    return folder / "src" if (folder / "src" / "twinbridge").is_dir() else folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signals", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1.0, help="samples per second per signal (this code)")
    parser.add_argument("--after-calls", type=int, default=3_000, help="calls timed after the first day")
    parser.add_argument("--baseline-src", type=Path, help="an export of the code to compare with")
    parser.add_argument("--baseline-rate", type=float, default=0.2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run(args.signals, args.rate, args.after_calls, args.memory)))
        return
    here = HERE.parents[1] / "src"
    plan = [("this code", here, args.rate)]
    if args.baseline_src is not None:
        baseline = source_of(args.baseline_src)
        plan += [("this code", here, args.baseline_rate), ("baseline", baseline, args.baseline_rate)]
    rows = []
    for name, src, rate in plan:
        timed = child(src, rate, args, memory=False)
        timed["history_mib"] = child(src, rate, args, memory=True)["history_mib"]
        rows.append((name, timed))
        print(f"done: {name} at {rate:g} Hz", file=sys.stderr, flush=True)
    print(f"{args.signals} signals, one seasonal bank, a day + {args.after_calls} calls "
          "(samples/s per CPU-s of bank.score; history: tracemalloc, max RSS: the run's process)\n")
    print("| code | rate per signal | first day samples/s | after a day samples/s | p50 / p99 per call after "
          "| history | max RSS |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['rate']:g} Hz | {r['first_day']:,.0f} | {r['after']:,.0f} | "
              f"{r['p50_us']:.0f} / {r['p99_us']:.0f} µs | {r['history_mib']:.1f} MiB | {r['maxrss_mib']:.0f} MiB |")
    if args.baseline_src is not None:
        (_, new), (_, old) = rows[1], rows[2]
        print(f"\nratio this code / baseline at {args.baseline_rate:g} Hz: "
              f"first day {new['first_day'] / old['first_day']:.2f}, after a day {new['after'] / old['after']:.2f}, "
              f"history {new['history_mib'] / old['history_mib']:.3f}, "
              f"max RSS {new['maxrss_mib'] / old['maxrss_mib']:.2f}")


if __name__ == "__main__":
    main()
