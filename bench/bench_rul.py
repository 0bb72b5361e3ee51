"""Remaining useful life on NASA progpy run-to-failure trajectories (CentrifugalPump).

Usage: python bench/bench_rul.py [--model pump|both] [--train N] [--test N] [--no-cache]

Each model's population is simulated offline (bench/rul_pump.py: impeller wear, flow readings)
and cached under bench/.cache/. Estimators see only the health indicator derived from noisy sensor outputs:

- ``trend`` (ours, analytics.rul.TrendRul): hinge fit + residual bootstrap toward the failure level
  learnt from the training units.
- ``naive``: mean life of the training units minus the age.
- ``model`` (ceiling): progpy's own model, which knows the true dynamics: the wear rate is found by
  matching the readings so far against progpy simulations over a wear-rate grid (interpolated), and
  its simulated end of life gives the RUL.

Training seeds tune nothing but the healthy and failure levels, the drift exponent and the mean
life; the figures are on the test seeds (100+), never used while tuning. Metrics at 20%, 30%, ...
90% of each unit's life: RMSE, PHM08 score (d = predicted - true in the reporting unit: hours for
the pump; exp(-d/13)-1 early, exp(d/10)-1 late; mean per prediction),
alpha-lambda accuracy (share within +-20% of the true RUL), 90% interval coverage.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import rul_pump
from rul_population import FloatArray, Population

from twinbridge.analytics.rul import TrendRul, fit_shape

LAMBDAS = np.round(np.arange(0.2, 0.91, 0.1), 2)
MODELS = {"pump": rul_pump.population}


class ModelBased:
    """The ceiling: progpy trajectories over a wear grid, interpolated in log(wear) (400 steps)."""

    def __init__(self, grid: FloatArray, curves: list[FloatArray], eols: FloatArray, length: int) -> None:
        padded = np.asarray([np.pad(c, (0, max(0, length - len(c))), mode="edge")[:length] for c in curves])
        fine = np.linspace(0, len(grid) - 1, 400)
        low = np.floor(fine).astype(int).clip(0, len(grid) - 2)
        frac = (fine - low)[:, None]
        self.curves = padded[low] * (1 - frac) + padded[low + 1] * frac
        self.eols = np.exp(np.log(eols[low]) * (1 - frac[:, 0]) + np.log(eols[low + 1]) * frac[:, 0])

    def rul(self, observed: FloatArray, now: float) -> float:
        error = ((self.curves[:, : len(observed)] - observed) ** 2).sum(axis=1)
        return max(float(self.eols[int(np.argmin(error))]) - now, 0.0)


def phm08(d: FloatArray) -> float:
    return float(np.mean(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def evaluate(pop: Population, anchor: bool) -> None:
    """Learn from the training units, predict the test units at every lambda, print the table."""
    train = [i for i, s in enumerate(pop.seeds) if s < 100]
    test = [i for i, s in enumerate(pop.seeds) if s >= 100]
    times, readings, eols, edge = pop.times, pop.readings, pop.eols, pop.edge
    # what the training units teach: the indicator at failure (each unit's last readings, a line
    # evaluated at its failure time), the healthy level, the drift's shape and the mean life
    failure_level = float(np.mean([np.polyval(np.polyfit(times[i][-edge:], readings[i][-edge:], 1), eols[i])
                                   for i in train]))
    healthy_level = float(np.mean([np.polyval(np.polyfit(times[i][:edge], readings[i][:edge], 1), times[i][0])
                                   for i in train]))
    shape = fit_shape([(times[i], readings[i]) for i in train], healthy_level) if anchor else 1.0
    mean_life = float(np.mean(eols[train]))
    ceiling = ModelBased(pop.grid, pop.grid_curves, pop.grid_eols, max(len(r) for r in readings))
    u = pop.unit_s
    print(f"\n== {pop.name}: indicator {pop.indicator}; {len(train)} training + {len(test)} test units "
          f"+ {len(pop.grid)} model-grid runs")
    print(f"training: healthy level {healthy_level:.5f}, failure level {failure_level:.5f}, "
          f"drift exponent {shape:.3f}, mean life {mean_life / u:.2f} {pop.unit}; "
          f"test lives {eols[test].min() / u:.1f}-{eols[test].max() / u:.1f} {pop.unit}")

    errors: dict[str, list[float]] = {"trend": [], "naive": [], "model": []}
    truths: list[float] = []
    covered = 0
    estimate_time = 0.0
    for i in test:
        estimator = TrendRul(failure_level, healthy_level=healthy_level if anchor else None, shape=shape,
                             seed=pop.seeds[i])
        at = 0
        for lam in LAMBDAS.tolist():
            now = lam * eols[i]
            while at < len(times[i]) and times[i][at] <= now:
                estimator.update(float(times[i][at]), float(readings[i][at]))
                at += 1
            t_now = float(times[i][at - 1])
            truth = float(eols[i] - t_now)
            tick = time.perf_counter()
            estimate = estimator.estimate()
            estimate_time += time.perf_counter() - tick
            naive = max(mean_life - t_now, 0.0)
            ours = estimate.rul if estimate.rul is not None else naive
            if estimate.lower is not None and estimate.upper is not None and estimate.lower <= truth <= estimate.upper:
                covered += 1
            errors["trend"].append(ours - truth)
            errors["naive"].append(naive - truth)
            errors["model"].append(ceiling.rul(readings[i][:at], t_now) - truth)
            truths.append(truth)
    truth_arr = np.asarray(truths) / u
    rmse = {k: float(np.sqrt(np.mean(np.square(v)))) / u for k, v in errors.items()}
    print(f"\n{'estimator':10s} {'RMSE ' + pop.unit:>12s} {'PHM08':>8s} {'alpha-lambda (±20%)':>20s}")
    for name, values in errors.items():
        d = np.asarray(values) / u
        within = float(np.mean(np.abs(d) <= 0.2 * truth_arr))
        print(f"{name:10s} {rmse[name]:12.3f} {phm08(d):8.3f} {within:20.2f}")
    print(f"\ntrend / naive RMSE: {rmse['trend'] / rmse['naive']:.2f} (goal <= 0.5); "
          f"trend / model ceiling: {rmse['trend'] / rmse['model']:.2f} (goal <= 1.5)")
    print(f"90% interval coverage (trend): {covered / len(truths):.2f}; "
          f"one estimate: {1000 * estimate_time / len(truths):.2f} ms ({len(truths)} estimates)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=[*MODELS, "both"], default="both")
    parser.add_argument("--train", type=int, default=10)
    parser.add_argument("--test", type=int, default=12)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--free-level", action="store_true", help="do not anchor the fit at the learnt healthy level")
    args = parser.parse_args()
    for name in MODELS if args.model == "both" else [args.model]:
        started = time.perf_counter()
        pop = MODELS[name](args.train, args.test, not args.no_cache)
        print(f"\nprogpy {pop.name} population ready in {time.perf_counter() - started:.1f} s (incl. cache)")
        evaluate(pop, not args.free_level)


if __name__ == "__main__":
    main()
