"""Server CPU of a value PATCH on PostgreSQL: this tree against a baseline tree, in the same run.

Issue 16 asks for value PATCH >= 2,000/s per instance. Over HTTP a PATCH cost the server
~350 us of CPU where a GET of the same element costs ~130 us; this script shows where the
difference goes. It loads ``--submodels`` submodels of 10 Properties into two fresh PostgreSQL
schemas (COPY, as ``bench_postgres.py``), starts ``twinbridge serve`` on each: one with
``PYTHONPATH`` on this tree's ``src``, one on ``--baseline`` (e.g. ``/work/main/src``), and
lets them take turns round by round (order alternating) with wrk: value ``PATCH`` of random
elements at 32 and 128 connections and ``GET .../$value`` of the same elements at 32. Prints
the median of the rounds: req/s, p99, server CPU per request split into the event loop's
thread and the others (store writer, replica, history), each round's rate, the ratio of the
two trees and the load average. The history journal is off (as in ``bench_postgres.py``).

    .venv/bin/python bench/bench_patch.py --baseline /work/main/src [--submodels 10000]
        [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_postgres import API, ELEMENTS, SERVER, b64, documents, load_postgres, paths_script, submodel_id
from http_load import ROOT, Figures, free_port, load_average, stop, wrk

TESTS = ("PATCH value, 32 conn.", "PATCH value, 128 conn.", "GET $value, 32 conn.")


def thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds so far of the process's main thread (the event loop) and of all its other threads."""
    ticks = os.sysconf("SC_CLK_TCK")
    main = others = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        if task.name == str(pid):
            main += seconds
        else:
            others += seconds
    return main, others


@dataclass
class Runs:
    figures: list[Figures] = field(default_factory=list)
    loop_us: list[float] = field(default_factory=list)
    other_us: list[float] = field(default_factory=list)

    def median(self) -> Figures:
        return Figures.median(self.figures)

    def line(self) -> str:
        median = self.median()
        rates = " / ".join(f"{f.rate:.0f}" for f in self.figures)
        return (f"{median.rate:6.0f} req/s  p99 {median.p99_ms:6.1f} ms  CPU {median.cpu_us:4.0f} us/req "
                f"(loop {statistics.median(self.loop_us):4.0f}, other threads {statistics.median(self.other_us):3.0f})"
                f"  rounds {rates}")


@dataclass
class Instance:
    name: str
    process: subprocess.Popen[bytes]
    base: str
    runs: dict[str, Runs] = field(default_factory=lambda: {test: Runs() for test in TESTS})


def start(name: str, src: Path, store: str, config: Path) -> Instance:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src)}
    process = subprocess.Popen(
        [sys.executable, "-m", "twinbridge.server.cli", "serve", "--memory", "--store", store, "--port", str(port),
         "--no-opcua", "--token", "bench", "--log-level", "WARNING", "--config", str(config)], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{base}{API}/shells?limit=1", timeout=5):
                return Instance(name, process, base)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"the instance on {src} exited") from None
            time.sleep(0.5)


def plan(count: int) -> dict[str, tuple[str, int, str]]:
    """Each test's first URL, connections and wrk script (the same 1,000 random elements)."""
    rng = random.Random(7)
    picks = [rng.randrange(count) for _ in range(1_000)]
    values = [f"{API}/submodels/{b64(submodel_id(n))}/submodel-elements/P{n % ELEMENTS}/$value" for n in picks]
    patch = paths_script(values, "PATCH", "")
    return {"PATCH value, 32 conn.": (values[0], 32, patch),
            "PATCH value, 128 conn.": (values[0], 128, patch),
            "GET $value, 32 conn.": (values[0], 32, paths_script(values))}


def one_round(instance: Instance, tests: dict[str, tuple[str, int, str]], seconds: float) -> None:
    pid = instance.process.pid
    for name in TESTS:
        path, connections, script = tests[name]
        loop_before, others_before = thread_cpu(pid)
        figures = wrk(instance.base + path, seconds, connections, pid, script)
        loop_after, others_after = thread_cpu(pid)
        requests = figures.rate * seconds
        runs = instance.runs[name]
        runs.figures.append(figures)
        runs.loop_us.append((loop_after - loop_before) / requests * 1e6)
        runs.other_us.append((others_after - others_before) / requests * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, required=True, help="the other tree's src directory")
    parser.add_argument("--submodels", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    count = args.submodels
    stamp = int(time.time())
    schemas = {"baseline": f"bench_patch_base_{stamp}", "this tree": f"bench_patch_tree_{stamp}"}
    sources = {"baseline": args.baseline.resolve(), "this tree": ROOT / "src"}
    print(f"{count:,} submodels of {ELEMENTS} Properties; baseline {sources['baseline']}; load {load_average()}")
    submodels, shells = documents(count)
    for schema in schemas.values():
        load_postgres(schema, submodels, shells)
    del submodels, shells
    instances: list[Instance] = []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            config = Path(scratch) / "plant.yaml"
            config.write_text("server:\n  history:\n    journal: false\n")
            for name in schemas:
                instances.append(start(name, sources[name], f"{SERVER}?schema={schemas[name]}", config))
            tests = plan(count)
            for instance in instances:  # every element read in once (a bounded cache admits them)
                for name in TESTS:
                    path, connections, script = tests[name]
                    wrk(instance.base + path, 2, connections, instance.process.pid, script)
            for round_ in range(args.rounds):
                print(f"round {round_ + 1}: load average {load_average()}", flush=True)
                for instance in instances if round_ % 2 == 0 else reversed(instances):
                    one_round(instance, tests, args.seconds)
            print(f"\nload average {load_average()}; medians of {args.rounds} rounds of {args.seconds:g} s")
            baseline, tree = instances
            for test in TESTS:
                ratio = tree.runs[test].median().cpu_us / baseline.runs[test].median().cpu_us
                rate = tree.runs[test].median().rate / baseline.runs[test].median().rate
                print(f"{test:23s} baseline   {baseline.runs[test].line()}")
                print(f"{'':23s} this tree  {tree.runs[test].line()}")
                print(f"{'':23s} this tree / baseline: CPU per request {ratio:4.2f}, req/s {rate:4.2f}")
    finally:
        stop([instance.process for instance in instances])
        with psycopg.connect(SERVER, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
