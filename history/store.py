"""The history storage interface: what the Historian, the REST API and OPC UA HistoryRead need.

A backend keeps points (series, time, value, quality) and answers three questions: the raw
points of one series in a time range (paged by a cursor), buckets of aggregates over a range,
and which series exist. Columns travel as numpy arrays, never as Python objects per point, so
an append of 10,000 points costs one call, not 10,000 (measured: bench/bench_history.py).

The embedded engine was chosen by measurement (DuckDB, see BENCHMARKS.md); a PostgreSQL backend
implements this same protocol (``COPY`` for ``append``, ``date_bin`` for buckets) and registers
its URL scheme in ``BACKENDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from twinbridge.aas.quality import Quality

Aggregate = Literal["avg", "min", "max", "count", "first", "last"]
AGGREGATES: tuple[Aggregate, ...] = ("avg", "min", "max", "count", "first", "last")

QUALITY_CODES: dict[Quality, int] = {Quality.GOOD: 0, Quality.UNCERTAIN: 1, Quality.BAD: 2}
QUALITY_OF_CODE: tuple[Quality, ...] = (Quality.GOOD, Quality.UNCERTAIN, Quality.BAD)


class HistoryError(Exception):
    """The history could not be read or written (corrupt file, full disk); the message names the file."""


class OutOfRawRetention(HistoryError):
    """A raw read or a bucket interval reaches before the raw points still kept."""


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One historized element: the submodel's identifier and the element's idShortPath."""

    submodel_id: str
    path: str


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    id: int
    key: SeriesKey
    value_type: str  # "number", "integer", "boolean" or "text": how values are given back


@dataclass(slots=True)
class PointBatch:
    """Columns of points to append: one row per sample. ``text`` holds the value of non-numeric
    samples (strings, dates, references rendered as text); ``value`` is NaN in those rows."""

    series: npt.NDArray[np.uint32]
    t_us: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]
    text: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.t_us)


@dataclass(slots=True)
class RawPoints:
    """Raw points in time order; ``text[i]`` is set where the sample was not a number."""

    t_us: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]
    text: list[str | None] = field(default_factory=list)


@dataclass(slots=True)
class Bucket:
    """One interval's aggregates over its Good and Uncertain numeric points (Bad ones are the last
    known value kept for display, not a measurement: they do not count). Empty buckets have count 0
    and None elsewhere."""

    start_us: int
    count: int
    avg: float | None
    min: float | None
    max: float | None
    first: float | None
    last: float | None


@dataclass(frozen=True, slots=True)
class Retention:
    """How long points are kept: raw for ``raw_days``, one-minute aggregates for ``rollup_days``;
    ``series_raw_days`` overrides the raw retention of single series (by series id)."""

    raw_days: float = 7.0
    rollup_days: float = 365.0
    series_raw_days: Mapping[int, float] = field(default_factory=dict)


class HistoryStore(Protocol):
    """Thread-safe: the Historian's writer thread appends while the event loop's executor reads."""

    def series_id(self, key: SeriesKey, value_type: str = "number") -> int:
        """The id of a series, created on first use (value_type is recorded then)."""
        ...

    def find_series(self, key: SeriesKey) -> SeriesInfo | None: ...

    def all_series(self) -> list[SeriesInfo]: ...

    def append(self, batch: PointBatch) -> None:
        """Durable when it returns (one transaction)."""
        ...

    def read(self, series: int, start_us: int, end_us: int, limit: int, skip: int = 0) -> RawPoints:
        """Up to ``limit`` points with start <= t < end in time order, after skipping ``skip``
        points at exactly ``start_us`` (how a cursor resumes inside equal timestamps)."""
        ...

    def aggregate(self, series: int, start_us: int, end_us: int, interval_us: int) -> list[Bucket]:
        """Every bucket [start + k·interval, start + (k+1)·interval) up to end, empty ones too."""
        ...

    def compact(self, before_us: int) -> None:
        """Reorganise points older than ``before_us`` for compression and fast reads, and
        compute their one-minute roll-ups."""
        ...

    def apply_retention(self, now_us: int, retention: Retention) -> int:
        """Drop raw points and roll-ups past their retention; returns the raw points dropped."""
        ...

    def raw_horizon_us(self, series: int | None = None) -> int:
        """The oldest time for which raw points of ``series`` (or of series without an override) are
        still kept (0 when nothing was dropped)."""
        ...

    def backup(self, directory: Path) -> list[Path]:
        """Write a consistent copy into ``directory`` while appends go on; returns the files."""
        ...

    def close(self) -> None: ...


BACKENDS: dict[str, Callable[[str], HistoryStore]] = {}
"""URL scheme → factory; backends register themselves on import (``duckdb:///path``)."""


def open_history(url: str) -> HistoryStore:
    """A history store chosen by URL: ``duckdb:///path/history.duckdb`` or ``duckdb://:memory:``."""
    scheme, _, rest = url.partition("://")
    if scheme == "duckdb":
        from twinbridge.history import duckdb_store  # noqa: F401  (registers the backend)
    factory = BACKENDS.get(scheme)
    if factory is None:
        raise HistoryError(f"history URL {url!r}: unknown scheme {scheme!r} (known: {', '.join(sorted(BACKENDS))})")
    return factory(rest)
