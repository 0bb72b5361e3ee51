"""Seasonal look-ups: the samples one period (a day) before the current one, found by timestamp.

Why by timestamp and not by a fixed lag: NAB and plant signals have gaps and jitter; "the same
time yesterday" is what a human compares against. ``jitter`` also considers the neighbouring
samples, so a daily spike that comes a few minutes late is still recognised as the usual one.

Why a bounded history (``RESOLUTION_S``): daily seasonality needs "the same time yesterday" to the
minute, not to the sample. Keeping every sample of a day made memory grow with the sample rate
(100 signals at 1 Hz: 8.6 M samples, > 1 GB as Python floats; at 10 Hz > 10 GB, so a plant
monitoring vibration would run out of memory after a day). The history keeps the *first* sample
of each ``RESOLUTION_S`` bin of time, bin = ``t // RESOLUTION_S``, and only a bin later than the
last kept one (a duplicate timestamp or a jump back in time keeps nothing, so the kept times stay
strictly increasing). A day is then at most 1,441 samples per signal whatever the rate: ~23 KiB
per signal in :class:`RingHistory` (two float64 rows), ~27 KiB per :class:`SeasonalNeighbours`.
Signals sampled less often than once a minute (NAB's are 5-minute) keep every sample, as before. The
rule is the same in ``step``, ``batch`` and the bank's :class:`RingHistory`, and ``//`` is the
same double arithmetic in Python and numpy (``np.floor_divide``), so the three agree exactly.
"""

from __future__ import annotations

import math
from array import array

import numpy as np
import numpy.typing as npt

from twinbridge.analytics.detectors.causal import FloatArray, previous

DAY_S = 86_400.0
RESOLUTION_S = 60.0
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
# ``step`` drops the samples no look-up can reach once this many have piled up (amortised O(1))
_TRIM = 256


def kept_samples(period_s: float, resolution_s: float = RESOLUTION_S) -> int:
    """The most samples a period can hold at one per bin: the bins t - period .. t."""
    return math.ceil(period_s / resolution_s) + 1


class SeasonalNeighbours:
    """For each sample: the signed difference to the closest of the kept earlier samples around
    t - period (kept indices j-jitter .. j+jitter, where j is the first kept sample at or after
    t - period; see the module docstring for which samples are kept).

    None (``step``) or invalid (``batch``) until a full period has been seen.
    """

    __slots__ = ("_first", "_head", "_jitter", "_last_bin", "_period", "_resolution", "_times", "_values")

    def __init__(self, period_s: float = DAY_S, jitter: int = 0, resolution_s: float = RESOLUTION_S) -> None:
        self._period = period_s
        self._jitter = jitter
        self._resolution = resolution_s
        self._first: float | None = None
        self._last_bin = -math.inf
        self._times = array("d")
        self._values = array("d")
        self._head = 0  # index (in the arrays) of the first kept sample at or after t - period

    def step(self, t: float, x: float) -> float | None:
        """The signed difference to the closest earlier neighbour (see the class docstring)."""
        if self._first is None:
            self._first = t
        target = t - self._period
        times, values = self._times, self._values
        while self._head < len(times) and times[self._head] < target:
            self._head += 1
        difference: float | None = None
        if self._first <= target:
            best = math.inf
            count = len(times)
            for k in range(-self._jitter, self._jitter + 1):
                at = max(self._head + k, 0)
                if at >= count:  # ``count`` is the current sample's place: only earlier ones qualify
                    continue
                d = x - values[at]
                if abs(d) < best:
                    best, difference = abs(d), d
        bin_ = t // self._resolution
        if bin_ > self._last_bin:
            self._last_bin = bin_
            times.append(t)
            values.append(x)
            keep_from = self._head - self._jitter
            if keep_from > _TRIM:  # what no future look-up can reach
                del times[:keep_from]
                del values[:keep_from]
                self._head -= keep_from
        return difference

    def batch(self, t: FloatArray, x: FloatArray) -> tuple[FloatArray, BoolArray]:
        """Differences (0 where invalid) and the validity mask, as ``step`` sample by sample."""
        n = len(x)
        bins = np.floor_divide(t, self._resolution)
        kept = bins > previous(np.fmax.accumulate(bins), -np.inf)
        kept_t, kept_x = t[kept], x[kept]
        before: IntArray = np.cumsum(kept, dtype=np.intp) - kept  # the kept samples before each one
        target = t - self._period
        # ``step``'s head only moves forward (a jump back in time leaves it where it was)
        head = np.maximum.accumulate(np.searchsorted(kept_t, target, side="left"))
        valid = t[0] <= target
        best = np.full(n, np.inf)
        difference = np.zeros(n)
        found = np.zeros(n, dtype=bool)
        last = len(kept_x) - 1
        for k in range(-self._jitter, self._jitter + 1):
            at = np.maximum(head + k, 0)
            usable = valid & (at < before)
            d = x - kept_x[np.minimum(at, last)]
            take = usable & (np.abs(d) < best)
            best = np.where(take, np.abs(d), best)
            difference = np.where(take, d, difference)
            found |= take
        return difference, found


class RingHistory:
    """The kept samples of many signals (slots) for the look-ups of several jitters at once.

    Why: the bank scores one sample of many signals per call; a Python history per signal cost a
    Python loop per sample once a signal had a day behind it (12.5 µs per sample). Here every
    slot's kept samples live in a ring, one row of a (slots × capacity) array for times and one for
    values, with a count (samples ever kept) and a head (the first kept sample at or after
    t - period) per slot, so a call advances the heads and gathers the 2·jitter + 1 neighbours of
    every row in a handful of numpy operations. The capacity doubles as the slots need it up to
    the bound (:func:`kept_samples` + 2·jitter + a little), so slowly sampled signals do not pay for
    a day at the resolution. The look-ups are those of ``SeasonalNeighbours.step`` bit for bit.
    """

    # head steps taken one at a time before a binary search (a head moves by 0-2 per sample unless
    # a signal paused)
    _STEPS = 3

    def __init__(self, size: int, jitters: tuple[int, ...], period_s: float = DAY_S,
                 resolution_s: float = RESOLUTION_S) -> None:
        self._jitters = jitters
        self._reach = max(jitters)
        self._offsets = np.arange(-self._reach, self._reach + 1)
        self._period, self._resolution = period_s, resolution_s
        self._bound = kept_samples(period_s, resolution_s) + 2 * self._reach + 8
        self.capacity = min(16, self._bound)
        self._times = np.zeros((size, self.capacity))
        self._values = np.zeros((size, self.capacity))
        # per slot: samples ever kept, head, the last kept bin (floats: exact integers, one gather)
        self._state = np.zeros((size, 3))
        self._state[:, 2] = -np.inf

    def live(self, slot: int) -> int:
        """How many samples ``slot``'s look-ups can still reach (the jitter's before its head, and on)."""
        count, head = int(self._state[slot, 0]), int(self._state[slot, 1])
        return count - max(head - self._reach, 0)

    def look_up(self, slots: IntArray, t: FloatArray, x: FloatArray,
                compare: BoolArray) -> tuple[FloatArray, BoolArray]:
        """For the rows where ``compare`` (a full period seen): per jitter, the difference to the
        closest earlier neighbour around t - period and whether there is one; then keeps the rows."""
        state = self._state[slots]
        count = state[:, 0].astype(np.intp)
        row_at = slots * self.capacity  # where each slot's ring starts in the flattened arrays
        head = self._advance(row_at, state[:, 1].astype(np.intp), count, t - self._period)
        n, reach = len(slots), self._reach
        differences = np.zeros((n, len(self._jitters)))
        valid = np.zeros((n, len(self._jitters)), dtype=bool)
        if compare.any():
            at = head[:, None] + self._offsets
            np.maximum(at, 0, out=at)
            d = x[:, None] - self._values.take(row_at[:, None] + at % self.capacity)
            size = np.abs(d)
            # as ``step``: a neighbour counts if earlier and |d| < inf (not NaN); the first smallest wins
            usable = at < count[:, None]
            usable &= size < np.inf
            if not compare.all():
                usable &= compare[:, None]
            np.copyto(size, np.inf, where=~usable)
            width = 2 * reach + 1
            for j, jitter in enumerate(self._jitters):
                if jitter:
                    pick = size[:, reach - jitter:reach + jitter + 1].argmin(axis=1)
                    pick += np.arange(reach - jitter, n * width, width)  # into the flattened (n, width)
                else:
                    pick = np.arange(reach, n * width, width)
                valid[:, j] = size.take(pick) < np.inf
                differences[:, j] = d.take(pick)
            differences[~valid] = 0.0
        self._keep(slots, row_at, t, x, state, count, head)
        return differences, valid

    def keep(self, slots: IntArray, t: FloatArray, x: FloatArray) -> None:
        """Keeps the rows that open a new bin, without looking anything up (no slot has a full
        period behind it: its head cannot move, every kept time is after t - period)."""
        state = self._state[slots]
        count, head = state[:, 0].astype(np.intp), state[:, 1].astype(np.intp)
        self._keep(slots, slots * self.capacity, t, x, state, count, head)

    def _keep(self, slots: IntArray, row_at: IntArray, t: FloatArray, x: FloatArray, state: FloatArray,
              count: IntArray, head: IntArray) -> None:
        bins = np.floor_divide(t, self._resolution)
        new = bins > state[:, 2]
        if new.any():
            rows = slice(None) if new.all() else np.flatnonzero(new)  # lockstep signals: all or none
            kept = count[rows]
            # at the bound everything fits (the module docstring); below it, the rings may have to grow
            if self.capacity < self._bound and self._grow(self._needed(kept, head[rows])):
                row_at = slots * self.capacity
            at = row_at[rows] + kept % self.capacity
            self._times.put(at, t[rows])
            self._values.put(at, x[rows])
            state[rows, 0] = kept + 1
            state[rows, 2] = bins[rows]
        state[:, 1] = head
        self._state[slots] = state

    def _advance(self, row_at: IntArray, head: IntArray, count: IntArray, target: FloatArray) -> IntArray:
        """Moves each head to the first kept sample at or after ``target`` (never back): a step at
        a time, then a binary search for the rows still behind (after a pause)."""
        times, capacity = self._times, self.capacity
        for _ in range(self._STEPS):
            moving = head < count
            moving &= times.take(row_at + head % capacity) < target
            if not moving.any():
                return head
            head += moving
        low, high = head, count.copy()
        while True:
            open_ = low < high
            if not open_.any():
                return low
            middle = (low + high) // 2
            before = times.take(row_at + middle % capacity) < target
            low = np.where(open_ & before, middle + 1, low)
            high = np.where(open_ & ~before, middle, high)

    def _needed(self, kept: IntArray, head: IntArray) -> int:
        """The samples the fullest ring must hold once one more is kept: from ``reach`` before the
        head on (at most ``kept_samples`` + reach, below the bound)."""
        return int((kept + 1 - np.maximum(head - self._reach, 0)).max())

    def _grow(self, needed: int) -> bool:
        """Doubles the capacity (up to the bound) until ``needed`` samples fit in every slot's ring;
        whether it grew."""
        old = self.capacity
        if needed <= old:
            return False
        new = min(max(2 * old, needed), self._bound)
        count = self._state[:, 0].astype(np.intp)
        absolute = count[:, None] - old + np.arange(old)  # every sample a ring holds, by absolute index
        held = absolute >= 0
        rows = np.broadcast_to(np.arange(len(count))[:, None], absolute.shape)[held]
        absolute = absolute[held]
        for name in ("_times", "_values"):
            grown = np.zeros((len(count), new))
            grown[rows, absolute % new] = getattr(self, name)[rows, absolute % old]
            setattr(self, name, grown)
        self.capacity = new
        return True
