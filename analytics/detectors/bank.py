"""The statistical detectors of many signals at once: one sample per signal per call, in numpy.

Why: the twin feeds detectors per loop turn, and a turn of an MQTT flood holds a few samples of
*many* signals (100 topics round-robin: ~64 samples per turn, ~0.6 per signal), so the per-signal
array path (``score_series``) has nothing to batch. Across signals it has: every recurrence of
:mod:`.statistical` is element-wise, so the state of S detectors lives in one (S, K) matrix, a call
gathers the rows of the signals in the batch, runs each step once as numpy operations over them
and scatters the rows back. Measured (2026-11-30, load 13-18, BENCHMARKS.md): ``seasonal`` one
sample at a time 6.9-9.7 µs per sample; this bank 4.6 µs per sample at 64 signals per call, 2.9 µs
at 100. A call with one signal costs ~250 µs: the bank is for many signals; one
``StatisticalDetector`` per signal stays the path for files and single series. cProfile of
bench/bench_analytics_mqtt.py: the detectors went from 27% of the process to 5%.

The seasonal look-ups stay one Python step per sample (they walk a day of each signal's own
history); the three look-ups (jitter 0, 2, 3) share one history per signal. The numbers are those
of ``StatisticalDetector.update`` row by row (the tests compare them).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from twinbridge.analytics.detectors import register_bank
from twinbridge.analytics.detectors.causal import FloatArray
from twinbridge.analytics.detectors.seasonal import DAY_S
from twinbridge.analytics.detectors.statistical import (
    CHEAP,
    CONTEXT_ALPHA,
    CONTEXTS,
    DAY_WARMUP,
    HOLD,
    HOLD_FACTOR,
    HOLD_LEVEL,
    RANGE_UNIT,
    RANGE_WARMUP,
    SEASONAL,
    TAIL_ALPHA,
    TAIL_LEVEL,
    WARMUP,
    Weights,
)

IntArray = npt.NDArray[np.intp]
_LN10 = float(np.log(10.0))
# the prior of TailSurprise and ContextNovelty (their defaults)
_PRIOR_RATE, _PRIOR_WEIGHT = 0.01, 50.0
_PRIOR = _PRIOR_RATE * _PRIOR_WEIGHT


class _History:
    """One signal's samples of the last period, shared by the seasonal look-ups of every jitter
    (``SeasonalNeighbours.step`` with the same arithmetic; trimmed by the largest jitter)."""

    __slots__ = ("head", "times", "values")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.values: list[float] = []
        self.head = 0

    def look_up(self, t: float, x: float, jitters: tuple[int, ...]) -> list[float | None]:
        """The differences to the closest earlier neighbours around t - period, then appends."""
        target = t - DAY_S
        times, values = self.times, self.values
        while self.head < len(times) and times[self.head] < target:
            self.head += 1
        count = len(times)
        out: list[float | None] = []
        for jitter in jitters:
            best = float("inf")
            difference: float | None = None
            for k in range(-jitter, jitter + 1):
                at = max(self.head + k, 0)
                if at >= count:
                    continue
                d = x - values[at]
                if abs(d) < best:
                    best, difference = abs(d), d
            out.append(difference)
        times.append(t)
        values.append(x)
        keep_from = self.head - max(jitters)
        if keep_from > 1024:
            del times[:keep_from]
            del values[:keep_from]
            self.head -= keep_from
        return out


class StatisticalBank:
    """S detectors of one :class:`Weights`; ``score`` advances the given slots by one sample each.

    Columns of the state matrix (one row per slot): the samples seen (RangeExcess, _Features and
    ContextNovelty count the same), the running range (ContextNovelty's is the same), the refractory
    count, the first timestamp; then blocks of k columns where k features share a recurrence with
    different constants: the z-scores of the samples (EwZScore: mean sum, mean weight, variance sum,
    variance weight, mean, variance), the day z-scores (the same six plus their sample count), the
    step scale, the tail fits of every feature (count, exceedances, excess) and the contexts.
    """

    def __init__(self, weights: Weights, size: int) -> None:
        self._seen, self._high, self._low, self._since, self._first = range(5)
        width = 5
        z = [(w, a) for w, a in ((weights.fast_z, 0.03), (weights.slow_z, 0.003)) if w]
        self._z_at, self._z_k = width, len(z)
        self._z_decay = np.array([1.0 - a for _, a in z])
        width += 6 * len(z)
        day = [(w, j) for w, j in ((weights.day_z, 0), (weights.day_jitter_z, 2)) if w]
        jitters = [j for _, j in day] + ([3] if weights.day_match else [])
        self._jitters = tuple(jitters)
        self._day_at, self._day_k = width, len(day)
        width += 7 * len(day)
        self._scale_at = width if weights.day_match else -1
        width += 4 if weights.day_match else 0
        feature_weights = [w for w, _ in z] + [w for w, _ in day] + ([weights.day_match] if weights.day_match else [])
        self._weights = np.array(feature_weights)
        self._tail_at, self._tail_k = width, len(feature_weights)
        width += 3 * len(feature_weights)
        self._context_weight = weights.context
        contexts = CONTEXTS if weights.context else ()
        self._bins = np.array([float(b) for b, _ in contexts])
        self._spans = np.array([float(b**n) for b, n in contexts])
        self._context_at, self._context_k = width, len(contexts)
        width += 3 * len(contexts)  # code, count, exceed
        spans = [b**n for b, n in contexts]
        self._offsets = np.cumsum([0, *spans[:-1]]).astype(np.intp)
        self._table = np.zeros((size, sum(spans)), dtype=bool)  # the contexts seen, scale after scale
        self._state = np.zeros((size, width))
        self._state[:, self._since] = HOLD  # Refractory starts "long since the last event"
        self._history = [_History() for _ in range(size)] if jitters else []
        # Once every slot has had its first sample (and later its warm-up), the branches for them
        # are skipped: np.where costs ~2-4 µs a call on a loaded machine, as much as the arithmetic.
        self._all_started = self._all_warm = False

    def score(self, slots: IntArray, timestamps: FloatArray, x: FloatArray) -> FloatArray:
        """One sample for each of ``slots`` (distinct), in each slot's order; returns the scores."""
        s = self._state[slots]
        n = len(slots)
        seen = s[:, self._seen]
        first = None if self._all_started else seen == 0.0
        # RangeExcess
        high = _pick(first, x, s[:, self._high])
        low = _pick(first, x, s[:, self._low])
        excess = np.maximum(np.maximum(x - high, low - x), 0.0) / np.maximum(high - low, 1e-9)
        u = (excess if self._all_warm else np.where(seen >= RANGE_WARMUP, excess, 0.0)) / RANGE_UNIT
        high, low = np.maximum(high, x), np.minimum(low, x)
        s[:, self._high], s[:, self._low] = high, low
        features = np.empty((n, self._tail_k))
        k = self._z_k
        if k:
            features[:, :k] = np.abs(_ew_z(s, self._z_at, k, x[:, None], None if first is None else first[:, None],
                                           self._z_decay, 1e-3))
        if self._jitters:
            self._seasonal(s, slots, timestamps, x, first, features)
        u = np.maximum(u, (self._weights * _tail(s, self._tail_at, self._tail_k, features)).max(axis=1))
        seen = seen + 1.0
        s[:, self._seen] = seen
        warm = None if self._all_warm else seen > WARMUP
        u = _refractory(s, self._since, u if warm is None else np.where(warm, u, 0.0))
        if self._context_k:
            novelty = self._context_weight * self._novelty(s, slots, x, high, low).max(axis=1)
            u = np.maximum(u, novelty) if warm is None else np.where(warm, np.maximum(u, novelty), u)
        self._state[slots] = s
        if not self._all_warm:
            least = float(self._state[:, self._seen].min())
            self._all_started, self._all_warm = least > 0.0, least > max(RANGE_WARMUP, WARMUP)
        out: FloatArray = u / (u + 1.0)
        return out

    def _seasonal(self, s: FloatArray, slots: IntArray, timestamps: FloatArray, x: FloatArray,
                  first: npt.NDArray[np.bool_] | None, features: FloatArray) -> None:
        """The day features (columns from ``_z_k`` on): day z-scores, then the day match."""
        n = len(slots)
        start = _pick(first, timestamps, s[:, self._first])
        if first is not None:
            s[:, self._first] = start
        histories, jitters = self._history, self._jitters
        compare = start <= timestamps - DAY_S  # a full period seen: look up yesterday
        at, k = self._z_k, self._day_k
        if not compare.any():  # every slot in its first period: keep the samples, nothing to compare yet
            for slot, t, value in zip(slots.tolist(), timestamps.tolist(), x.tolist(), strict=True):
                history = histories[slot]
                history.times.append(t)
                history.values.append(value)
            features[:, at:] = 0.0
            if self._scale_at >= 0:
                _step_scale(s, self._scale_at, x, first)
            return
        valid = np.zeros((n, len(jitters)), dtype=bool)
        differences = np.zeros((n, len(jitters)))
        for i, slot, t, value, look in zip(range(n), slots.tolist(), timestamps.tolist(), x.tolist(),
                                           compare.tolist(), strict=True):
            history = histories[slot]
            if not look:
                history.times.append(t)
                history.values.append(value)
                continue
            for j, difference in enumerate(history.look_up(t, value, jitters)):
                if difference is not None:
                    differences[i, j], valid[i, j] = difference, True
        if k:
            features[:, at:at + k] = 0.0
            ok = valid[:, :k]
            if ok.any():  # _DayZ: the z-score steps only on a valid difference, and counts it
                count_at = self._day_at + 6 * k
                count = s[:, count_at:count_at + k]
                before = s[:, self._day_at:count_at].copy()
                z = np.abs(_ew_z(s, self._day_at, k, differences[:, :k], count == 0.0, np.full(k, 1.0 - 0.01), 0.0))
                s[:, self._day_at:count_at] = np.where(np.tile(ok, 6), s[:, self._day_at:count_at], before)
                count = count + ok
                s[:, count_at:count_at + k] = count
                features[:, at:at + k] = np.where(ok & (count > DAY_WARMUP), z, 0.0)
        if self._scale_at >= 0:
            scale = _step_scale(s, self._scale_at, x, first)
            features[:, at + k] = np.where(valid[:, k], np.abs(differences[:, k]) / scale, 0.0)

    def _novelty(self, s: FloatArray, slots: IntArray, x: FloatArray, high: FloatArray,
                 low: FloatArray) -> FloatArray:
        """ContextNovelty.step of every scale (the range is the detector's own, updated)."""
        at, k = self._context_at, self._context_k
        code_cols, count_cols, exceed_cols = (slice(at + i * k, at + (i + 1) * k) for i in range(3))
        bins = self._bins
        # x >= low (the range includes x), so the level is >= 0 and only the top needs a clip
        level = np.minimum(np.floor(((x - low) / np.maximum(high - low, 1e-12))[:, None] * bins), bins - 1)
        code = (s[:, code_cols] * bins + level) % self._spans
        rows, where = slots[:, None], code.astype(np.intp) + self._offsets  # every scale in one table
        novel = ~self._table[rows, where]
        self._table[rows, where] = True
        count, exceed = s[:, count_cols], s[:, exceed_cols]
        surprise = np.where(novel, -np.log10((exceed + _PRIOR) / (count + _PRIOR_WEIGHT)), 0.0)
        decay = 1.0 - CONTEXT_ALPHA
        s[:, code_cols] = code
        s[:, count_cols] = decay * count + 1.0
        s[:, exceed_cols] = decay * exceed + novel
        out: FloatArray = surprise
        return out


def _pick(first: npt.NDArray[np.bool_] | None, new: FloatArray, old: FloatArray) -> FloatArray:
    """``new`` in the rows of a slot's first sample, ``old`` elsewhere (None: no first sample)."""
    out: FloatArray = old if first is None else np.where(first, new, old)
    return out


def _ew_z(s: FloatArray, at: int, k: int, x: FloatArray, first: npt.NDArray[np.bool_] | None, decay: FloatArray,
          floor: float) -> FloatArray:
    """EwZScore.step of k z-scores over rows (x: n by k); columns from ``at``: mean sum, mean
    weight, variance sum, variance weight, mean, variance, each k wide."""
    mean_sum, mean_weight, var_sum, var_weight, mean_col, var_col = (slice(at + i * k, at + (i + 1) * k)
                                                                     for i in range(6))
    mean = _pick(first, x, s[:, mean_col])
    var = s[:, var_col]
    deviation = x - mean
    resolution = floor * (np.abs(mean) + 1e-9)
    z: FloatArray = deviation / np.power(var + resolution * resolution + 1e-12, 0.5)
    m_sum = decay * s[:, mean_sum] + x
    m_weight = decay * s[:, mean_weight] + 1.0
    s[:, mean_sum], s[:, mean_weight], s[:, mean_col] = m_sum, m_weight, m_sum / m_weight
    v_sum = decay * s[:, var_sum] + deviation * deviation
    v_weight = decay * s[:, var_weight] + 1.0
    s[:, var_sum], s[:, var_weight], s[:, var_col] = v_sum, v_weight, v_sum / v_weight
    return z


def _tail(s: FloatArray, at: int, k: int, f: FloatArray) -> FloatArray:
    """TailSurprise.step of k features over rows (f: n by k); columns from ``at``: count,
    exceedances, excess, each k wide."""
    count_cols, exceed_cols, over_cols = (slice(at + i * k, at + (i + 1) * k) for i in range(3))
    decay = 1.0 - TAIL_ALPHA
    over = f - TAIL_LEVEL
    exceeds = over > 0.0
    count, exceed, total = s[:, count_cols], s[:, exceed_cols], s[:, over_cols]
    surprise = np.zeros(f.shape)
    if exceeds.any():
        rate = (exceed + _PRIOR) / (count + _PRIOR_WEIGHT)
        scale = (total + _PRIOR) / (exceed + _PRIOR)
        surprise = np.where(exceeds, -np.log10(rate) + over / scale / _LN10, 0.0)
    s[:, count_cols] = decay * count + 1.0
    s[:, exceed_cols] = decay * exceed + exceeds
    s[:, over_cols] = decay * total + np.maximum(over, 0.0)  # the excess where it exceeds, else 0
    return surprise


def _step_scale(s: FloatArray, at: int, x: FloatArray, first: npt.NDArray[np.bool_] | None) -> FloatArray:
    """_StepScale.step over rows; columns from ``at``: last, step sum, level sum, weight."""
    last_col, step_col, level_col, weight_col = range(at, at + 4)
    decay = 1.0 - 0.01  # _StepScale(0.01), the same double
    weight = s[:, weight_col]
    safe = weight if first is None else np.where(first, 1.0, weight)
    scale = s[:, step_col] / safe + 1e-3 * np.abs(s[:, level_col] / safe) + 1e-12
    if first is not None:
        scale = np.where(first, 1e-3 * np.abs(x) + 1e-12, scale)
    last = _pick(first, x, s[:, last_col])
    s[:, step_col] = decay * s[:, step_col] + np.abs(x - last)
    s[:, level_col] = decay * s[:, level_col] + x
    s[:, weight_col] = decay * weight + 1.0
    s[:, last_col] = x
    out: FloatArray = scale
    return out


def _refractory(s: FloatArray, col: int, u: FloatArray) -> FloatArray:
    since = s[:, col]
    above = u >= HOLD_LEVEL
    damp = above & (since < HOLD)
    s[:, col] = np.where(above & ~damp, 1.0, since + 1.0)
    out: FloatArray = np.where(damp, u * HOLD_FACTOR, u)
    return out


@register_bank("ewma")
def ewma_bank(size: int) -> StatisticalBank:
    return StatisticalBank(CHEAP, size)


@register_bank("seasonal")
def seasonal_bank(size: int) -> StatisticalBank:
    return StatisticalBank(SEASONAL, size)
