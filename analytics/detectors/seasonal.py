"""Seasonal look-ups: the samples one period (a day) before the current one, found by timestamp.

Why by timestamp and not by a fixed lag: NAB and plant signals have gaps and jitter; "the same
time yesterday" is what a human compares against. ``jitter`` also considers the neighbouring
samples, so a daily spike that comes a few minutes late is still recognised as the usual one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from twinbridge.analytics.detectors.causal import FloatArray

DAY_S = 86_400.0


class SeasonalNeighbours:
    """For each sample: the signed difference to the closest of the earlier samples around t - period
    (indices j-jitter .. j+jitter, where j is the first sample at or after t - period).

    None (``step``) or invalid (``batch``) until a full period has been seen. Keeps one period (plus
    ``jitter``) of samples.
    """

    __slots__ = ("_first", "_head", "_jitter", "_offset", "_period", "_times", "_values")

    def __init__(self, period_s: float = DAY_S, jitter: int = 0) -> None:
        self._period = period_s
        self._jitter = jitter
        self._first: float | None = None
        self._times: list[float] = []
        self._values: list[float] = []
        self._head = 0  # index (in the lists) of the first sample at or after t - period

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
            best = float("inf")
            count = len(times)
            for k in range(-self._jitter, self._jitter + 1):
                at = max(self._head + k, 0)
                if at >= count:  # ``count`` is the current sample's place: only earlier ones qualify
                    continue
                d = x - values[at]
                if abs(d) < best:
                    best, difference = abs(d), d
        times.append(t)
        values.append(x)
        # drop what no future look-up can reach (amortised O(1))
        keep_from = self._head - self._jitter
        if keep_from > 1024:
            del times[:keep_from]
            del values[:keep_from]
            self._head -= keep_from
        return difference

    def batch(self, t: FloatArray, x: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """Differences (0 where invalid) and the validity mask."""
        n = len(x)
        index = np.arange(n)
        target = t - self._period
        head = np.searchsorted(t, target, side="left")
        valid = t[0] <= target
        best = np.full(n, np.inf)
        difference = np.zeros(n)
        found = np.zeros(n, dtype=bool)
        for k in range(-self._jitter, self._jitter + 1):
            at = np.clip(head + k, 0, n - 1)
            usable = valid & (at < index)
            d = x - x[at]
            take = usable & (np.abs(d) < best)
            best = np.where(take, np.abs(d), best)
            difference = np.where(take, d, difference)
            found |= take
        return difference, found
