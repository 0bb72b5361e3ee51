"""Remaining useful life from a health indicator: degradation onset, trend, bootstrap interval.

Why this method: a wearing part (impeller, bearing, valve seal) shows a flat healthy level, then a
drift toward a failure level learnt from past run-to-failure units. Fitting that "hinge" (level, then
a straight line from an onset found by least squares) needs no model of the machine, extrapolates to
the failure level for the RUL, and a residual bootstrap of the same fit gives the interval. Measured
against progpy pump trajectories in bench/bench_rul.py (figures in BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RulEstimate:
    """One estimate. Times are in the unit of the samples' timestamps (seconds in the twin).

    ``health`` is 1 at the healthy level and 0 at the failure level. ``rul`` is None while no trend
    toward the failure level is visible; ``lower``/``upper`` bound it with the configured confidence;
    ``maintenance`` is the recommended window (absolute times): act in the second half of the
    pessimistic remaining life, so the part is neither replaced early nor run to failure.
    """

    time: float
    health: float
    rul: float | None
    lower: float | None
    upper: float | None
    onset: float | None
    maintenance: tuple[float, float] | None


class TrendRul:
    """Remaining useful life of one monitored asset from its health-indicator samples.

    ``failure_level`` is the indicator's value at failure (from past units or the data sheet).
    ``healthy_level``, when known from the same past units, anchors the fit (only the slope and the
    onset are estimated: on progpy pumps this halves the RMSE early in life); otherwise the healthy
    level is the mean of the first ``baseline`` samples and the fit also estimates the level. A later
    onset must earn its extra parameter (BIC against a line from the first sample). At most
    ``capacity`` samples are kept (the oldest go first); an estimate costs
    O(capacity · (onsets + bootstrap)). ``shape`` is the exponent p of the drift (level + b·(t -
    onset)^p): 1 is a straight line; wear that slows down (progpy's impeller: p ≈ 0.9) or speeds up
    has p below or above 1, learnt from past units with :func:`fit_shape`.
    """

    def __init__(self, failure_level: float, *, healthy_level: float | None = None, shape: float = 1.0,
                 baseline: int = 10,
                 confidence: float = 0.9, bootstrap: int = 200, onsets: int = 24, capacity: int = 5000,
                 seed: int = 0) -> None:
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        self.failure_level = failure_level
        self._baseline_count = baseline
        self._confidence = confidence
        self._bootstrap = bootstrap
        self._onsets = onsets
        self._capacity = capacity
        self._rng = np.random.default_rng(seed)
        self._times: list[float] = []
        self._values: list[float] = []
        self._anchor = healthy_level
        self._shape = shape
        self._baseline: float | None = healthy_level

    def update(self, t: float, value: float) -> None:
        if self._times and t <= self._times[-1]:
            raise ValueError(f"timestamps must increase: {t} after {self._times[-1]}")
        self._times.append(t)
        self._values.append(value)
        if self._baseline is None and len(self._values) >= self._baseline_count:
            self._baseline = float(np.mean(self._values))
        if len(self._times) > self._capacity:
            del self._times[0], self._values[0]

    def estimate(self) -> RulEstimate:
        if not self._times:
            raise ValueError("no samples yet")
        t = np.asarray(self._times)
        y = np.asarray(self._values)
        now = float(t[-1])
        baseline = self._baseline if self._baseline is not None else float(np.mean(y))
        span = baseline - self.failure_level
        enough = 3 if self._anchor is not None else max(self._baseline_count, 4)
        if len(t) < enough or span == 0.0:
            return RulEstimate(now, _health(float(y[-1]), baseline, self.failure_level), None, None, None, None, None)
        onset, design, coefficients, residuals = _fit_hinge(t, y, self._onsets, self._anchor, self._shape)
        level = float(coefficients[0]) if self._anchor is None else self._anchor
        slope = float(coefficients[-1])
        age = max(now - onset, 0.0)
        level_now = level + slope * age**self._shape
        health = _health(level_now, baseline, self.failure_level)
        if slope == 0.0 or np.sign(slope) != np.sign(-span):
            return RulEstimate(now, health, None, None, None, None, None)
        rul = self._time_to(self.failure_level - level, slope, age)
        # residual bootstrap with the onset held: refit the line on fitted + resampled residuals
        fitted = design @ coefficients
        draws = fitted[:, None] + self._rng.choice(residuals, size=(len(y), self._bootstrap), replace=True)
        boot = np.linalg.lstsq(design, draws, rcond=None)[0]
        boot_level = boot[0] if self._anchor is None else 0.0  # anchored: y was taken relative to the level
        target = self.failure_level - (0.0 if self._anchor is None else self._anchor)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            reach = np.where(np.sign(boot[-1]) == np.sign(slope), (target - boot_level) / boot[-1], np.inf)
            boot_rul = np.maximum(np.power(np.maximum(reach, 0.0), 1.0 / self._shape) - age, 0.0)
        tail = (1.0 - self._confidence) / 2.0
        lower = float(max(np.quantile(boot_rul, tail), 0.0))
        upper = float(max(np.quantile(boot_rul, 1.0 - tail), 0.0))
        window = (now + 0.5 * lower, now + lower)
        return RulEstimate(now, health, rul, lower, upper, onset, window)


    def _time_to(self, drop: float, slope: float, age: float) -> float:
        """Time from now until level + slope·(age + rul)^p reaches the failure level."""
        reach = drop / slope
        return max(reach ** (1.0 / self._shape) - age, 0.0) if reach > 0.0 else 0.0


def fit_shape(runs: list[tuple[FloatArray, FloatArray]], healthy_level: float,
              grid: FloatArray | None = None) -> float:
    """The drift exponent p that best fits past run-to-failure units (t, indicator), each measured
    from its first sample: the median over units of the least-squares p on a grid (0.5 .. 2)."""
    exponents = np.linspace(0.5, 2.0, 61) if grid is None else grid
    best: list[float] = []
    for t, y in runs:
        ramp = t - t[0]
        errors = []
        for p in exponents.tolist():
            x = ramp**p
            slope = float(x @ (y - healthy_level) / max(float(x @ x), 1e-300))
            residual = y - healthy_level - slope * x
            errors.append(float(residual @ residual))
        best.append(float(exponents[int(np.argmin(errors))]))
    return float(np.median(best))


def _health(level: float, baseline: float, failure: float) -> float:
    if baseline == failure:
        return 1.0
    return float(np.clip((level - failure) / (baseline - failure), 0.0, 1.0))


def _fit_hinge(t: FloatArray, y: FloatArray, onsets: int, anchor: float | None,
               shape: float) -> tuple[float, FloatArray, FloatArray, FloatArray]:
    """Least-squares hinge y = a + b·max(t - onset, 0)^p (or y - anchor = b·max(t - onset, 0)^p).

    Candidate onsets are the first sample and quantiles of the first three quarters of the samples
    (the line always rests on data); a later onset is kept only if it lowers the BIC. Returns the
    onset, the design matrix, the coefficients ((a, b), or (b,) when anchored) and the residuals.
    """
    target = y if anchor is None else y - anchor
    head = t[: max(2, (3 * len(t)) // 4)]
    candidates = np.unique(np.concatenate(([t[0]], np.quantile(head, np.linspace(0.0, 1.0, onsets)))))
    n = len(t)
    best: tuple[float, FloatArray, FloatArray, FloatArray] | None = None
    best_bic = np.inf
    for onset in candidates.tolist():
        ramp = np.maximum(t - onset, 0.0) ** shape
        design = ramp[:, None] if anchor is not None else np.column_stack((np.ones_like(t), ramp))
        coefficients = np.linalg.lstsq(design, target, rcond=None)[0]
        residuals = target - design @ coefficients
        error = max(float(residuals @ residuals), 1e-300)
        extra = 0 if onset == t[0] else 1  # the onset is a fitted parameter unless it is the first sample
        bic = n * np.log(error / n) + (design.shape[1] + extra) * np.log(n)
        if bic < best_bic:
            best_bic, best = bic, (float(onset), design, coefficients, residuals)
    assert best is not None
    return best
