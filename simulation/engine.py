"""One replication of one line: SimPy processes for stations, containers for buffers.

The model is the textbook serial line: an endless supply before the first machine and an
endless sink after the last; each machine has ``stations`` identical parallel stations that
take parts from the buffer before it and put them into the buffer after it, blocking after
service when that buffer is full (the holding station keeps its part). Failures are
operation-dependent: a station ages only while it processes, and a failure interrupts the
part, which resumes after the repair. Maintenance renews a station like a repair does.

Per part and station the loop costs one SimPy timeout (buffers hand parts over without events
when they can, see ``_Buffer``): failures and services are found by comparing the station's age with its next due
times, not with interrupt processes (a week of a 20-machine line at a 30 s cycle: ~400,000
parts × stations, about 0.5 s per replication on one core of the 2-core machine).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from twinbridge.simulation.spec import Failures, MachineSimulation, Policy, ShiftCalendar

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY


@dataclass(frozen=True, slots=True)
class MachineModel:
    name: str
    sim: MachineSimulation


@dataclass(frozen=True, slots=True)
class LineModel:
    name: str
    machines: tuple[MachineModel, ...]


@dataclass(frozen=True, slots=True)
class RunSettings:
    horizon_s: float
    warmup_s: float
    policy: Policy
    shifts: ShiftCalendar | None


@dataclass(slots=True)
class _Counters:
    """Cumulative per-machine counters; the window's figures are end minus warm-up snapshot."""

    busy: float = 0.0
    starved: float = 0.0
    blocked: float = 0.0
    waiting_shift: float = 0.0
    down_failure: float = 0.0
    down_service: float = 0.0
    failures: int = 0
    services: int = 0
    good: int = 0
    scrap: int = 0

    def minus(self, other: _Counters) -> _Counters:
        return _Counters(*(getattr(self, f) - getattr(other, f) for f in _COUNTER_FIELDS))

    def copy(self) -> _Counters:
        return _Counters(*(getattr(self, f) for f in _COUNTER_FIELDS))


_COUNTER_FIELDS = tuple(_Counters.__dataclass_fields__)


class _Buffer:
    """A bounded buffer of parts between two machines, blocking after service.

    Not a ``simpy.Container``: a get or put that can happen at once happens without an event
    (a Container makes and schedules one for each), so the common case costs no trip through
    SimPy's queue; only a starved or blocked station waits on an event. That cut a week of a
    20-machine line from 3 events per part and station to ~1 (about 2.5x faster).
    """

    __slots__ = ("area", "capacity", "entries", "getters", "last_time", "level", "passed", "putters", "waited")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.level = 0
        self.getters: deque[simpy.Event] = deque()
        self.putters: deque[simpy.Event] = deque()
        self.area = 0.0
        self.last_time = 0.0
        # FIFO entry times: the waiting time of each part, measured part by part, so the tests can
        # check Little's law (area / time = throughput × wait) instead of assuming it.
        self.entries: deque[float] = deque()
        self.waited = 0.0
        self.passed = 0

    def _change(self, now: float, delta: int) -> None:
        self.area += self.level * (now - self.last_time)
        self.last_time = now
        self.level += delta

    def settle(self, now: float) -> None:
        """Bring the level-time integral up to ``now`` (warm-up snapshot, end of run)."""
        self._change(now, 0)

    def take(self, now: float) -> bool:
        """Take a part if one is there; a station blocked on this buffer then puts its own.

        The level integral is updated inline (not through ``_change``): take and give run once per
        part and station, and the call cost 8 % of a replication."""
        level = self.level
        if not level:
            return False
        self.area += level * (now - self.last_time)
        self.last_time = now
        self.waited += now - self.entries.popleft()
        self.passed += 1
        if self.putters:
            self.entries.append(now)
            self.putters.popleft().succeed()
        else:
            self.level = level - 1
        return True

    def give(self, now: float) -> bool:
        """Hand a part to a waiting station or store it; False when full (then wait in ``putters``)."""
        if self.getters:
            self.passed += 1
            self.getters.popleft().succeed()
            return True
        level = self.level
        if level < self.capacity:
            self.area += level * (now - self.last_time)
            self.last_time = now
            self.level = level + 1
            self.entries.append(now)
            return True
        return False


@dataclass(slots=True)
class _Line:
    counters: list[_Counters]
    buffers: list[_Buffer]
    snapshot: list[_Counters] = field(default_factory=list)
    area_snapshot: list[float] = field(default_factory=list)
    waits_snapshot: list[tuple[float, int]] = field(default_factory=list)


class Calendar:
    """Working time of a shift calendar, in seconds from the start of a week (Monday 00:00)."""

    def __init__(self, shifts: ShiftCalendar | None) -> None:
        self.shifts = shifts
        self.day_work = DAY if shifts is None else shifts.shifts_per_day * shifts.hours_per_shift * HOUR

    def working(self, t: float) -> bool:
        shifts = self.shifts
        if shifts is None:
            return True
        return (t % WEEK) // DAY < shifts.days_per_week and t % DAY < self.day_work

    def next_start(self, t: float) -> float:
        """The next moment at or after ``t`` when work is allowed."""
        if self.working(t):
            return t
        assert self.shifts is not None
        day = math.floor(t / DAY)
        while True:
            day += 1
            if day % 7 < self.shifts.days_per_week:
                return day * DAY

    def planned(self, start: float, end: float) -> float:
        """Working seconds within [start, end)."""
        if self.shifts is None:
            return end - start
        total, day = 0.0, math.floor(start / DAY)
        while day * DAY < end:
            if day % 7 < self.shifts.days_per_week:
                lo, hi = max(start, day * DAY), min(end, day * DAY + self.day_work)
                total += max(0.0, hi - lo)
            day += 1
        return total


def stream(seed: int, replication: int, *parts: object) -> random.Random:
    """An independent random stream per purpose: common random numbers across scenarios, so a
    change to one machine leaves every other machine's draws the same (paired comparisons)."""
    return random.Random("/".join(str(p) for p in (seed, replication, *parts)))


def run_line(line: LineModel, settings: RunSettings, seed: int, replication: int) -> dict[str, Any]:
    """Simulate one replication and return the window's raw figures (plain data, picklable)."""
    env = simpy.Environment()
    calendar = Calendar(settings.shifts)
    machines = line.machines
    buffers = [_Buffer(m.sim.buffer_after) for m in machines[:-1]]
    state = _Line(counters=[_Counters() for _ in machines], buffers=buffers)
    for index, machine in enumerate(machines):
        upstream = buffers[index - 1] if index > 0 else None
        downstream = buffers[index] if index < len(buffers) else None
        for station in range(machine.sim.stations):
            env.process(_station(env, machine, station, upstream, downstream, state.counters[index], settings,
                                 calendar, seed, replication, line.name))
    env.process(_warmup(env, settings.warmup_s, state))
    env.run(until=settings.horizon_s)
    for buffer in buffers:
        buffer.settle(settings.horizon_s)
    window = settings.horizon_s - settings.warmup_s
    return {
        "window_s": window,
        "planned_s": calendar.planned(settings.warmup_s, settings.horizon_s),
        "machines": [
            {"name": m.name, "stations": m.sim.stations, "cycle_time_s": m.sim.cycle_time_s,
             "power_kw": m.sim.power_kw.model_dump(),
             **{f: getattr(c.minus(s), f) for f in _COUNTER_FIELDS}}
            for m, c, s in zip(machines, state.counters, state.snapshot, strict=True)
        ],
        "wip": sum(b.area - a for b, a in zip(buffers, state.area_snapshot, strict=True)) / window,
        "buffers": [
            {"after": m.name, "mean_level": (b.area - a) / window, "waited_s": b.waited - w, "passed": b.passed - n}
            for m, b, a, (w, n) in zip(machines, buffers, state.area_snapshot, state.waits_snapshot, strict=False)
        ],
    }


def _warmup(env: simpy.Environment, warmup_s: float, state: _Line) -> Generator[simpy.Event, Any, None]:
    yield env.timeout(warmup_s)
    for buffer in state.buffers:
        buffer.settle(env.now)
    state.snapshot = [c.copy() for c in state.counters]
    state.area_snapshot = [b.area for b in state.buffers]
    state.waits_snapshot = [(b.waited, b.passed) for b in state.buffers]


def _station(
    env: simpy.Environment, machine: MachineModel, station: int, upstream: _Buffer | None,
    downstream: _Buffer | None, counters: _Counters, settings: RunSettings, calendar: Calendar,
    seed: int, replication: int, line: str,
) -> Generator[simpy.Event, Any, None]:
    sim = machine.sim
    cycle_rng = stream(seed, replication, line, machine.name, station, "cycle")
    fail_rng = stream(seed, replication, line, machine.name, station, "failure")
    quality_rng = stream(seed, replication, line, machine.name, station, "quality")
    draw_cycle = sim.cycle_time.sampler(cycle_rng) if sim.cycle_time is not None else None
    fixed_cycle = sim.cycle_time_s
    failures = sim.failures
    draw_repair = failures.time_to_repair_h.sampler(fail_rng) if failures is not None else None
    policy = settings.policy
    timeout = env.timeout
    scrap_rate = sim.scrap_rate
    shifts = calendar.shifts is not None

    # Due times in operating seconds since the last renewal (repair or service); ``limit`` is the
    # earlier of the two, so a part that ends before it costs one comparison, not a min() call.
    age = 0.0
    next_failure, predicted = _draw_failure(failures, fail_rng)
    due = policy.service_due_s(next_failure, predicted)
    limit = due if due <= next_failure else next_failure
    while True:
        if upstream is not None and not upstream.take(env.now):
            start = env.now
            arrival = env.event()
            upstream.getters.append(arrival)
            yield arrival
            counters.starved += env.now - start
        if shifts and not calendar.working(env.now):
            start = env.now
            yield timeout(calendar.next_start(start) - start)
            counters.waiting_shift += env.now - start
        remaining = draw_cycle() if draw_cycle is not None else fixed_cycle
        while True:
            until = limit - age
            if remaining < until:
                yield timeout(remaining)
                age += remaining
                counters.busy += remaining
                break
            if until > 0.0:
                yield timeout(until)
                age += until
                remaining -= until
                counters.busy += until
            if due <= next_failure:
                duration = policy.service_s
                yield timeout(duration)
                counters.down_service += duration
                counters.services += 1
            else:
                assert draw_repair is not None
                repair = draw_repair() * HOUR
                yield timeout(repair)
                counters.down_failure += repair
                counters.failures += 1
            age = 0.0
            next_failure, predicted = _draw_failure(failures, fail_rng)
            due = policy.service_due_s(next_failure, predicted)
            limit = due if due <= next_failure else next_failure
            if remaining <= 0.0:
                break
        if scrap_rate and quality_rng.random() < scrap_rate:
            counters.scrap += 1
            continue
        if downstream is not None and not downstream.give(env.now):
            start = env.now
            space = env.event()
            downstream.putters.append(space)
            yield space
            counters.blocked += env.now - start
        counters.good += 1


def _draw_failure(failures: Failures | None, rng: random.Random) -> tuple[float, bool]:
    """Operating seconds until the next failure, and whether monitoring will see it coming."""
    if failures is None:
        return math.inf, False
    return failures.time_between_h.sample(rng) * HOUR, rng.random() < failures.predictable
