"""twinbridge's line simulation side by side with prodsys (PyPI, a SimPy production simulator).

    .venv/bin/python bench/bench_prodsys.py --prodsys-python /path/to/venv-with-prodsys/bin/python
                                            [--machines 5] [--horizon-h 24] [--replications 30]
                                            [--prodsys-replications 5]

Both simulate the same line: ``--machines`` machines in series, exponential cycle times,
exponential operating times between failures and exponential repairs, the first machine never
short of material, buffers large enough never to block. That is the part of both models that
coincides: prodsys' express API gives its resources unbounded queues (a finite buffer needs its
lower-level adapter) and ages machines in calendar time, twinbridge in operating time, which
agree for the bottleneck that is always busy and so for the line's throughput. prodsys has a
source instead of an endless supply: its parts arrive (exponentially) faster than the first
machine can take them.

prodsys runs in its own interpreter (``bench/prodsys_line.py``), since it pins libraries of its
own (pandas, scipy...) that twinbridge does not need. Prints each simulator's throughput with
its 95 % confidence interval over its replications, whether the intervals overlap, and the
wall time per replication with the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from twinbridge.simulation.distributions import Exponential
from twinbridge.simulation.engine import HOUR, LineModel, MachineModel, RunSettings, run_line
from twinbridge.simulation.spec import Failures, MachineSimulation, Reactive
from twinbridge.simulation.statistics import Interval, interval

NEVER_FULL = 1_000_000  # the largest buffer a machine may declare


def parameters(machines: int, horizon_h: float) -> dict[str, object]:
    """The line in plain numbers, as both sides read it (the third machine is the bottleneck)."""
    cycles = [30.0, 33.0, 36.0, 30.0, 33.0]
    return {
        "machines": [{"name": f"M{i:02d}", "cycle_s": cycles[i % len(cycles)], "mtbf_h": 2.0 + (i % 2),
                      "mttr_h": 0.2} for i in range(machines)],
        "arrival_s": 20.0,  # prodsys' source: faster than any machine, so the first is never starved
        "horizon_h": horizon_h,
    }


def line_model(spec: dict[str, object]) -> LineModel:
    machines = spec["machines"]
    assert isinstance(machines, list)
    return LineModel("Line", tuple(
        MachineModel(m["name"], MachineSimulation(
            cycle_time_s=m["cycle_s"], cycle_time=Exponential(mean=m["cycle_s"]), buffer_after=NEVER_FULL,
            failures=Failures(time_between_h=Exponential(mean=m["mtbf_h"]),
                              time_to_repair_h=Exponential(mean=m["mttr_h"]))))
        for m in machines))


def ours(spec: dict[str, object], replications: int) -> tuple[list[float], list[float]]:
    """Parts per hour leaving the last machine, and wall seconds, per replication."""
    model = line_model(spec)
    horizon_h = float(spec["horizon_h"])  # type: ignore[arg-type]
    settings = RunSettings(horizon_h * HOUR, 0.0, Reactive(), None)
    rates, walls = [], []
    for replication in range(replications):
        started = time.perf_counter()
        raw = run_line(model, settings, 1, replication)
        walls.append(time.perf_counter() - started)
        rates.append(raw["machines"][-1]["good"] / horizon_h)
    return rates, walls


def theirs(python: str, spec: dict[str, object], replications: int) -> tuple[list[float], list[float]]:
    script = Path(__file__).with_name("prodsys_line.py")
    result = subprocess.run([python, str(script), json.dumps(spec), *map(str, range(1, replications + 1))],
                            capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    horizon_h = float(spec["horizon_h"])  # type: ignore[arg-type]
    return [row["parts"] / horizon_h for row in rows], [row["wall_s"] for row in rows]


def show(name: str, rates: Interval, walls: list[float]) -> None:
    print(f"  {name:<11} {rates.mean:7.2f} parts/h  95% CI [{rates.low:7.2f}, {rates.high:7.2f}]  "
          f"n={rates.n:<3} {statistics.median(walls):8.3f} s per replication (median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prodsys-python", default=os.environ.get("PRODSYS_PYTHON"),
                        help="an interpreter with prodsys installed (default: $PRODSYS_PYTHON)")
    parser.add_argument("--machines", type=int, default=5)
    parser.add_argument("--horizon-h", type=float, default=24.0)
    parser.add_argument("--replications", type=int, default=30)
    parser.add_argument("--prodsys-replications", type=int, default=5)
    args = parser.parse_args()
    if not args.prodsys_python:
        print("bench_prodsys: no prodsys interpreter given; make one with `python3 -m venv /work/prodsys-venv && "
              "/work/prodsys-venv/bin/pip install prodsys==1.3.1` and pass --prodsys-python or set PRODSYS_PYTHON")
        return
    spec = parameters(args.machines, args.horizon_h)
    our_rates, our_walls = ours(spec, args.replications)
    their_rates, their_walls = theirs(args.prodsys_python, spec, args.prodsys_replications)
    a, b = interval(our_rates), interval(their_rates)
    print(f"{args.machines}-machine line, {args.horizon_h:g} h, exponential cycles, failures and repairs:")
    show("twinbridge", a, our_walls)
    show("prodsys", b, their_walls)
    overlap = a.low <= b.high and b.low <= a.high
    print(f"  intervals overlap: {'yes' if overlap else 'NO'}; difference of means {a.mean - b.mean:+.2f} parts/h")
    print(f"  wall time per replication, prodsys / twinbridge: "
          f"{statistics.median(their_walls) / statistics.median(our_walls):.0f}x")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
