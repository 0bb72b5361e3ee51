"""What-if simulation speed: one simulated week of a 20-machine line with failures.

Prints, for the same line in the same run:
- one replication in-process with twinbridge's engine (median of runs, parts/s simulated);
- the same line written the obvious SimPy way (Container buffers, a failure process that
  interrupts the station), as the baseline of the ratio;
- 30 replications through the job runner on worker processes (wall time, what a REST job costs);
- peak memory of this process (RSS).
Targets (issue 15): ≤ 2 s per replication, 30 replications ≤ 10 s on the 2-core machine.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import statistics
import time
from collections.abc import Generator
from typing import Any

import simpy

from twinbridge.simulation.distributions import Exponential, Weibull
from twinbridge.simulation.engine import HOUR, LineModel, MachineModel, RunSettings, run_line
from twinbridge.simulation.runner import SimulationRunner
from twinbridge.simulation.spec import Failures, MachineSimulation, Reactive, Scenario

MACHINES = 20
WEEK_H = 168.0


def line() -> LineModel:
    machines = []
    for i in range(MACHINES):
        failures = Failures(time_between_h=Weibull(shape=1.5, scale=30.0 + 5 * (i % 4)),
                            time_to_repair_h=Exponential(mean=0.5 + 0.1 * (i % 3)))
        machines.append(MachineModel(f"M{i:02d}", MachineSimulation(
            cycle_time_s=30.0 + (i % 5), cycle_time=Exponential(mean=30.0 + (i % 5)), buffer_after=10,
            failures=failures)))
    return LineModel("Line", tuple(machines))


def naive_simpy(model: LineModel, horizon_s: float, seed: int) -> int:
    """The textbook SimPy line: Container buffers, failures as interrupts of the station."""
    env = simpy.Environment()
    rng = random.Random(seed)
    buffers = [simpy.Container(env, capacity=m.sim.buffer_after) for m in model.machines[:-1]]
    done = [0]
    working = [False] * len(model.machines)

    def station(index: int, machine: MachineModel) -> Generator[simpy.Event, Any, None]:
        sim = machine.sim
        while True:
            if index > 0:
                yield buffers[index - 1].get(1)
            remaining = sim.cycle_time.sample(rng) if sim.cycle_time else sim.cycle_time_s
            working[index] = True
            while remaining > 0:
                start = env.now
                try:
                    yield env.timeout(remaining)
                    remaining = 0
                except simpy.Interrupt:
                    remaining -= env.now - start
                    assert sim.failures is not None
                    working[index] = False
                    yield env.timeout(sim.failures.time_to_repair_h.sample(rng) * HOUR)
                    working[index] = True
            working[index] = False
            if index < len(buffers):
                yield buffers[index].put(1)
            else:
                done[0] += 1

    def breakdowns(index: int, process: simpy.Process, machine: MachineModel) -> Generator[simpy.Event, Any, None]:
        """Calendar-time failures that strike only a working station (an idle one is skipped)."""
        assert machine.sim.failures is not None
        while True:
            yield env.timeout(machine.sim.failures.time_between_h.sample(rng) * HOUR)
            if working[index]:
                process.interrupt()

    for index, machine in enumerate(model.machines):
        process = env.process(station(index, machine))
        env.process(breakdowns(index, process, machine))
    env.run(until=horizon_s)
    return done[0]


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


async def jobs(model: LineModel, replications: int, runs: int) -> list[float]:
    """Wall time of ``runs`` jobs on one runner: the first starts the worker processes (cold), the
    others find them running, as jobs do in a server after its first one."""
    runner = SimulationRunner({model.name: model}, workers=os.cpu_count())
    walls = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            job = await runner.run(Scenario(horizon_h=WEEK_H, warmup_h=8, replications=replications, compare=False))
            assert job.result is not None, job.error
            walls.append(time.perf_counter() - start)
        return walls
    finally:
        await runner.close()


def main() -> None:
    model = line()
    settings = RunSettings(WEEK_H * HOUR, 8 * HOUR, Reactive(), None)
    ours, naive, parts = [], [], 0
    for replication in range(5):
        seconds, raw = timed(run_line, model, settings, 1, replication)
        ours.append(seconds)
        parts = sum(m["good"] + m["scrap"] for m in raw["machines"])
        seconds, _ = timed(naive_simpy, model, WEEK_H * HOUR, replication)
        naive.append(seconds)
    one, base = statistics.median(ours), statistics.median(naive)
    print(f"one week, {MACHINES}-machine line with failures, one replication (median of 5):")
    print(f"  twinbridge engine   {one:6.2f} s   ({parts / one:,.0f} station-parts/s)")
    print(f"  obvious SimPy line  {base:6.2f} s   ratio {base / one:.2f}x (baseline / ours)")
    walls = asyncio.run(jobs(model, 30, 4))
    warm = statistics.median(walls[1:])
    print(f"30 replications as one job on {os.cpu_count()} worker processes: {warm:.2f} s with the workers "
          f"running (median of 3), {walls[0]:.2f} s for the first job (starts the workers)")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
