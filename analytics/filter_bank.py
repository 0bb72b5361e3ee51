"""The filter chains of many signals at once: one sample per signal per call, in numpy.

Why: the conditioner gets a loop turn's samples of many signals (an MQTT flood over 100 topics:
~64 per turn, about one per signal); a chain applied sample by sample cost ~2.4 µs (range check +
median of 5, ``Sample`` objects included), the same chains as one array step per batch ~0.5 µs
(bench/bench_analytics_mqtt.py, BENCHMARKS.md 2026-11-30). Chains of the same shape (the same
filter kinds in the same order, the same median windows) share one :class:`ChainBank`; each slot
keeps its own parameters and state. The numbers are those of ``FilterChain.apply`` (the tests
compare them); the moving average and the spike filter have no array form, so a chain with one
of them stays a ``FilterChain`` per signal.

Qualities travel as severities (0 Good, 1 Uncertain, 2 Bad); a stage only makes a sample worse,
as ``filters.worse`` does, and names itself as the reason.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from twinbridge.aas.quality import Quality
from twinbridge.analytics.filters import Ewma, Filter, FilterChain, Kalman, Median, RangeCheck, RateCheck

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
SeverityArray = npt.NDArray[np.int8]
_VECTOR = (RangeCheck, Median, Ewma, Kalman, RateCheck)
QUALITIES = (Quality.GOOD, Quality.UNCERTAIN, Quality.BAD)  # by severity
BAD = 2


def severity_of(quality: Quality) -> int:
    """The index of ``quality`` in QUALITIES. Not a dict: an Enum hashes in Python (``Enum.__hash__``),
    ~0.3 µs per look-up on the per-sample path, twice the cost of these identity tests."""
    return 0 if quality is Quality.GOOD else 1 if quality is Quality.UNCERTAIN else BAD


def shape_of(chain: FilterChain) -> tuple[object, ...] | None:
    """The key of the chains one bank can hold (None: the chain has no array form)."""
    key: list[object] = []
    for stage in chain.filters:
        if not isinstance(stage, _VECTOR):
            return None
        key.append((type(stage).__name__, stage.window if isinstance(stage, Median) else None))
    return tuple(key)


def _column(filters: list[Filter], attribute: str) -> FloatArray:
    return np.array([float(getattr(f, attribute)) for f in filters])


class _Range:
    name = "range"

    def __init__(self, filters: list[RangeCheck]) -> None:
        self.low, self.high = _column(filters, "low"), _column(filters, "high")  # type: ignore[arg-type]
        self.warn_low, self.warn_high = _column(filters, "warn_low"), _column(filters, "warn_high")  # type: ignore[arg-type]

    def step(self, slots: IntArray, t: FloatArray, x: FloatArray) -> tuple[FloatArray, SeverityArray]:
        # the usual case first: every value inside its warning limits (which lie inside [low, high];
        # NaN fails both comparisons): 6 array operations instead of 15
        if ((x >= self.warn_low[slots]) & (x <= self.warn_high[slots])).all():
            return x, np.zeros(len(x), dtype=np.int8)
        bad = np.isnan(x) | (x < self.low[slots]) | (x > self.high[slots])
        uncertain = (x < self.warn_low[slots]) | (x > self.warn_high[slots])
        return x, np.where(bad, 2, uncertain.astype(np.int8)).astype(np.int8)


class _Median:
    name = "median"

    def __init__(self, filters: list[Median]) -> None:
        self.window = filters[0].window
        self.values = np.full((len(filters), self.window), np.nan)
        self.count = np.zeros(len(filters), dtype=np.intp)
        self.full = False  # every window filled: the middle is a fixed column

    def step(self, slots: IntArray, t: FloatArray, x: FloatArray) -> tuple[FloatArray, None]:
        count = self.count[slots]
        window = self.window
        self.values[slots, count % window] = x
        count += 1
        self.count[slots] = count
        ordered = self.values[slots]  # a copy (fancy indexing): sorted in place, without np.sort's copy
        ordered.sort(axis=1)  # NaN (not yet filled) sorts last
        if self.full:  # the same element(s) as below, without the per-row positions
            middle = window // 2
            if window % 2:
                return ordered[:, middle], None
            return 0.5 * (ordered[:, middle - 1] + ordered[:, middle]), None
        self.full = bool(self.count.min() >= window)
        filled = np.minimum(count, window)
        rows = np.arange(len(slots))
        low, high = ordered[rows, (filled - 1) // 2], ordered[rows, filled // 2]
        return np.where(filled % 2 == 1, low, 0.5 * (low + high)), None


class _Ewma:
    name = "ewma"

    def __init__(self, filters: list[Ewma]) -> None:
        self.alpha = _column(filters, "alpha")  # type: ignore[arg-type]
        self.value = np.zeros(len(filters))
        self.started = np.zeros(len(filters), dtype=bool)

    def step(self, slots: IntArray, t: FloatArray, x: FloatArray) -> tuple[FloatArray, None]:
        value = self.value[slots]
        out = np.where(self.started[slots], value + self.alpha[slots] * (x - value), x)
        self.value[slots] = out
        self.started[slots] = True
        return out, None


class _Kalman:
    name = "kalman"

    def __init__(self, filters: list[Kalman]) -> None:
        self.r, self.q = _column(filters, "measurement_variance"), _column(filters, "process_variance")  # type: ignore[arg-type]
        self.estimate = np.zeros(len(filters))
        self.variance = np.zeros(len(filters))
        self.started = np.zeros(len(filters), dtype=bool)

    def step(self, slots: IntArray, t: FloatArray, x: FloatArray) -> tuple[FloatArray, None]:
        r, started = self.r[slots], self.started[slots]
        predicted = self.variance[slots] + self.q[slots]
        gain = predicted / (predicted + r)
        estimate = self.estimate[slots]
        self.estimate[slots] = out = np.where(started, estimate + gain * (x - estimate), x)
        self.variance[slots] = np.where(started, (1.0 - gain) * predicted, r)
        self.started[slots] = True
        return out, None


class _Rate:
    name = "rate"

    def __init__(self, filters: list[RateCheck]) -> None:
        self.max_rate = _column(filters, "max_rate")  # type: ignore[arg-type]
        self.last_t = np.zeros(len(filters))
        self.last_x = np.zeros(len(filters))
        self.started = np.zeros(len(filters), dtype=bool)

    def step(self, slots: IntArray, t: FloatArray, x: FloatArray) -> tuple[FloatArray, SeverityArray]:
        elapsed = t - self.last_t[slots]
        change = np.abs(x - self.last_x[slots])
        with np.errstate(divide="ignore", invalid="ignore"):
            fast = np.where(elapsed <= 0.0, change != 0.0, change / elapsed > self.max_rate[slots])
        uncertain = fast & self.started[slots]
        self.last_t[slots], self.last_x[slots] = t, x
        self.started[slots] = True
        return x, uncertain.astype(np.int8)


_STAGES = {RangeCheck: _Range, Median: _Median, Ewma: _Ewma, Kalman: _Kalman, RateCheck: _Rate}


class ChainBank:
    """Chains of one shape (see :func:`shape_of`), slot i being ``chains[i]``'s parameters."""

    def __init__(self, chains: list[FilterChain]) -> None:
        self.size = len(chains)
        self._stages = [_STAGES[type(stage)]([chain.filters[at] for chain in chains])  # type: ignore[arg-type]
                        for at, stage in enumerate(chains[0].filters)]

    def apply(self, slots: IntArray, t: FloatArray, x: FloatArray,
              severity: SeverityArray) -> tuple[FloatArray, SeverityArray, list[str | None]]:
        """One sample per slot (distinct): the cleaned values, their severities and, for a sample a
        stage made worse, that stage's name."""
        reasons: list[str | None] = [None] * len(slots)
        for stage in self._stages:
            x, flagged = stage.step(slots, t, x)
            if flagged is not None:
                worse = flagged > severity
                if worse.any():
                    severity = np.maximum(severity, flagged)
                    for at in np.flatnonzero(worse).tolist():
                        reasons[at] = stage.name
        return x, severity, reasons
