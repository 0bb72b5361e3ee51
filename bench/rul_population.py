"""What a simulated run-to-failure population hands to bench_rul.py's shared evaluation.

Why a module of its own: the pump (rul_pump.py) and the valve (rul_valve.py) simulate differently,
but the evaluation (levels learnt from training units, the lambda loop, metrics, the table) must
exist once, so both deliver the same record and share one keyed cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
TEST_SEED = 100  # seeds from here on are test units: never used while tuning


@dataclass(frozen=True)
class Population:
    """Per unit: sample times (s), the noisy health-indicator readings (from sensor outputs only)
    and the true failure time (s). For the model-based ceiling: the noise-free indicator of progpy
    runs over a wear-rate grid, sampled at the same instants, and their failure times.

    ``unit``/``unit_s`` name the reporting unit (hours for the pump, cycles for the valve); ``edge``
    is how many readings at each end of a training unit give its healthy and failure level."""

    name: str
    indicator: str
    unit: str
    unit_s: float
    edge: int
    seeds: list[int]
    times: list[FloatArray]
    readings: list[FloatArray]
    eols: FloatArray
    grid: FloatArray
    grid_curves: list[FloatArray]
    grid_eols: FloatArray


def split(data: dict[str, np.ndarray], indicator_key: str, seeds: list[int], grid: FloatArray,
          read: Callable[[int, FloatArray], FloatArray], *, name: str, indicator: str, unit: str, unit_s: float,
          edge: int) -> Population:
    """The population from simulation results: ``data`` holds the units' runs (in ``seeds``' order)
    then the grid's, under "times", ``indicator_key`` and "eol"; ``read`` gives a unit's readings
    from its seed and its indicator (adds the sensor noise, or nothing when the run already has it)."""
    n = len(seeds)
    times, curves = list(data["times"]), list(data[indicator_key])
    return Population(
        name=name, indicator=indicator, unit=unit, unit_s=unit_s, edge=edge, seeds=seeds, times=times[:n],
        readings=[read(seed, curve) for seed, curve in zip(seeds, curves[:n], strict=True)], eols=data["eol"][:n],
        grid=grid, grid_curves=curves[n:], grid_eols=data["eol"][n:])


def unit_seeds(train: int, test: int) -> list[int]:
    return list(range(train)) + [TEST_SEED + i for i in range(test)]


def cached(name: str, key: FloatArray, use_cache: bool,
           build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The simulation results under bench/.cache/NAME.npz, rebuilt when any parameter in ``key``
    (every one the simulation depends on) differs from the cached run."""
    path = CACHE_DIR / f"{name}.npz"
    if use_cache and path.exists():
        data = dict(np.load(path, allow_pickle=True))
        if data["key"].shape == key.shape and np.array_equal(data["key"], key):
            return data
    data = build()
    data["key"] = key
    CACHE_DIR.mkdir(exist_ok=True)
    np.savez(path, **data)  # type: ignore[arg-type]  # numpy's stub types **kwds as the allow_pickle flag
    return data


def ragged(arrays: list[FloatArray]) -> np.ndarray:
    """Arrays of different lengths as one object array (what np.savez can store)."""
    out = np.empty(len(arrays), dtype=object)
    for index, array in enumerate(arrays):
        out[index] = array
    return out
