"""In-process start of the 1,000-machine plant: CPU seconds, wall seconds and max RSS of
``Application(...)`` and its ``start()`` (store load, plant build, history, OPC UA when asked),
optionally profiled.

    .venv/bin/python bench/bench_start.py [--machines 1000] [--components 5] [--opcua] [--profile] [--restart]

Complements ``bench_memory.py`` (which times a ``twinbridge serve`` from outside, launch to first
answer): here the CPU seconds of the start itself are printed, which a loaded machine does not
inflate the way it inflates wall time, and ``--profile`` shows where they go (cProfile, top 40 by
cumulative time). ``--restart`` starts once unmeasured, stops, and measures the second start on
the same data directory (the store holds the plant: decoded, not built and encoded). Targets
(issue 8): ≤ 20 s and ≤ 1.2 GiB for the 6,111-shell plant.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import resource
import tempfile
import time
from pathlib import Path

import yaml
from bench_plant import description

from twinbridge.server.application import Application, Options
from twinbridge.server.config import load_plant_file


async def start(plant: Path, data: Path, opcua: bool, profile: cProfile.Profile | None) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    # constructed inside the timing: the twin loads the store there (all of a restart's documents)
    application = Application(load_plant_file(plant), Options(host="127.0.0.1", port=0, data=data,
                                                               token="t" * 32, opcua=opcua, opcua_port=0))
    try:
        await application.start()
    finally:
        if profile is not None:
            profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        await application.stop()
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--opcua", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--restart", action="store_true", help="measure a restart on the store of a first start")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        plant = Path(work) / "plant.yaml"
        plant.write_text(yaml.safe_dump({"plant": description(args.machines, args.components)}))
        profile = cProfile.Profile() if args.profile else None
        if args.restart:
            asyncio.run(start(plant, Path(work) / "data", args.opcua, None))
        wall, cpu = asyncio.run(start(plant, Path(work) / "data", args.opcua, profile))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"{args.machines} machines, OPC UA {'on' if args.opcua else 'off'}, "
          f"{'restart' if args.restart else 'first start'}: started in {cpu:.1f} s CPU "
          f"({wall:.1f} s wall), max RSS {rss:.2f} GiB; load average {os.getloadavg()[0]:.1f}")
    if profile is not None:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
