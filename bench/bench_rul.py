"""Remaining useful life on NASA progpy run-to-failure trajectories: CentrifugalPump and PneumaticValve.

Usage: python bench/bench_rul.py [--model pump|valve|both] [--form power|curve] [--train N] [--test N]
                                 [--no-cache]

Each model's population is simulated offline (bench/rul_pump.py: impeller wear, flow readings;
bench/rul_valve.py: spring wear, opening stroke time from the end-position switch) and cached under
bench/.cache/. Estimators see only the health indicator derived from noisy sensor outputs:

- ``trend`` (ours, analytics.rul.TrendRul): hinge fit + residual bootstrap toward the failure level
  learnt from the training units, in one of two drift forms: ``power`` (the indicator itself, a
  power-law drift from a searched onset) or ``curve`` (the indicator read as life share through a
  HealthCurve learnt from the training units, a straight line from the installation). Without
  ``--form``, the form with the lower leave-one-out RMSE over the training units.
- ``naive``: mean life of the training units minus the age.
- ``model`` (ceiling): progpy's own model, which knows the true dynamics: the wear rate is found by
  matching the readings so far against progpy simulations over a wear-rate grid (interpolated), and
  its simulated end of life gives the RUL.

Training seeds tune nothing but the healthy and failure levels, the drift exponent or health curve,
the drift form and the mean life; the figures are on the test seeds (100+), never used while
tuning. Metrics at 20%, 30%, ... 90% of each unit's life: RMSE, PHM08 score (d = predicted - true
in the reporting unit: hours for the pump, cycles for the valve; exp(-d/13)-1 early, exp(d/10)-1
late; mean per prediction), alpha-lambda accuracy (share within +-20% of the true RUL), 90%
interval coverage.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import rul_pump
import rul_valve
from rul_population import TEST_SEED, FloatArray, Population

from twinbridge.analytics.rul import CurveRul, HealthCurve, RulEstimate, RulEstimator, TrendRul, fit_shape

LAMBDAS = np.round(np.arange(0.2, 0.91, 0.1), 2)
MODELS = {"pump": rul_pump.population, "valve": rul_valve.population}
FORMS = ("power", "curve")


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


@dataclass(frozen=True)
class Learnt:
    """What training units teach the estimator: ``power``: the indicator's levels and drift exponent
    (TrendRul searches the onset); ``curve``: the HealthCurve the twin's CurveRul reads readings
    through (plant file ``rul.curve``); and the mean life."""

    form: str
    failure_level: float
    healthy_level: float
    shape: float
    mean_life: float
    curve: HealthCurve | None
    indicator_levels: tuple[float, float]  # healthy, failure: in the indicator's own unit

    def estimator(self, seed: int, anchor: bool) -> RulEstimator:
        """The estimator the twin builds from the same plant-file settings (server/analytics_service.py):
        a curve's from the installation (t = 0), else the power law's."""
        if self.curve is not None:
            return CurveRul(self.curve, installed=0.0, seed=seed)
        return TrendRul(self.failure_level, healthy_level=self.healthy_level if anchor else None, shape=self.shape,
                        seed=seed)


def learn(pop: Population, units: list[int], form: str, anchor: bool) -> Learnt:
    """``power``: the indicator itself, its healthy and failure levels (each unit's first and last
    readings, a line evaluated at its first reading and at its failure time) and the exponent of a
    power-law drift. ``curve``: the indicator read through the HealthCurve of these units, which
    grows in a straight line from 0 at the installation (t = 0) to 1 at failure."""
    times, readings, eols, edge = pop.times, pop.readings, pop.eols, pop.edge
    mean_life = float(np.mean(eols[units]))
    if form == "curve":
        curve = HealthCurve([(times[i], readings[i], float(eols[i])) for i in units])
        return Learnt(form, 1.0, 0.0, 1.0, mean_life, curve, (curve.healthy_level, curve.failure_level))
    failure_level = float(np.mean([np.polyval(np.polyfit(times[i][-edge:], readings[i][-edge:], 1), eols[i])
                                   for i in units]))
    healthy_level = float(np.mean([np.polyval(np.polyfit(times[i][:edge], readings[i][:edge], 1), times[i][0])
                                   for i in units]))
    shape = fit_shape([(times[i], readings[i]) for i in units], healthy_level) if anchor else 1.0
    return Learnt(form, failure_level, healthy_level, shape, mean_life, None, (healthy_level, failure_level))


def predict(pop: Population, unit: int, learnt: Learnt, anchor: bool) -> list[tuple[float, float, RulEstimate]]:
    """The estimator fed the unit's readings up to each lambda of its life: (time, true RUL, estimate)."""
    times, readings = pop.times[unit], pop.readings[unit]
    estimator = learnt.estimator(int(pop.seeds[unit]), anchor)
    out = []
    at = 0
    for lam in LAMBDAS.tolist():
        now = lam * pop.eols[unit]
        while at < len(times) and times[at] <= now:
            estimator.update(float(times[at]), float(readings[at]))
            at += 1
        t_now = float(times[at - 1])
        out.append((t_now, float(pop.eols[unit] - t_now), estimator.estimate()))
    return out


def rul_or_naive(estimate: RulEstimate, learnt: Learnt) -> float:
    """Without a visible trend TrendRul gives no RUL: the naive estimate stands in."""
    return estimate.rul if estimate.rul is not None else max(learnt.mean_life - estimate.time, 0.0)


def choose_form(pop: Population, train: list[int], anchor: bool) -> tuple[str, dict[str, float]]:
    """The drift form with the lower leave-one-out RMSE over the training units (never a test unit)."""
    rmse: dict[str, float] = {}
    for form in FORMS:
        errors = []
        for unit in train:
            learnt = learn(pop, [i for i in train if i != unit], form, anchor)
            predictions = predict(pop, unit, learnt, anchor)
            errors += [rul_or_naive(estimate, learnt) - truth for _, truth, estimate in predictions]
        rmse[form] = float(np.sqrt(np.mean(np.square(errors)))) / pop.unit_s
    return min(rmse, key=rmse.__getitem__), rmse


def evaluate(pop: Population, anchor: bool, forced: str | None) -> None:
    """Learn from the training units, predict the test units at every lambda, print the table."""
    train = [i for i, s in enumerate(pop.seeds) if s < TEST_SEED]
    test = [i for i, s in enumerate(pop.seeds) if s >= TEST_SEED]
    if not anchor:  # the curve form is anchored at 0 by construction
        forced = "power"
    form, cv = (forced, {}) if forced else choose_form(pop, train, anchor)
    learnt = learn(pop, train, form, anchor)
    ceiling = ModelBased(pop.grid, pop.grid_curves, pop.grid_eols, max(len(r) for r in pop.readings))
    u, eols = pop.unit_s, pop.eols
    print(f"\n== {pop.name}: indicator {pop.indicator}; {len(train)} training + {len(test)} test units "
          f"+ {len(pop.grid)} model-grid runs")
    if cv:
        print("drift form, leave-one-out RMSE over the training units: "
              + ", ".join(f"{name} {value:.3f} {pop.unit}" for name, value in cv.items()) + f" -> {form}")
    healthy, failure = learnt.indicator_levels
    print(f"training: healthy level {healthy:.5f}, failure level {failure:.5f}, "
          f"drift exponent {learnt.shape:.3f}{' (of the life share)' if form == 'curve' else ''}, "
          f"mean life {learnt.mean_life / u:.2f} {pop.unit}; "
          f"test lives {eols[test].min() / u:.1f}-{eols[test].max() / u:.1f} {pop.unit}")

    errors: dict[str, list[float]] = {"trend": [], "naive": [], "model": []}
    truths: list[float] = []
    covered = 0
    tick = time.perf_counter()
    for i in test:
        for t_now, truth, estimate in predict(pop, i, learnt, anchor):
            if estimate.lower is not None and estimate.upper is not None and estimate.lower <= truth <= estimate.upper:
                covered += 1
            errors["trend"].append(rul_or_naive(estimate, learnt) - truth)
            errors["naive"].append(max(learnt.mean_life - t_now, 0.0) - truth)
            errors["model"].append(ceiling.rul(pop.readings[i][: int(np.sum(pop.times[i] <= t_now))], t_now) - truth)
            truths.append(truth)
    elapsed = time.perf_counter() - tick
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
          f"updates and estimate per prediction: {1000 * elapsed / len(truths):.2f} ms ({len(truths)} predictions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=[*MODELS, "both"], default="both")
    parser.add_argument("--train", type=int, default=10)
    parser.add_argument("--test", type=int, default=12)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--form", choices=FORMS, help="drift form (default: chosen on the training units)")
    parser.add_argument("--free-level", action="store_true",
                        help="do not anchor the fit at the learnt healthy level (power form only)")
    args = parser.parse_args()
    for name in MODELS if args.model == "both" else [args.model]:
        started = time.perf_counter()
        pop = MODELS[name](args.train, args.test, not args.no_cache)
        print(f"\nprogpy {pop.name} population ready in {time.perf_counter() - started:.1f} s (incl. cache)")
        evaluate(pop, not args.free_level, args.form)


if __name__ == "__main__":
    main()
