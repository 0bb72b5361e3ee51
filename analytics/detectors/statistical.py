"""Two statistical detectors, chosen by measurement on NAB (figures in BENCHMARKS.md).

Both turn features into the same unit, decimal surprise (-log10 of how rare the value is on *this*
signal, :class:`TailSurprise`), take the largest, damp repeats of one event (:class:`Refractory`)
and map u >= 0 to a score u / (u + 1) in [0, 1). The parameters are global: tuned once on the NAB
files we hold (with a half/half check), never per signal.

- ``ewma``: range excess + one exponentially weighted z-score. Cheap: a handful of recurrences.
- ``seasonal`` (default): adds a fast and a slow z-score, three comparisons with the same time
  one day earlier (plain, jitter-tolerant, and the best match's size against the signal's usual
  step) and context novelty at two scales (:class:`ContextNovelty`, a familiar value in an
  unfamiliar sequence). Periodic signals (daily load, traffic) are where the cheap one loses most
  windows; the context novelty took NAB's standard score from 62.4 to 68.3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from twinbridge.analytics.detectors import register
from twinbridge.analytics.detectors.causal import (
    ContextNovelty,
    EwZScore,
    FloatArray,
    RangeExcess,
    Refractory,
    TailSurprise,
    ew_sum,
    previous,
)
from twinbridge.analytics.detectors.seasonal import SeasonalNeighbours

# Shared settings, chosen by bench/bench_nab.py runs (BENCHMARKS.md lists the scores around them):
# a value 0.5% of the range seen so far beyond that range is one unit of surprise; features are
# surprising beyond 3 (|z| > 3); the tail fit remembers ~100 samples (alpha 0.01); an event is
# reported once per 50 samples.
RANGE_UNIT = 0.005
RANGE_WARMUP = 150
TAIL_LEVEL = 3.0
TAIL_ALPHA = 0.01
HOLD = 50
HOLD_LEVEL = 1.0
HOLD_FACTOR = 0.5
# The first samples of a signal score 0: the statistics are not learnt yet (a twin starting up must not
# alarm on its second sample). NAB never scores them either (its probation is >= 186 rows on these files).
WARMUP = 100
DAY_WARMUP = 30
# Context novelty (``seasonal`` only), two scales: 8 levels of the range over 3 samples (shape) and 4
# levels over 5 samples (a longer rhythm); the rate of new contexts is remembered over ~500 samples.
# Measured on NAB (standard score; without the feature 62.4): one scale of 6/8/12/32 levels
# 63.9/67.2/65.8/64.8 (length 3, alpha 0.002/0.001); lengths 2/3/4 64.0/66.5/65.3; alpha
# 0.0003/0.001/0.002/0.01 64.0/66.5/67.2/64.1. A second scale on top of (8, 3): (4, 5) 68.3,
# (32, 3) 67.8, (16, 4) 67.4, (32, 2) 67.0.
CONTEXTS = ((8, 3), (4, 5))
CONTEXT_ALPHA = 0.002


def to_score(u: float) -> float:
    return u / (u + 1.0)


@dataclass(frozen=True)
class Weights:
    """How much of a feature's surprise counts (1 = all of it)."""

    fast_z: float
    slow_z: float
    day_z: float
    day_jitter_z: float
    day_match: float
    context: float = 0.0


class _Source(Protocol):
    def step(self, t: float, x: float) -> float: ...

    def batch(self, t: FloatArray, x: FloatArray) -> FloatArray: ...


class _AbsZ:
    """|z| of the sample against the EW mean and spread of earlier samples."""

    def __init__(self, alpha: float) -> None:
        self._z = EwZScore(alpha)

    def step(self, t: float, x: float) -> float:
        return abs(self._z.step(x))

    def batch(self, t: FloatArray, x: FloatArray) -> FloatArray:
        return np.abs(self._z.batch(x))


class _DayZ:
    """|z| of today's difference to yesterday, against earlier such differences (0 until
    ``DAY_WARMUP`` differences have been seen: the first day's differences teach the spread)."""

    def __init__(self, jitter: int) -> None:
        self._day = SeasonalNeighbours(jitter=jitter)
        self._z = EwZScore(0.01, floor=0.0)
        self._seen = 0

    def step(self, t: float, x: float) -> float:
        difference = self._day.step(t, x)
        if difference is None:
            return 0.0
        z = abs(self._z.step(difference))
        self._seen += 1
        return z if self._seen > DAY_WARMUP else 0.0

    def batch(self, t: FloatArray, x: FloatArray) -> FloatArray:
        difference, valid = self._day.batch(t, x)
        at = np.flatnonzero(valid)
        out = np.zeros(len(x))
        if len(at):
            out[at] = np.abs(self._z.batch(difference[at]))
            out[at[:DAY_WARMUP]] = 0.0
        return out


class _DayMatch:
    """How far the sample is from its closest neighbour yesterday, in units of the usual step."""

    def __init__(self, jitter: int) -> None:
        self._day = SeasonalNeighbours(jitter=jitter)
        self._scale = _StepScale(0.01)

    def step(self, t: float, x: float) -> float:
        difference = self._day.step(t, x)
        scale = self._scale.step(x)
        return 0.0 if difference is None else abs(difference) / scale

    def batch(self, t: FloatArray, x: FloatArray) -> FloatArray:
        difference, _ = self._day.batch(t, x)
        out: FloatArray = np.abs(difference) / self._scale.batch(x)
        return out


class _Feature:
    """One weighted feature: its source and its own tail fit."""

    def __init__(self, weight: float, source: _Source) -> None:
        self.weight = weight
        self.source = source
        self.tail = TailSurprise(TAIL_LEVEL, TAIL_ALPHA)

    def step(self, t: float, x: float) -> float:
        return self.weight * self.tail.step(self.source.step(t, x))

    def batch(self, t: FloatArray, x: FloatArray) -> FloatArray:
        out: FloatArray = self.weight * self.tail.batch(self.source.batch(t, x))
        return out


class _Features:
    """The per-signal state of every feature with a weight; ``step``/``batch`` return the surprise u."""

    def __init__(self, weights: Weights) -> None:
        self.range = RangeExcess(RANGE_WARMUP)
        sources: tuple[tuple[float, Callable[[], _Source]], ...] = (
            (weights.fast_z, lambda: _AbsZ(0.03)),
            (weights.slow_z, lambda: _AbsZ(0.003)),
            (weights.day_z, lambda: _DayZ(jitter=0)),
            (weights.day_jitter_z, lambda: _DayZ(jitter=2)),
            (weights.day_match, lambda: _DayMatch(jitter=3)),
        )
        self.features = [_Feature(weight, make()) for weight, make in sources if weight]
        self.hold = Refractory(HOLD_LEVEL, HOLD, HOLD_FACTOR)
        # after the refractory damping: a new context is rare by construction, never a repeat
        self.context_weight = weights.context
        self.contexts = [ContextNovelty(bins, length, CONTEXT_ALPHA) for bins, length in CONTEXTS if weights.context]
        self.seen = 0

    def step(self, t: float, x: float) -> float:
        u = self.range.step(x) / RANGE_UNIT
        for feature in self.features:
            u = max(u, feature.step(t, x))
        self.seen += 1
        u = self.hold.step(u if self.seen > WARMUP else 0.0)
        for context in self.contexts:
            novelty = self.context_weight * context.step(x)
            if self.seen > WARMUP:
                u = max(u, novelty)
        return u

    def batch(self, t: FloatArray, x: FloatArray) -> FloatArray:
        u = self.range.batch(x) / RANGE_UNIT
        for feature in self.features:
            u = np.maximum(u, feature.batch(t, x))
        u[:WARMUP] = 0.0
        u = self.hold.batch(u)
        for context in self.contexts:
            novelty = self.context_weight * context.batch(x)
            novelty[:WARMUP] = 0.0
            u = np.maximum(u, novelty)
        return u


class _StepScale:
    """The signal's usual step |x_t - x_{t-1}| (EW mean of earlier steps) plus 0.1% of its level:
    the yardstick for "how close is today to yesterday"."""

    __slots__ = ("_decay", "_last", "_level_sum", "_step_sum", "_weight")

    def __init__(self, alpha: float) -> None:
        self._decay = 1.0 - alpha
        self._last: float | None = None
        self._step_sum = self._level_sum = self._weight = 0.0

    def step(self, x: float) -> float:
        if self._weight:
            scale = self._step_sum / self._weight + 1e-3 * abs(self._level_sum / self._weight) + 1e-12
        else:
            scale = 1e-3 * abs(x) + 1e-12
        last = x if self._last is None else self._last
        decay = self._decay
        self._step_sum = decay * self._step_sum + abs(x - last)
        self._level_sum = decay * self._level_sum + x
        self._weight = decay * self._weight + 1.0
        self._last = x
        return scale

    def batch(self, x: FloatArray) -> FloatArray:
        alpha = 1.0 - self._decay
        weight = ew_sum(np.ones_like(x), alpha)
        steps = np.abs(x - previous(x, float(x[0])))
        step_mean = previous(ew_sum(steps, alpha) / weight, 0.0)
        level_mean = previous(ew_sum(x, alpha) / weight, float(x[0]))
        out: FloatArray = step_mean + 1e-3 * np.abs(level_mean) + 1e-12
        return out


class StatisticalDetector:
    """A :class:`Detector` over :class:`_Features` with fixed weights."""

    def __init__(self, weights: Weights) -> None:
        self._features = _Features(weights)

    def update(self, timestamp: float, value: float) -> float:
        return to_score(self._features.step(timestamp, value))

    def score_series(self, timestamps: FloatArray, values: FloatArray) -> FloatArray:
        if len(values) == 0:
            return np.zeros(0)
        u = self._features.batch(np.asarray(timestamps, dtype=np.float64), np.asarray(values, dtype=np.float64))
        out: FloatArray = u / (u + 1.0)
        return out


CHEAP = Weights(fast_z=0.0, slow_z=0.5, day_z=0.0, day_jitter_z=0.0, day_match=0.0)
SEASONAL = Weights(fast_z=0.1, slow_z=0.5, day_z=0.8, day_jitter_z=0.3, day_match=0.3, context=1.0)


@register("ewma")
def ewma() -> StatisticalDetector:
    return StatisticalDetector(CHEAP)


@register("seasonal")
def seasonal() -> StatisticalDetector:
    return StatisticalDetector(SEASONAL)
