"""progpy PneumaticValve population for bench_rul.py: spring wear, opening stroke time.

Why spring wear: a weakening return spring is a common actuator failure, its wear rate
(progpy's wk: k falls by wk·|v·spring force| while the piston moves) depends on use, and it shows
in a signal every plant logs: the valve opens faster against a softer spring. The other modes were
no better (tried at rates meant for ~50-cycle lives): a bottom leak stops the valve opening long
before its threshold, a top leak hardly moves the stroke time (only the closed valve's top
pressure), friction (wr) grows exponentially and fails within a few cycles of showing, and an
internal leak stops the stroke short of the end position at a fifth of its life.

Each valve cycles as in progpy's sim_valve example (20 s: open 10 s, close 10 s; pL 3.5e5 Pa, pR
2.0e5 Pa; dt 0.01 s) with wk log-normal around 0.2 (sigma 0.3 in log; a life of ~45 cycles, so a
population simulates in minutes), until the spring reaches kMin. The twin samples all six outputs
at 100 Hz with noise: Q sigma 1% of its open value, pB/pT sigma 0.01 MPa, x sigma 0.2 mm, and the
end-position switches' edges timestamped with a Gaussian error of sigma 20 ms (PLC scan and clock),
rounded to the sample. The health indicator is what a plant engineer reads from those signals: the
opening stroke time, from the open command to the open end-position switch (iT). The first cycle
is dropped: it starts from progpy's initial gas masses, not from the closed steady state.

progpy's PneumaticValveBase is the same model as PneumaticValve with the wear rates as parameters
instead of states: stepped directly (next_state, outputs per cycle in one vectorised call) it costs
~0.15 ms a step instead of ~0.5 ms through simulate_to_threshold saving every step's outputs. Its
state limits are checked rather than applied (spring wear never reaches them).
"""

from __future__ import annotations

import warnings
from multiprocessing import Pool

import numpy as np
from rul_population import FloatArray, Population, cached, ragged, split, unit_seeds

CYCLE_S = 20.0
DT = 0.01
P_LEFT, P_RIGHT = 3.5e5, 2.0e5
NOMINAL_WEAR = 0.2
SPREAD = 0.3
GRID = (0.08, 0.5, 12)
FLOW_NOISE = 0.01  # share of the open flow
PRESSURE_NOISE = 0.01  # MPa (progpy's pB/pT unit)
POSITION_NOISE = 2e-4  # m
SWITCH_NOISE_S = 0.02
MAX_CYCLES = 1000


def simulate(wear: float, seed: int | None) -> tuple[FloatArray, FloatArray, float]:
    """Opening stroke time per cycle (from noisy sensor readings with ``seed``, noise-free with
    None) at the end of each cycle's opening half, and the time the spring reaches kMin."""
    warnings.filterwarnings("ignore")
    from progpy.models.pneumatic_valve import PneumaticValveBase

    valve = PneumaticValveBase(process_noise=0, measurement_noise=0)
    valve.parameters["wk"] = wear
    opening = valve.InputContainer({"pL": P_LEFT, "pR": P_RIGHT, "uTop": False, "uBot": True})
    closing = valve.InputContainer({"pL": P_LEFT, "pR": P_RIGHT, "uTop": True, "uBot": False})
    rng = None if seed is None else np.random.default_rng(20_000 + seed)
    steps = round(CYCLE_S / DT)
    limited = [valve.states.index(name) for name in valve.state_limits]
    state = valve.initialize(opening)
    times: list[float] = []
    strokes: list[float] = []
    for cycle in range(MAX_CYCLES):
        history = np.empty((len(valve.states), steps))
        for step in range(steps):
            state = valve.next_state(state, opening if step < steps // 2 else closing, DT)
            history[:, step] = state.matrix[:, 0]
        if np.any(history[limited] < 0.0):
            raise RuntimeError(f"wk {wear}: a state left progpy's limits in cycle {cycle}")
        states = valve.StateContainer(history)
        failed = np.asarray(valve.threshold_met(states)["Spring Failure"]).ravel()
        start = cycle * CYCLE_S
        if failed.any():
            eol = start + (int(np.argmax(failed)) + 1) * DT
            keep = np.asarray(times) < eol
            return np.asarray(times)[keep][1:], np.asarray(strokes)[keep][1:], eol
        outputs = valve.output(states)
        sensors = {name: np.asarray(outputs[name], dtype=float).ravel() for name in valve.outputs}
        if rng is not None:
            sensors = noisy(sensors, rng)
        times.append(start + CYCLE_S / 2)
        strokes.append(stroke_time(sensors["iT"][: steps // 2]))
    raise RuntimeError(f"wk {wear}: no spring failure within {MAX_CYCLES} cycles")


def noisy(sensors: dict[str, FloatArray], rng: np.random.Generator) -> dict[str, FloatArray]:
    """What the twin receives: Gaussian noise on the analog signals, a timestamp error on the
    switches (a shifted edge: each sample shows the switch as it was ``shift`` samples earlier)."""
    n = len(sensors["x"])
    out = dict(sensors)
    out["Q"] = sensors["Q"] + rng.normal(0.0, FLOW_NOISE * float(np.max(np.abs(sensors["Q"]))), n)
    for name in ("pB", "pT"):
        out[name] = sensors[name] + rng.normal(0.0, PRESSURE_NOISE, n)
    out["x"] = sensors["x"] + rng.normal(0.0, POSITION_NOISE, n)
    for name in ("iB", "iT"):
        shift = round(float(rng.normal(0.0, SWITCH_NOISE_S)) / DT)
        out[name] = sensors[name][np.clip(np.arange(n) - shift, 0, n - 1)]
    return out


def stroke_time(open_switch: FloatArray) -> float:
    """Seconds from the open command (the first sample of the half-cycle) until the open
    end-position switch reads true; NaN when the valve did not reach it."""
    reached = np.flatnonzero(open_switch > 0.5)
    return float((reached[0] + 1) * DT) if len(reached) else float("nan")


def wear_of(seed: int) -> float:
    return float(NOMINAL_WEAR * np.exp(np.random.default_rng(seed).normal(0.0, SPREAD)))


def _run(job: tuple[float, int | None]) -> tuple[FloatArray, FloatArray, float]:
    return simulate(*job)


def population(train: int, test: int, use_cache: bool) -> Population:
    seeds = unit_seeds(train, test)
    grid = np.geomspace(*GRID)
    key = np.asarray([train, test, CYCLE_S, DT, P_LEFT, P_RIGHT, NOMINAL_WEAR, SPREAD, *GRID, FLOW_NOISE,
                      PRESSURE_NOISE, POSITION_NOISE, SWITCH_NOISE_S, MAX_CYCLES])

    def build() -> dict[str, np.ndarray]:
        jobs: list[tuple[float, int | None]] = [(wear_of(seed), seed) for seed in seeds]
        jobs += [(float(wear), None) for wear in grid]
        # the longest runs first, so the two workers finish together
        order = sorted(range(len(jobs)), key=lambda index: jobs[index][0])
        with Pool(2) as pool:
            done = dict(zip(order, pool.map(_run, [jobs[index] for index in order], chunksize=1), strict=True))
        runs = [done[index] for index in range(len(jobs))]
        return {"times": ragged([r[0] for r in runs]), "stroke": ragged([r[1] for r in runs]),
                "eol": np.asarray([r[2] for r in runs])}

    return split(cached("rul_valve", key, use_cache, build), "stroke", seeds, grid, lambda seed, strokes: strokes,
                 name="PneumaticValve", indicator="opening stroke time (s)", unit="cycles", unit_s=CYCLE_S, edge=5)
