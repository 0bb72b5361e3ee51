"""Causal building blocks, each in two equivalent forms: one sample at a time and a whole array.

Why two forms: the twin feeds a detector one sample at a time (O(1) state per signal), while
``twinbridge detect`` and the benchmark score files of 10^4-10^5 rows, where a Python loop per
sample would cost ~20 µs. The array form uses only recurrences evaluated in C (``scipy.signal.lfilter``
for exponential sums, ``np.maximum.accumulate`` for running extremes) or look-ups of *earlier* rows,
so row t never sees row t+1: it is the same computation, not a look-ahead shortcut. The tests check
that both forms give the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

FloatArray = npt.NDArray[np.float64]


def ew_sum(values: FloatArray, alpha: float) -> FloatArray:
    """s_t = (1 - alpha)·s_{t-1} + x_t, s_{-1} = 0."""
    out: FloatArray = lfilter([1.0], [1.0, -(1.0 - alpha)], values)
    return out


def previous(values: FloatArray, first: float) -> FloatArray:
    """values shifted one row later: row t holds values[t-1] (row 0 holds ``first``)."""
    out = np.empty_like(values)
    out[0] = first
    out[1:] = values[:-1]
    return out


class EwZScore:
    """z_t = (x_t - m_{t-1}) / s_{t-1}: the deviation of a sample from the exponentially weighted
    mean and spread of the samples *before* it (bias-corrected, so the first samples are not pulled
    toward zero). ``floor`` keeps a flat signal from dividing by zero: the spread never drops below
    ``floor`` × |mean| (a relative resolution), plus a tiny absolute term.
    """

    __slots__ = (
        "_decay",
        "_floor",
        "_mean",
        "_mean_sum",
        "_mean_weight",
        "_started",
        "_var",
        "_var_sum",
        "_var_weight",
    )

    def __init__(self, alpha: float, floor: float = 1e-3) -> None:
        self._decay = 1.0 - alpha
        self._floor = floor
        self._mean_sum = self._mean_weight = self._var_sum = self._var_weight = 0.0
        self._mean = self._var = 0.0
        self._started = False

    def step(self, x: float) -> float:
        if not self._started:
            self._mean, self._started = x, True
        mean, var = self._mean, self._var
        deviation = x - mean
        resolution = self._floor * (abs(mean) + 1e-9)
        z = deviation / (var + resolution * resolution + 1e-12) ** 0.5
        decay = self._decay
        self._mean_sum = decay * self._mean_sum + x
        self._mean_weight = decay * self._mean_weight + 1.0
        self._mean = self._mean_sum / self._mean_weight
        self._var_sum = decay * self._var_sum + deviation * deviation
        self._var_weight = decay * self._var_weight + 1.0
        self._var = self._var_sum / self._var_weight
        return z

    def batch(self, x: FloatArray) -> FloatArray:
        """The same z for a whole series (the state is not advanced: use on a fresh instance)."""
        alpha = 1.0 - self._decay
        weight = ew_sum(np.ones_like(x), alpha)
        mean_before = previous(ew_sum(x, alpha) / weight, float(x[0]))
        deviation = x - mean_before
        var_before = previous(ew_sum(deviation * deviation, alpha) / weight, 0.0)
        resolution = self._floor * (np.abs(mean_before) + 1e-9)
        out: FloatArray = deviation / np.sqrt(var_before + resolution * resolution + 1e-12)
        return out


class RangeExcess:
    """How far a sample falls outside the range of all earlier samples, as a fraction of that range.

    Numenta's HTM detector calls this the spatial anomaly; it is scale-free, so one threshold fits
    every signal. Zero during the first ``warmup`` samples, while the range is still being learnt.
    """

    __slots__ = ("_high", "_low", "_seen", "_warmup")

    def __init__(self, warmup: int) -> None:
        self._warmup = warmup
        self._seen = 0
        self._high = self._low = 0.0

    def step(self, x: float) -> float:
        if self._seen == 0:
            self._high = self._low = x
        high, low = self._high, self._low
        excess = 0.0
        if self._seen >= self._warmup:
            excess = max(x - high, low - x, 0.0) / max(high - low, 1e-9)
        if x > high:
            self._high = x
        elif x < low:
            self._low = x
        self._seen += 1
        return excess

    def batch(self, x: FloatArray) -> FloatArray:
        high = previous(np.maximum.accumulate(x), float(x[0]))
        low = previous(np.minimum.accumulate(x), float(x[0]))
        excess = np.maximum(np.maximum(x - high, low - x), 0.0) / np.maximum(high - low, 1e-9)
        excess[: self._warmup] = 0.0
        return excess


class TailSurprise:
    """-log10 of the chance of a feature value this large, from an exponential tail fitted to the
    feature's own past (peaks over a fixed level ``level``, as in SPOT, Siffer et al. 2017).

    Why: a |z| of 6 is alarming on a quiet signal and routine on a spiky one. The tail fit turns each
    feature into the same unit (decimal surprise) for every signal, so one global threshold works.
    ``prior_rate`` and ``prior_weight`` stand for the exceedances not yet seen on a new signal.
    """

    __slots__ = ("_count", "_decay", "_exceed", "_level", "_over", "_prior_rate", "_prior_weight")

    def __init__(self, level: float, alpha: float, prior_rate: float = 0.01, prior_weight: float = 50.0) -> None:
        self._decay = 1.0 - alpha
        self._level = level
        self._prior_rate = prior_rate
        self._prior_weight = prior_weight
        self._count = self._exceed = self._over = 0.0

    def step(self, f: float) -> float:
        over = f - self._level
        surprise = 0.0
        if over > 0.0:
            prior = self._prior_weight * self._prior_rate
            rate = (self._exceed + prior) / (self._count + self._prior_weight)
            scale = (self._over + prior) / (self._exceed + prior)
            surprise = -np.log10(rate) + over / scale / np.log(10.0)
        decay = self._decay
        self._count = decay * self._count + 1.0
        if over > 0.0:
            self._exceed = decay * self._exceed + 1.0
            self._over = decay * self._over + over
        else:
            self._exceed *= decay
            self._over *= decay
        return float(surprise)

    def batch(self, f: FloatArray) -> FloatArray:
        alpha = 1.0 - self._decay
        over = f - self._level
        exceeds = over > 0.0
        prior = self._prior_weight * self._prior_rate
        count = previous(ew_sum(np.ones_like(f), alpha), 0.0)
        exceed = previous(ew_sum(exceeds.astype(np.float64), alpha), 0.0)
        total_over = previous(ew_sum(np.where(exceeds, over, 0.0), alpha), 0.0)
        rate = (exceed + prior) / (count + self._prior_weight)
        scale = (total_over + prior) / (exceed + prior)
        out: FloatArray = np.where(exceeds, -np.log10(rate) + np.maximum(over, 0.0) / scale / np.log(10.0), 0.0)
        return out


class Refractory:
    """Report an event once: after a score reaches ``level``, later scores within ``hold`` samples
    are multiplied by ``factor``. One anomaly then costs at most one false positive instead of a
    burst, which is what alarm users and NAB's cost model both want.
    """

    __slots__ = ("_factor", "_hold", "_level", "_since")

    def __init__(self, level: float, hold: int, factor: float) -> None:
        self._level, self._hold, self._factor = level, hold, factor
        self._since = hold  # samples since the last reported event

    def step(self, u: float) -> float:
        if u >= self._level:
            if self._since < self._hold:
                self._since += 1
                return u * self._factor
            self._since = 1
            return u
        self._since += 1
        return u

    def batch(self, u: FloatArray) -> FloatArray:
        out = u.copy()
        last = -self._hold
        # a loop over the (rare) samples above the level only
        for i in np.flatnonzero(u >= self._level).tolist():
            if i - last < self._hold:
                out[i] = u[i] * self._factor
            else:
                last = i
        return out


class ContextNovelty:
    """Decimal surprise of a never-seen context: the last ``length`` samples, each quantised into
    ``bins`` levels of the range seen so far, form a context; the first time a context occurs it
    scores -log10 of the (exponentially weighted, ``alpha``) rate at which new contexts have been
    appearing, else 0.

    Why: this is the idea of Numenta's CAD OSE detector (contextual anomaly: a familiar value in an
    unfamiliar sequence) in its smallest form. A signal that keeps producing new contexts (noise)
    makes novelty cheap; one that has settled into a repertoire makes a new shape rare. The range is
    the running one (this sample included), so a range growth relabels bins: that shows up as a
    burst of novelty at a new extreme, which is an event anyway.
    """

    __slots__ = ("_bins", "_code", "_count", "_decay", "_exceed", "_high", "_length", "_low", "_prior",
                 "_prior_weight", "_seen", "_span", "_started")

    def __init__(self, bins: int, length: int, alpha: float, prior_rate: float = 0.01,
                 prior_weight: float = 50.0) -> None:
        self._bins = bins
        self._decay = 1.0 - alpha
        self._prior_weight = prior_weight
        self._prior = prior_rate * prior_weight
        self._length = length
        self._span = bins**length
        # the context as one integer, the last ``length`` levels in base ``bins`` (0 before the start)
        self._code = 0
        self._seen: set[int] = set()
        self._count = self._exceed = 0.0
        self._high = self._low = 0.0
        self._started = False

    def step(self, x: float) -> float:
        if not self._started:
            self._high = self._low = x
            self._started = True
        self._high, self._low = max(self._high, x), min(self._low, x)
        level = math.floor((x - self._low) / max(self._high - self._low, 1e-12) * self._bins)
        level = min(max(level, 0), self._bins - 1)
        self._code = context = (self._code * self._bins + level) % self._span
        surprise = 0.0
        novel = context not in self._seen
        if novel:
            self._seen.add(context)
            surprise = -math.log10((self._exceed + self._prior) / (self._count + self._prior_weight))
        decay = self._decay
        self._count = decay * self._count + 1.0
        self._exceed = decay * self._exceed + (1.0 if novel else 0.0)
        return surprise

    def batch(self, x: FloatArray) -> FloatArray:
        high, low = np.maximum.accumulate(x), np.minimum.accumulate(x)
        level = np.floor((x - low) / np.maximum(high - low, 1e-12) * self._bins)
        level = np.clip(level, 0, self._bins - 1).astype(np.int64)
        code = level.copy()
        shifted = level
        for age in range(1, self._length):  # the same integer as ``step`` builds
            shifted = np.concatenate(([0], shifted[:-1]))
            code = code + shifted * self._bins**age
        _, first = np.unique(code, return_index=True)
        novel = np.zeros(len(x))
        novel[first] = 1.0
        alpha = 1.0 - self._decay
        count = previous(ew_sum(np.ones_like(x), alpha), 0.0)
        exceed = previous(ew_sum(novel, alpha), 0.0)
        rate = (exceed + self._prior) / (count + self._prior_weight)
        out: FloatArray = np.where(novel > 0.0, -np.log10(rate), 0.0)
        return out
