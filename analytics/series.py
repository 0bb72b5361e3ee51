"""NAB-style series files: ``timestamp,value`` in, ``timestamp,value,anomaly_score`` out.

Errors name the file, the line and the column, because these files are written by hand or by
other tools and a silent misparse would score a detector on garbage.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt


class SeriesError(ValueError):
    """A series file that cannot be read as ``timestamp,value``."""


@dataclass(frozen=True)
class Series:
    path: Path
    stamps: list[str]
    texts: list[str]
    timestamps: npt.NDArray[np.datetime64]
    values: npt.NDArray[np.float64]


def read_csv_series(path: Path) -> Series:
    """Read one file; the header must contain ``timestamp`` and ``value`` (other columns are ignored)."""
    try:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise SeriesError(f"{path}: empty file, expected a header 'timestamp,value'")
            columns = [name.strip() for name in header]
            missing = [name for name in ("timestamp", "value") if name not in columns]
            if missing:
                raise SeriesError(
                    f"{path}, line 1: missing column(s) {', '.join(missing)} (header: {','.join(columns)})")
            at_time, at_value = columns.index("timestamp"), columns.index("value")
            stamps: list[str] = []
            values: list[float] = []
            texts: list[str] = []
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) <= max(at_time, at_value):
                    raise SeriesError(f"{path}, line {line}: expected {len(columns)} columns, got {len(row)}")
                try:
                    values.append(float(row[at_value]))
                except ValueError:
                    raise SeriesError(f"{path}, line {line}, column 'value': not a number: {row[at_value]!r}") from None
                stamps.append(row[at_time].strip())
                texts.append(row[at_value].strip())
    except OSError as error:
        raise SeriesError(f"{path}: cannot read: {error.strerror}") from None
    try:
        timestamps = np.array(stamps, dtype="datetime64[us]")
    except ValueError:
        for line, stamp in enumerate(stamps, start=2):
            try:
                np.datetime64(stamp)
            except ValueError:
                raise SeriesError(f"{path}, line {line}, column 'timestamp': not a timestamp: {stamp!r}") from None
        raise
    return Series(path, stamps, texts, timestamps, np.array(values, dtype=np.float64))


def write_scores(path: Path, series: Series, scores: npt.NDArray[np.float64]) -> None:
    """Write NAB's results layout; timestamps and values are copied exactly as they were read. Scores
    get 9 decimals: NAB's threshold sweep ranks every row, and rounding would create ties."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        handle.write("timestamp,value,anomaly_score\n")
        handle.writelines(f"{stamp},{text},{score:.9f}\n"
                          for stamp, text, score in zip(series.stamps, series.texts, scores.tolist(), strict=True))
