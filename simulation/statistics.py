"""Means with 95 % confidence intervals over replications, and paired differences.

Student's t quantiles for 1-30 degrees of freedom are tabulated (scipy is not a dependency of
the server for one function); above 30 the Cornish-Fisher expansion of the normal quantile is
exact to 1e-4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)
_Z975 = 1.959964


def t975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("a confidence interval needs at least two replications")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean with its 95 % confidence interval over ``n`` replications (orjson writes it as is)."""

    mean: float
    low: float
    high: float
    half_width: float
    n: int


def interval(samples: Sequence[float]) -> Interval:
    n = len(samples)
    mean = math.fsum(samples) / n
    if n < 2:
        return Interval(mean=mean, low=mean, high=mean, half_width=0.0, n=n)
    variance = math.fsum((x - mean) ** 2 for x in samples) / (n - 1)
    half = t975(n - 1) * math.sqrt(variance / n)
    return Interval(mean=mean, low=mean - half, high=mean + half, half_width=half, n=n)


def paired_difference(scenario: Sequence[float], baseline: Sequence[float]) -> Interval:
    """Scenario minus baseline per replication (common random numbers), then its interval."""
    return interval([a - b for a, b in zip(scenario, baseline, strict=True)])
