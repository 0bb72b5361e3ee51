"""progpy CentrifugalPump population for bench_rul.py: impeller wear, flow sensor readings.

A population of pumps whose impeller wears at different rates (wA log-normal around 0.01, sigma 0.3
in log, constant operating point) is simulated offline with progpy (dt = 2 s: dt >= 5 s changes the
dynamics), and the flow sensor Qout is read every 300 s with Gaussian noise (sigma 0.0005, ~0.5% of
the signal). The indicator is that reading itself.
"""

from __future__ import annotations

import warnings
from multiprocessing import Pool

import numpy as np
from rul_population import FloatArray, Population, cached, ragged, split, unit_seeds

SAMPLE_S = 300.0
DT = 2.0
NOISE = 0.0005
NOMINAL_WEAR = 0.01
SPREAD = 0.3
THRUST_WEAR, RADIAL_WEAR = 7e-11, 3e-11
V = 471.2389
GRID = (0.004, 0.03, 16)


def simulate(wear: float) -> tuple[FloatArray, FloatArray, float]:
    """Noise-free Qout every SAMPLE_S seconds until impeller failure, and the failure time."""
    warnings.filterwarnings("ignore")
    from progpy.models import CentrifugalPump

    pump = CentrifugalPump(process_noise=0, measurement_noise=0)
    pump.parameters["x0"]["wA"] = wear
    pump.parameters["x0"]["wThrust"] = THRUST_WEAR
    pump.parameters["x0"]["wRadial"] = RADIAL_WEAR
    load = pump.InputContainer({"Tamb": 290, "V": V, "pdisch": 7.5e5, "psuc": 2.5e5, "wsync": V * 0.8})
    result = pump.simulate_to_threshold(lambda t, x=None: load, dt=DT, save_freq=SAMPLE_S)
    times = np.asarray(result.times, dtype=float)
    flow = np.asarray([float(output["Qout"]) for output in result.outputs])
    return times[1:], flow[1:], float(times[-1])  # row 0 is the pump at rest


def wear_of(seed: int) -> float:
    return float(NOMINAL_WEAR * np.exp(np.random.default_rng(seed).normal(0.0, SPREAD)))


def readings(seed: int, flow: FloatArray) -> FloatArray:
    return flow + np.random.default_rng(10_000 + seed).normal(0.0, NOISE, len(flow))


def population(train: int, test: int, use_cache: bool) -> Population:
    seeds = unit_seeds(train, test)
    grid = np.geomspace(*GRID)
    key = np.asarray([train, test, SAMPLE_S, DT, NOMINAL_WEAR, SPREAD, THRUST_WEAR, RADIAL_WEAR, V, *GRID])

    def build() -> dict[str, np.ndarray]:
        with Pool(2) as pool:
            runs = pool.map(simulate, [wear_of(seed) for seed in seeds] + grid.tolist())
        return {"times": ragged([r[0] for r in runs]), "flow": ragged([r[1] for r in runs]),
                "eol": np.asarray([r[2] for r in runs])}

    return split(cached("rul_pump", key, use_cache, build), "flow", seeds, grid, readings, name="CentrifugalPump",
                 indicator="Qout", unit="h", unit_s=3600.0, edge=12)
