"""Remaining useful life from a health indicator: degradation onset, trend, bootstrap interval.

Why this method: a wearing part (impeller, bearing, valve seal) shows a flat healthy level, then a
drift toward a failure level learnt from past run-to-failure units. Fitting that "hinge" (level, then
a straight line from an onset found by least squares) needs no model of the machine, extrapolates to
the failure level for the RUL, and a residual bootstrap of the same fit gives the interval. Where
the drift is no power law, a :class:`HealthCurve` learnt from past units straightens it first.
Measured against progpy pump and valve trajectories in bench/bench_rul.py (figures in BENCHMARKS.md).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_EDGE = 0.05
"""A health curve beyond its ends extrapolates with its mean slope over this share of the life."""


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
    has p below or above 1, learnt from past units with :func:`fit_shape`. A known ``onset`` (the
    installation, when the readings are a :class:`HealthCurve`'s life share) replaces the search:
    one parameter fewer to learn from the first, noisy readings.
    """

    def __init__(self, failure_level: float, *, healthy_level: float | None = None, shape: float = 1.0,
                 baseline: int = 10,
                 confidence: float = 0.9, bootstrap: int = 200, onsets: int = 24, capacity: int = 5000,
                 onset: float | None = None, seed: int = 0) -> None:
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        self.failure_level = failure_level
        self._baseline_count = baseline
        self._confidence = confidence
        self._bootstrap = bootstrap
        self._onsets = onsets
        self._onset = onset
        self._rng = np.random.default_rng(seed)
        # bounded windows: the oldest sample drops in O(1); ``del list[0]`` copied the whole
        # window on every sample once it was full (2.42 -> 0.59 us an update at 5,000 samples)
        self._times: deque[float] = deque(maxlen=capacity)
        self._values: deque[float] = deque(maxlen=capacity)
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

    def estimate(self) -> RulEstimate:
        if not self._times:
            raise ValueError("no samples yet")
        t = np.fromiter(self._times, float, len(self._times))
        y = np.fromiter(self._values, float, len(self._values))
        now = float(t[-1])
        baseline = self._baseline if self._baseline is not None else float(np.mean(y))
        span = baseline - self.failure_level
        enough = 3 if self._anchor is not None else max(self._baseline_count, 4)
        if len(t) < enough or span == 0.0:
            return RulEstimate(now, _health(float(y[-1]), baseline, self.failure_level), None, None, None, None, None)
        target = y if self._anchor is None else y - self._anchor
        candidates = (np.asarray([self._onset]) if self._onset is not None
                      else _onsets(t, target, self._onsets, self._anchor is None, self._shape))
        bic, levels, slopes, fitted = _hinge_fits(t, target[:, None], candidates, self._anchor is None, self._shape)
        best = int(np.argmin(bic[:, 0]))
        onset = float(candidates[best])
        level = float(levels[best, 0]) + (self._anchor or 0.0)
        slope = float(slopes[best, 0])
        age = max(now - onset, 0.0)
        level_now = level + slope * age**self._shape
        health = _health(level_now, baseline, self.failure_level)
        if slope == 0.0 or np.sign(slope) != np.sign(-span):
            return RulEstimate(now, health, None, None, None, None, None)
        rul = self._time_to(self.failure_level - level, slope, age)
        # residual bootstrap: every draw refits the onset too, so the interval covers where wear began
        residuals = target - fitted[best][:, 0]
        draws = fitted[best] + self._rng.choice(residuals, size=(len(y), self._bootstrap), replace=True)
        boot_bic, boot_levels, boot_slopes, _ = _hinge_fits(t, draws, candidates, self._anchor is None, self._shape)
        pick = np.argmin(boot_bic, axis=0)
        columns = np.arange(self._bootstrap)
        boot_level, boot_slope = boot_levels[pick, columns], boot_slopes[pick, columns]
        boot_age = np.maximum(now - candidates[pick], 0.0)
        goal = self.failure_level - (self._anchor or 0.0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            reach = np.where(np.sign(boot_slope) == np.sign(slope), (goal - boot_level) / boot_slope, np.inf)
            boot_rul = np.maximum(np.power(np.maximum(reach, 0.0), 1.0 / self._shape) - boot_age, 0.0)
        tail = (1.0 - self._confidence) / 2.0
        with np.errstate(invalid="ignore"):  # see _bound
            low, high = np.quantile(boot_rul, [tail, 1.0 - tail])
        lower, upper = _bound(float(low)), _bound(float(high))
        window = (now + 0.5 * lower, now + lower) if math.isfinite(lower) else None
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


class HealthCurve:
    """The course of a health indicator over a life, learnt from past run-to-failure units (times,
    readings, failure time; times counted from the unit's installation), to map a reading to the
    share of the life it stands for (0 new, 1 at failure).

    Why: units that differ only in how fast they wear run through the same indicator curve at
    different speeds, but that curve is not always a power law. progpy's pneumatic valve opens faster
    as its spring softens, and that drift slows down towards the end more than any one exponent
    allows (the local exponent falls from ~0.9 to ~0.6): a power law fitted to the readings so far
    then puts the failure too early, by ~10% of the life even without noise.
    Read through this curve, the indicator of every such unit grows in a straight line from its
    installation, which TrendRul (failure level 1, healthy level 0, shape 1, onset at the installation:
    a healthy stretch before wear shows is part of the curve) extrapolates without that bias. The curve is
    a least-squares polynomial of the pooled (life share, indicator) points, made monotone; readings
    beyond its ends extrapolate with the slope of its first or last 5%, so noise around the healthy
    and failure levels stays symmetric.
    """

    def __init__(self, runs: list[tuple[FloatArray, FloatArray, float]], degree: int = 3,
                 points: int = 1001) -> None:
        shares = np.concatenate([t / eol for t, _, eol in runs])
        values = np.concatenate([y for _, y, _ in runs])
        if len(shares) <= degree:
            raise ValueError(f"{len(shares)} readings cannot fit a degree-{degree} health curve")
        shares_grid = np.linspace(0.0, 1.0, points)
        self._follow(shares_grid, np.polyval(np.polyfit(shares, values, degree), shares_grid).astype(float))

    @classmethod
    def from_points(cls, points: Sequence[Sequence[float]]) -> HealthCurve:
        """The curve through ``[life_share, value]`` points (linear between them), as a plant file
        gives it: at least 3, shares strictly increasing from 0 to 1, values strictly rising or
        falling. Why: the integrator learns the curve from past units (the constructor) once, and
        pastes :meth:`points` into the plant file; the twin rebuilds the same mapping from them."""
        table = np.asarray(points, dtype=float)
        if table.ndim != 2 or table.shape[1] != 2:
            raise ValueError("a health curve is a list of [life_share, value] pairs")
        if len(table) < 3:
            raise ValueError(f"a health curve needs at least 3 points, got {len(table)}")
        shares, values = table[:, 0], table[:, 1]
        if not np.all(np.isfinite(table)):
            raise ValueError("a health curve's shares and values must be finite numbers")
        if shares[0] != 0.0 or shares[-1] != 1.0:
            raise ValueError(f"a health curve's life shares run from 0 (new) to 1 (failed), got {shares[0]:g} .. "
                             f"{shares[-1]:g}")
        if np.any(np.diff(shares) <= 0.0):
            raise ValueError("a health curve's life shares must be strictly increasing")
        steps = np.sign(np.diff(values))
        if steps[0] == 0.0 or np.any(steps != steps[0]):
            raise ValueError("a health curve's values must be strictly monotone (all rising or all falling)")
        curve = cls.__new__(cls)  # the runs' constructor fits the points this one is given
        curve._follow(shares, values)
        return curve

    def _follow(self, shares: FloatArray, values: FloatArray) -> None:
        """The curve through (share, value) points, 0 .. 1: made monotone, and its end slopes."""
        self._sign = -1.0 if values[-1] < values[0] else 1.0
        # increasing in the direction of wear (a falling indicator is negated); a bump of the fitted
        # polynomial is flattened, and np.interp needs strictly increasing points
        rising = np.maximum.accumulate(self._sign * values)
        if rising[-1] - rising[0] <= 1e-9 * max(abs(float(rising[0])), 1.0):  # (rounding of the fit)
            raise ValueError("the indicator does not change over the training lives")
        keep = np.concatenate(([True], np.diff(rising) > 0.0))
        self._rising, self._shares = rising[keep], shares[keep]
        span = rising[-1] - rising[0]  # the mean slope stands in where an end was flattened
        first = float(np.interp(_EDGE, shares, rising)) - rising[0]
        last = rising[-1] - float(np.interp(1.0 - _EDGE, shares, rising))
        self._first_slope = max(first / _EDGE, 0.1 * span)
        self._last_slope = max(last / _EDGE, 0.1 * span)

    def points(self, count: int = 11) -> list[list[float]]:
        """``count`` points of the curve at evenly spaced life shares, for a plant file's
        ``rul.curve`` (:meth:`from_points` reads them back). A stretch the fit flattened adds no
        point (a plant-file curve is strictly monotone); the ends are always there."""
        if count < 3:
            raise ValueError(f"a health curve needs at least 3 points, got {count}")
        out = [[0.0, self.healthy_level]]
        top = float(self._rising[-1])
        for share in np.linspace(0.0, 1.0, count)[1:-1].tolist():
            rising = float(np.interp(share, self._shares, self._rising))
            if self._sign * out[-1][1] < rising < top:
                out.append([share, self._sign * rising])
        out.append([1.0, self.failure_level])
        return out

    @property
    def healthy_level(self) -> float:
        return float(self._sign * self._rising[0])

    @property
    def failure_level(self) -> float:
        return float(self._sign * self._rising[-1])

    def share(self, value: float) -> float:
        """The share of the life a reading stands for (beyond 0 and 1 by linear extrapolation)."""
        x = self._sign * value
        if x <= self._rising[0]:
            return float((x - self._rising[0]) / self._first_slope)
        if x >= self._rising[-1]:
            return float(1.0 + (x - self._rising[-1]) / self._last_slope)
        return float(np.interp(x, self._rising, self._shares))


class RulEstimator(Protocol):
    """What a RUL monitor feeds and asks: :class:`TrendRul` or :class:`CurveRul`."""

    def update(self, t: float, value: float) -> None: ...

    def estimate(self) -> RulEstimate: ...


class CurveRul:
    """A :class:`TrendRul` fed a :class:`HealthCurve`'s life share of each reading: failure level 1,
    healthy level 0, shape 1, the onset at the part's installation (``installed``; default the
    first reading's time), as bench/bench_rul.py evaluates it. Its health is 1 - life share.

    Why the onset waits for the first reading: in the twin the installation is often not written
    down, and the monitor starting with a new part is the best guess; a part already worn when the
    monitor starts needs ``installed``, or its life share is read as a faster drift."""

    def __init__(self, curve: HealthCurve, *, installed: float | None = None, confidence: float = 0.9,
                 seed: int = 0) -> None:
        """``confidence`` and ``seed``: TrendRul's."""
        self.curve = curve
        self._installed = installed
        self._confidence = confidence
        self._seed = seed
        self._trend: TrendRul | None = None

    def update(self, t: float, value: float) -> None:
        if self._trend is None:
            onset = t if self._installed is None else self._installed
            self._trend = TrendRul(1.0, healthy_level=0.0, shape=1.0, onset=onset, confidence=self._confidence,
                                   seed=self._seed)
        self._trend.update(t, self.curve.share(value))

    def estimate(self) -> RulEstimate:
        if self._trend is None:
            raise ValueError("no samples yet")
        return self._trend.estimate()


def _health(level: float, baseline: float, failure: float) -> float:
    if baseline == failure:
        return 1.0
    return float(np.clip((level - failure) / (baseline - failure), 0.0, 1.0))


def _onsets(t: FloatArray, target: FloatArray, count: int, with_level: bool, shape: float) -> FloatArray:
    """Candidate onsets: the first sample, quantiles of the first three quarters of the samples (the
    line always rests on data), refined with 8 more points on each side of the best of those."""
    head = t[: max(2, (3 * len(t)) // 4)]
    coarse = np.unique(np.concatenate(([t[0]], np.quantile(head, np.linspace(0.0, 1.0, count)))))
    bic = _hinge_fits(t, target[:, None], coarse, with_level, shape)[0][:, 0]
    best = int(np.argmin(bic))
    low, high = coarse[max(best - 1, 0)], coarse[min(best + 1, len(coarse) - 1)]
    return np.unique(np.concatenate((coarse, np.linspace(low, high, 17))))


def _hinge_fits(t: FloatArray, targets: FloatArray, onsets: FloatArray, with_level: bool,
                shape: float) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Least squares of every target column on a + b·max(t - onset, 0)^p (a = 0 when anchored) for
    every candidate onset. Returns BIC, a, b (onsets × columns) and the fitted values
    (onsets × samples × columns). An onset after the first sample counts as one more parameter."""
    n, columns = targets.shape
    bic = np.empty((len(onsets), columns))
    levels = np.zeros((len(onsets), columns))
    slopes = np.empty((len(onsets), columns))
    fitted = np.empty((len(onsets), n, columns))
    column_sums = targets.sum(axis=0)
    for index, onset in enumerate(onsets.tolist()):
        ramp = np.maximum(t - onset, 0.0) ** shape
        # normal equations of a one- or two-column design, solved in closed form (no lstsq per onset)
        s1, s2 = float(ramp.sum()), float(ramp @ ramp)
        cross = ramp @ targets
        if with_level:
            det = n * s2 - s1 * s1
            if det > 1e-12 * max(n * s2, 1e-300):
                level = (s2 * column_sums - s1 * cross) / det
                slope = (n * cross - s1 * column_sums) / det
            else:
                level, slope = column_sums / n, np.zeros(columns)
            levels[index] = level
        else:
            level = np.zeros(columns)
            slope = cross / s2 if s2 > 0.0 else np.zeros(columns)
        slopes[index] = slope
        fitted[index] = level + ramp[:, None] * slope
        error = np.maximum(((targets - fitted[index]) ** 2).sum(axis=0), 1e-300)
        parameters = (2 if with_level else 1) + (0 if onset == t[0] else 1)
        bic[index] = n * np.log(error / n) + parameters * np.log(n)
    return bic, levels, slopes, fitted


def _bound(quantile: float) -> float:
    """A bound of the bootstrap interval. Draws whose trend never reaches the failure level have an
    infinite RUL; a quantile between two of them interpolates inf - inf, i.e. NaN (with a weak trend
    the upper bound was NaN, written into the ConfidenceInterval). It is unbounded: INF."""
    return math.inf if math.isnan(quantile) else max(quantile, 0.0)
