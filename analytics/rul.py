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

    ``failure_level`` is the indicator's value at failure (from past units or the data sheet); the
    healthy level is the mean of the first ``baseline`` samples. At most ``capacity`` samples are
    kept (the oldest go first); an estimate costs O(capacity · onsets + capacity · bootstrap).
    """

    def __init__(self, failure_level: float, *, baseline: int = 10, confidence: float = 0.9, bootstrap: int = 200,
                 onsets: int = 24, capacity: int = 5000, seed: int = 0) -> None:
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
        self._baseline: float | None = None

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
        if len(t) < max(self._baseline_count, 4) or span == 0.0:
            return RulEstimate(now, _health(float(y[-1]), baseline, self.failure_level), None, None, None, None, None)
        onset, design, coefficients, residuals = _fit_hinge(t, y, self._onsets)
        level_now = float(coefficients[0] + coefficients[1] * max(now - onset, 0.0))
        health = _health(level_now, baseline, self.failure_level)
        slope = float(coefficients[1])
        if slope == 0.0 or np.sign(slope) != np.sign(-span):
            return RulEstimate(now, health, None, None, None, None, None)
        rul = max((self.failure_level - level_now) / slope, 0.0)
        # residual bootstrap with the onset held: refit the line on fitted + resampled residuals
        fitted = design @ coefficients
        draws = fitted[:, None] + self._rng.choice(residuals, size=(len(y), self._bootstrap), replace=True)
        boot = np.linalg.lstsq(design, draws, rcond=None)[0]
        boot_now = boot[0] + boot[1] * max(now - onset, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            boot_rul = np.where(np.sign(boot[1]) == np.sign(slope), (self.failure_level - boot_now) / boot[1], np.inf)
        tail = (1.0 - self._confidence) / 2.0
        lower = float(max(np.quantile(boot_rul, tail), 0.0))
        upper = float(max(np.quantile(boot_rul, 1.0 - tail), 0.0))
        window = (now + 0.5 * lower, now + lower)
        return RulEstimate(now, health, rul, lower, upper, onset, window)


def _health(level: float, baseline: float, failure: float) -> float:
    if baseline == failure:
        return 1.0
    return float(np.clip((level - failure) / (baseline - failure), 0.0, 1.0))


def _fit_hinge(t: FloatArray, y: FloatArray, onsets: int) -> tuple[float, FloatArray, FloatArray, FloatArray]:
    """Least-squares y = a + b·max(t - onset, 0) over candidate onsets (quantiles of t, the last
    quarter excluded so the line always rests on data); returns the best onset, its design matrix,
    coefficients (a, b) and residuals."""
    candidates = np.unique(np.quantile(t[: max(2, (3 * len(t)) // 4)], np.linspace(0.0, 1.0, onsets)))
    best: tuple[float, FloatArray, FloatArray, FloatArray] | None = None
    best_error = np.inf
    for onset in candidates.tolist():
        design = np.column_stack((np.ones_like(t), np.maximum(t - onset, 0.0)))
        coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
        residuals = y - design @ coefficients
        error = float(residuals @ residuals)
        if error < best_error:
            best_error, best = error, (float(onset), design, coefficients, residuals)
    assert best is not None
    return best
