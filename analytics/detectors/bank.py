"""The statistical detectors of many signals at once: one sample per signal per call, in numpy.

Why: the twin feeds detectors per loop turn, and a turn of an MQTT flood holds a few samples of
*many* signals (100 topics round-robin: ~64 samples per turn, ~0.6 per signal), so the per-signal
array path (``score_series``) has nothing to batch. Across signals it has: every recurrence of
:mod:`.statistical` is element-wise, so the state of S detectors lives in one (S, K) matrix, a call
gathers the rows of the signals in the batch, runs each step once as numpy operations over them
and scatters the rows back. Measured (2026-11-30, load 13-18, BENCHMARKS.md): ``seasonal`` one
sample at a time 6.9-9.7 µs per sample; this bank 4.6 µs per sample at 64 signals per call, 2.9 µs
at 100 (2.4 µs at 64 since the decayed sums advance as one block, load ~6, see
``StatisticalBank``). A call with one signal costs ~250 µs: the bank is for many signals; one
``StatisticalDetector`` per signal stays the path for files and single series. cProfile of
bench/bench_analytics_mqtt.py: the detectors went from 27% of the process to 5%.

The three seasonal look-ups (jitter 0, 2, 3) share one history per signal,
:class:`.seasonal.RingHistory`: one sample per minute of the last day (~23 KiB per signal whatever
its rate) in numpy rings, looked up for all rows of a call at once. Before, a Python step per
sample walked lists holding every sample of a day: after a signal's first day the bank ran at
~55,000 samples/s (12.5-18 µs per sample) and 100 signals at 0.2 Hz held 109 MiB; now ~250,000
samples/s and 2.2 MiB at 0.2 or 1 Hz (bench/bench_seasonal_day.py, 2026-11-30, BENCHMARKS.md).
The numbers are those of ``StatisticalDetector.update`` row by row (the tests compare them).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from twinbridge.analytics.detectors import register_bank
from twinbridge.analytics.detectors.causal import FloatArray
from twinbridge.analytics.detectors.seasonal import DAY_S, RingHistory
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


class _Columns:
    """Allocates the state matrix's columns, block by block."""

    def __init__(self) -> None:
        self.width = 0

    def take(self, k: int) -> slice:
        at = self.width
        self.width += k
        return slice(at, at + k)


class StatisticalBank:
    """S detectors of one :class:`Weights`; ``score`` advances the given slots by one sample each.

    The state matrix has one row per slot. Single columns: the samples seen (RangeExcess, _Features
    and ContextNovelty count the same), the running range (ContextNovelty's is the same), the
    refractory count, the first timestamp, the last value of the step scale; the z-scores' means
    and variances; the day z-scores (mean sum, mean weight, variance sum, variance weight, mean,
    variance, count: k columns each); the contexts' codes. Then one block of every exponentially
    decayed sum, s = decay·s + input: the z-scores' and step scale's sums and weights, the tail fits
    (count, exceedances, excess) and the contexts' counts. ``score`` fills the inputs of a call into
    a buffer of the same layout and advances the whole block in two array operations.

    Why that layout: a call's cost is the number of numpy operations (~1-2 µs each at 64 rows, the
    arithmetic itself is noise), not the data. With a recurrence per feature the seasonal bank made
    ~115 calls per batch, 4.3 µs per sample at 64 signals per call (load ~6); the fused decays,
    operations skipped when no row needs them (no tail exceedance, no new context, nothing to damp)
    and ``out=`` buffers bring that to the figures in BENCHMARKS.md. Every element is the same
    double arithmetic in the same order as before, so the scores are bit for bit those of
    ``StatisticalDetector.update``.
    """

    def __init__(self, weights: Weights, size: int) -> None:
        columns = _Columns()
        self._seen, self._high, self._low, self._since, self._first, self._last = range(6)
        columns.width = 6
        z = [(w, a) for w, a in ((weights.fast_z, 0.03), (weights.slow_z, 0.003)) if w]
        day = [(w, j) for w, j in ((weights.day_z, 0), (weights.day_jitter_z, 2)) if w]
        match = 1 if weights.day_match else 0
        jitters = [j for _, j in day] + ([3] if match else [])
        self._jitters = tuple(jitters)
        contexts = CONTEXTS if weights.context else ()
        feature_weights = [w for w, _ in z] + [w for w, _ in day] + ([weights.day_match] if match else [])
        zk, self._day_k, tk, ck = len(z), len(day), len(feature_weights), len(contexts)
        self._z_k, self._tail_k, self._context_k, self._match = zk, tk, ck, bool(match)
        self._mean_var = columns.take(2 * zk)  # means, then variances
        self._day_at = columns.take(7 * self._day_k).start
        self._code = columns.take(ck)
        # the decayed sums, grouped by their input (``_inputs`` has the same columns)
        decayed = columns.width
        self._x_in = columns.take(match + zk)  # the step scale's level sum, the z-scores' mean sums
        self._deviation_in = columns.take(zk)  # the z-scores' variance sums (right after the mean sums)
        self._sums = slice(self._x_in.start + match, self._deviation_in.stop)
        self._step_in = columns.take(match)  # the step scale's step sum
        self._exceed_in = columns.take(tk)  # the tail fits' exceedances
        self._excess_in = columns.take(tk)  # the tail fits' excess
        self._novel_in = columns.take(ck)  # the contexts' new-context counts
        ones = columns.take(2 * zk + match + tk + ck)  # every weight and count: input 1
        self._weights_of_sums = slice(ones.start, ones.start + 2 * zk)  # mean weights, variance weights
        self._scale_weight = ones.start + 2 * zk
        self._tail_count = slice(self._scale_weight + match, self._scale_weight + match + tk)
        self._context_count = slice(self._tail_count.stop, self._tail_count.stop + ck)
        self._decayed = slice(decayed, columns.width)
        z_decay = [1.0 - a for _, a in z]
        scale_decay = [1.0 - 0.01] * match  # _StepScale(0.01), the same double
        tail_decay, context_decay = [1.0 - TAIL_ALPHA] * tk, [1.0 - CONTEXT_ALPHA] * ck
        self._decay = np.array([*scale_decay, *z_decay, *z_decay, *scale_decay, *tail_decay, *tail_decay,
                                *context_decay, *z_decay, *z_decay, *scale_decay, *tail_decay, *context_decay])
        self._inputs = np.zeros((size, columns.width - decayed))
        self._inputs[:, ones.start - decayed:] = 1.0
        self._weights = np.array(feature_weights)
        self._context_weight = weights.context
        self._bins = np.array([float(b) for b, _ in contexts])
        self._spans = np.array([float(b**n) for b, n in contexts])
        spans = [b**n for b, n in contexts]
        self._offsets = np.cumsum([0, *spans[:-1]]).astype(np.intp)
        self._table = np.zeros((size, sum(spans)), dtype=bool)  # the contexts seen, scale after scale
        self._features = np.empty((size, tk))
        self._state = np.zeros((size, columns.width))
        self._state[:, self._since] = HOLD  # Refractory starts "long since the last event"
        self._history = RingHistory(size, self._jitters) if jitters else None
        # Once every slot has had its first sample (and later its warm-up), the branches for them
        # are skipped: np.where costs ~2-4 µs a call on a loaded machine, as much as the arithmetic.
        self._all_started = self._all_warm = False

    def score(self, slots: IntArray, timestamps: FloatArray, x: FloatArray) -> FloatArray:
        """One sample for each of ``slots`` (distinct), in each slot's order; returns the scores."""
        s = self._state[slots]
        n = len(slots)
        inputs = self._inputs[:n]
        seen = s[:, self._seen]
        first = None if self._all_started else seen == 0.0
        # RangeExcess
        high = _pick(first, x, s[:, self._high])
        low = _pick(first, x, s[:, self._low])
        if self._all_warm and not ((x > high) | (x < low)).any():
            u = np.zeros(n)  # every sample inside its range: no excess, the range stays
        else:
            excess = np.maximum(np.maximum(x - high, low - x), 0.0) / np.maximum(high - low, 1e-9)
            u = (excess if self._all_warm else np.where(seen >= RANGE_WARMUP, excess, 0.0)) / RANGE_UNIT
            high, low = np.maximum(high, x), np.minimum(low, x)
            s[:, self._high], s[:, self._low] = high, low
        features = self._features[:n]
        column = x[:, None]
        self._input(inputs, self._x_in)[:] = column
        k = self._z_k
        if k:  # EwZScore.step of the z-scores (their sums advance with the decayed block)
            mean_var = s[:, self._mean_var]
            mean = mean_var[:, :k] if first is None else np.where(first[:, None], column, mean_var[:, :k])
            deviation = column - mean
            resolution = 1e-3 * (np.abs(mean) + 1e-9)
            np.abs(deviation / np.power(mean_var[:, k:] + resolution * resolution + 1e-12, 0.5), out=features[:, :k])
            np.multiply(deviation, deviation, out=self._input(inputs, self._deviation_in))
        if self._jitters:
            self._seasonal(s, inputs, slots, timestamps, x, first, features)
        u = self._tail(s, inputs, features, u)
        seen = seen + 1.0
        s[:, self._seen] = seen
        warm = None if self._all_warm else seen > WARMUP
        u = self._refractory(s, u if warm is None else np.where(warm, u, 0.0))
        if self._context_k:
            u = self._novelty(s, inputs, slots, x, high, low, u, warm)
        block = s[:, self._decayed]  # every decayed sum: s = decay·s + input
        np.multiply(block, self._decay, out=block)
        np.add(block, inputs, out=block)
        if k:
            np.divide(s[:, self._sums], s[:, self._weights_of_sums], out=s[:, self._mean_var])
        self._state[slots] = s
        if not self._all_warm:
            least = float(self._state[:, self._seen].min())
            self._all_started, self._all_warm = least > 0.0, least > max(RANGE_WARMUP, WARMUP)
        out: FloatArray = u / (u + 1.0)
        return out

    def _input(self, inputs: FloatArray, block: slice) -> FloatArray:
        """The columns of ``inputs`` for the decayed columns ``block`` of the state."""
        at = self._decayed.start
        return inputs[:, block.start - at:block.stop - at]

    def _seasonal(self, s: FloatArray, inputs: FloatArray, slots: IntArray, timestamps: FloatArray, x: FloatArray,
                  first: npt.NDArray[np.bool_] | None, features: FloatArray) -> None:
        """The day features (columns from ``_z_k`` on): day z-scores, then the day match."""
        start = _pick(first, timestamps, s[:, self._first])
        if first is not None:
            s[:, self._first] = start
        history = self._history
        assert history is not None  # the bank has look-ups (``_jitters``)
        compare = start <= timestamps - DAY_S  # a full period seen: look up yesterday
        at, k = self._z_k, self._day_k
        if not compare.any():  # every slot in its first period: keep the samples, nothing to compare yet
            history.keep(slots, timestamps, x)
            features[:, at:] = 0.0
            if self._match:
                self._advance_steps(s, inputs, x, first)
            return
        differences, valid = history.look_up(slots, timestamps, x, compare)
        if k:
            features[:, at:at + k] = 0.0
            ok = valid[:, :k]
            if ok.any():  # _DayZ: the z-score steps only on a valid difference, and counts it
                count_at = self._day_at + 6 * k
                count = s[:, count_at:count_at + k]
                # after a day every row usually has its differences: nothing to undo
                before = None if ok.all() else s[:, self._day_at:count_at].copy()
                z = np.abs(_ew_z(s, self._day_at, k, differences[:, :k], count == 0.0, np.full(k, 1.0 - 0.01), 0.0))
                if before is not None:
                    s[:, self._day_at:count_at] = np.where(np.tile(ok, 6), s[:, self._day_at:count_at], before)
                count = count + ok
                s[:, count_at:count_at + k] = count
                features[:, at:at + k] = np.where(ok & (count > DAY_WARMUP), z, 0.0)
        if self._match:
            scale = self._step_scale(s, x, first)
            self._advance_steps(s, inputs, x, first)
            features[:, at + k] = np.where(valid[:, k], np.abs(differences[:, k]) / scale, 0.0)

    def _step_scale(self, s: FloatArray, x: FloatArray, first: npt.NDArray[np.bool_] | None) -> FloatArray:
        """_StepScale.step's scale over rows, from the sums before this sample."""
        weight = s[:, self._scale_weight]
        safe = weight if first is None else np.where(first, 1.0, weight)
        step_sum, level_sum = s[:, self._step_in.start], s[:, self._x_in.start]
        scale = step_sum / safe + 1e-3 * np.abs(level_sum / safe) + 1e-12
        if first is not None:
            scale = np.where(first, 1e-3 * np.abs(x) + 1e-12, scale)
        out: FloatArray = scale
        return out

    def _advance_steps(self, s: FloatArray, inputs: FloatArray, x: FloatArray,
                       first: npt.NDArray[np.bool_] | None) -> None:
        """_StepScale.step's new step |x - last| (its sums advance with the decayed block)."""
        last = _pick(first, x, s[:, self._last])
        np.abs(x - last, out=self._input(inputs, self._step_in)[:, 0])
        s[:, self._last] = x

    def _tail(self, s: FloatArray, inputs: FloatArray, f: FloatArray, u: FloatArray) -> FloatArray:
        """TailSurprise.step of every feature (f: n by k), weighted, folded into ``u``."""
        over = f - TAIL_LEVEL
        exceeds = self._input(inputs, self._exceed_in)
        np.greater(over, 0.0, out=exceeds)  # 1.0 where the feature exceeds the level
        np.maximum(over, 0.0, out=self._input(inputs, self._excess_in))  # the excess where it exceeds, else 0
        if not exceeds.any():  # no surprise anywhere: u stays
            return u
        count, exceed = s[:, self._tail_count], s[:, self._exceed_in]
        rate = (exceed + _PRIOR) / (count + _PRIOR_WEIGHT)
        scale = (s[:, self._excess_in] + _PRIOR) / (exceed + _PRIOR)
        surprise = np.where(over > 0.0, -np.log10(rate) + over / scale / _LN10, 0.0)
        out: FloatArray = np.maximum(u, (self._weights * surprise).max(axis=1))
        return out

    def _refractory(self, s: FloatArray, u: FloatArray) -> FloatArray:
        since = s[:, self._since]
        above = u >= HOLD_LEVEL
        if not above.any():
            since += 1.0
            return u
        damp = above & (since < HOLD)
        s[:, self._since] = np.where(above & ~damp, 1.0, since + 1.0)
        out: FloatArray = np.where(damp, u * HOLD_FACTOR, u)
        return out

    def _novelty(self, s: FloatArray, inputs: FloatArray, slots: IntArray, x: FloatArray, high: FloatArray,
                 low: FloatArray, u: FloatArray, warm: npt.NDArray[np.bool_] | None) -> FloatArray:
        """ContextNovelty.step of every scale (the range is the detector's own, updated), folded
        into ``u`` once warm."""
        bins = self._bins
        # x >= low (the range includes x), so the level is >= 0 and only the top needs a clip
        level = np.minimum(np.floor(((x - low) / np.maximum(high - low, 1e-12))[:, None] * bins), bins - 1)
        code = (s[:, self._code] * bins + level) % self._spans
        s[:, self._code] = code
        rows, where = slots[:, None], code.astype(np.intp) + self._offsets  # every scale in one table
        novel = self._input(inputs, self._novel_in)
        table = self._table
        np.logical_not(table[rows, where], out=novel)  # 1.0 for a context never seen
        if not novel.any():  # no surprise: u stays
            return u
        table[rows, where] = True
        count, exceed = s[:, self._context_count], s[:, self._novel_in]
        surprise = np.where(novel > 0.0, -np.log10((exceed + _PRIOR) / (count + _PRIOR_WEIGHT)), 0.0)
        novelty = self._context_weight * surprise.max(axis=1)
        out: FloatArray = np.maximum(u, novelty) if warm is None else np.where(warm, np.maximum(u, novelty), u)
        return out


def _pick(first: npt.NDArray[np.bool_] | None, new: FloatArray, old: FloatArray) -> FloatArray:
    """``new`` in the rows of a slot's first sample, ``old`` elsewhere (None: no first sample)."""
    out: FloatArray = old if first is None else np.where(first, new, old)
    return out


def _ew_z(s: FloatArray, at: int, k: int, x: FloatArray, first: npt.NDArray[np.bool_] | None, decay: FloatArray,
          floor: float) -> FloatArray:
    """EwZScore.step of k z-scores over rows (x: n by k); columns from ``at``: mean sum, mean
    weight, variance sum, variance weight, mean, variance, each k wide (the day z-scores, which
    step only on a valid difference)."""
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


@register_bank("ewma")
def ewma_bank(size: int) -> StatisticalBank:
    return StatisticalBank(CHEAP, size)


@register_bank("seasonal")
def seasonal_bank(size: int) -> StatisticalBank:
    return StatisticalBank(SEASONAL, size)
