"""``DuckDbHistory``: the embedded history engine, chosen by measurement (BENCHMARKS.md, "History").

Layout, and why:
- ``recent`` takes appends as they arrive (all series interleaved by time). DuckDB compresses
  that poorly (7.5 bytes/point on the demo day: the value column mixes signals, so ALP finds no
  common exponent and bit-packing sees wide timestamp ranges).
- ``compact`` moves closed time ranges into ``points`` sorted by (series, t), where every
  column compresses with DuckDB's own codecs (ALP/ALP-RD for doubles, delta bit-packing for
  timestamps, RLE/constant for series and quality): 3.7 bytes/point with hourly compaction,
  2.3 when a whole day is sorted at once. Nothing here encodes bytes by hand.
- ``rollup_1m`` holds one-minute partial aggregates (count, sum, min, max, first, last) computed
  at compaction, so aggregates stay answerable for a year after the raw points are dropped.
- ``meta`` keeps the raw horizon: aggregates read roll-ups before it and raw points after it.

Threads: writes (append, compact, retention, series creation) are serialized by one lock on
one cursor; reads use a cursor per thread and see a consistent snapshot (DuckDB's MVCC), so a
long query never stalls ingest.
"""

from __future__ import annotations

import contextlib
import math
import threading
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from twinbridge.history.store import (
    BACKENDS,
    Bucket,
    HistoryError,
    OutOfRawRetention,
    PointBatch,
    RawPoints,
    Retention,
    SeriesInfo,
    SeriesKey,
)

MINUTE_US = 60_000_000
DAY_US = 86_400_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (id UINTEGER PRIMARY KEY, submodel_id VARCHAR NOT NULL, path VARCHAR NOT NULL,
                                   value_type VARCHAR NOT NULL, UNIQUE (submodel_id, path));
CREATE TABLE IF NOT EXISTS recent (series UINTEGER, t BIGINT, value DOUBLE, quality UTINYINT, text VARCHAR);
CREATE TABLE IF NOT EXISTS points (series UINTEGER, t BIGINT, value DOUBLE, quality UTINYINT, text VARCHAR);
CREATE TABLE IF NOT EXISTS rollup_1m (series UINTEGER, t BIGINT, n UBIGINT, total DOUBLE, lo DOUBLE, hi DOUBLE,
                                      first DOUBLE, first_t BIGINT, last DOUBLE, last_t BIGINT);
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value BIGINT);
CREATE TABLE IF NOT EXISTS series_horizon (series UINTEGER PRIMARY KEY, value BIGINT);
"""

# A point counts in aggregates when it is a number and not Bad (see store.Bucket).
_MEASURED = "quality < 2 AND value IS NOT NULL"

_AGGREGATE = f"""
WITH parts AS (
    SELECT t, value AS total, value AS lo, value AS hi, 1::UBIGINT AS n, value AS first, t AS first_t,
           value AS last, t AS last_t
      FROM recent WHERE series = $s AND t >= $raw_from AND t < $end AND {_MEASURED}
    UNION ALL
    SELECT t, value, value, value, 1::UBIGINT, value, t, value, t
      FROM points WHERE series = $s AND t >= $raw_from AND t < $end AND {_MEASURED}
    UNION ALL
    SELECT t, total, lo, hi, n, first, first_t, last, last_t
      FROM rollup_1m WHERE series = $s AND t >= $start AND t < $rollup_to
)
SELECT (t - $start) // $interval AS bucket, sum(n)::BIGINT AS n, sum(total) / sum(n) AS avg, min(lo) AS min,
       max(hi) AS max, arg_min(first, first_t) AS first, arg_max(last, last_t) AS last
  FROM parts GROUP BY bucket ORDER BY bucket
"""

_RAW = """
SELECT t, value, quality, text FROM (
    SELECT t, value, quality, text FROM recent WHERE series = $s AND t >= $start AND t < $end
    UNION ALL
    SELECT t, value, quality, text FROM points WHERE series = $s AND t >= $start AND t < $end
) ORDER BY t, quality, value, text LIMIT $limit OFFSET $skip
"""


class DuckDbHistory:
    """A ``HistoryStore`` in one DuckDB file (or in memory for ``:memory:``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = path if str(path) == ":memory:" else Path(path)
        try:
            self._db = duckdb.connect(str(self.path))
            self._writer = self._db.cursor()
            self._writer.execute(_SCHEMA)
        except duckdb.Error as error:
            raise HistoryError(f"cannot open the history {self.path}: {error}") from error
        self._lock = threading.Lock()
        self._local = threading.local()
        self._series: dict[SeriesKey, SeriesInfo] = {}
        for sid, submodel_id, path_, value_type in self._writer.execute(
                "SELECT id, submodel_id, path, value_type FROM series").fetchall():
            key = SeriesKey(submodel_id, path_)
            self._series[key] = SeriesInfo(int(sid), key, value_type)
        self._horizon = self._meta("raw_horizon")
        self._series_horizon: dict[int, int] = {
            int(sid): int(value) for sid, value in self._writer.execute("SELECT * FROM series_horizon").fetchall()}

    # ---------------------------------------------------------------- series
    def series_id(self, key: SeriesKey, value_type: str = "number") -> int:
        info = self._series.get(key)
        if info is not None:
            return info.id
        with self._lock:
            info = self._series.get(key)
            if info is None:
                sid = len(self._series) + 1
                self._write("INSERT INTO series VALUES (?, ?, ?, ?)", [sid, key.submodel_id, key.path, value_type])
                info = self._series[key] = SeriesInfo(sid, key, value_type)
        return info.id

    def find_series(self, key: SeriesKey) -> SeriesInfo | None:
        return self._series.get(key)

    def all_series(self) -> list[SeriesInfo]:
        return list(self._series.values())

    # ---------------------------------------------------------------- writes
    def append(self, batch: PointBatch) -> None:
        if not len(batch):
            return
        columns: dict[str, Any] = {"series": batch.series, "t": batch.t_us, "value": batch.value,
                                   "quality": batch.quality}
        if batch.text is not None and any(text is not None for text in batch.text):
            columns["text"] = np.array(batch.text, dtype=object)
            select = "SELECT series, t, CASE WHEN isnan(value) THEN NULL ELSE value END, quality, text FROM columns"
        else:
            select = "SELECT series, t, CASE WHEN isnan(value) THEN NULL ELSE value END, quality, NULL FROM columns"
        with self._lock:
            self._writer.register("columns", columns)
            try:
                self._write(f"INSERT INTO recent {select}")
            finally:
                self._writer.unregister("columns")

    def compact(self, before_us: int) -> None:
        with self._lock:
            self._compact(before_us)

    def apply_retention(self, now_us: int, retention: Retention) -> int:
        def cut_of(days: float) -> int:  # whole minutes: roll-ups and raw points meet on a minute edge
            return (now_us - int(days * DAY_US)) // MINUTE_US * MINUTE_US

        raw_cut = cut_of(retention.raw_days)
        rollup_cut = now_us - int(retention.rollup_days * DAY_US)
        cuts = {sid: cut_of(days) for sid, days in retention.series_raw_days.items()}
        others = f"series NOT IN ({', '.join(str(int(sid)) for sid in cuts)})" if cuts else "TRUE"
        with self._lock:
            self._compact(max([raw_cut, *cuts.values()]))  # roll up before any cut: nothing unrolled is dropped
            dropped = self._count_before(f"t < {raw_cut} AND {others}")
            statements: list[tuple[str, list[Any]]] = [
                (f"DELETE FROM points WHERE t < ? AND {others}", [raw_cut]),
                ("DELETE FROM rollup_1m WHERE t < ?", [rollup_cut]),
                ("INSERT OR REPLACE INTO meta VALUES ('raw_horizon', ?)", [max(raw_cut, self._horizon)]),
            ]
            horizons = {}
            for sid, cut in cuts.items():
                dropped += self._count_before(f"series = {int(sid)} AND t < {cut}")
                horizons[sid] = max(cut, self._series_horizon.get(sid, self._horizon))
                statements.append(("DELETE FROM points WHERE series = ? AND t < ?", [sid, cut]))
                statements.append(("INSERT OR REPLACE INTO series_horizon VALUES (?, ?)", [sid, horizons[sid]]))
            self._transaction(statements)
            self._horizon = max(raw_cut, self._horizon)
            self._series_horizon.update(horizons)
        return dropped

    def _count_before(self, condition: str) -> int:
        row = self._write(f"SELECT count(*) FROM points WHERE {condition}").fetchone()
        return int(row[0]) if row else 0

    def checkpoint(self) -> None:
        """Write the WAL into the file (DuckDB compresses at checkpoint)."""
        with self._lock:
            self._write("CHECKPOINT")

    def backup(self, directory: Path) -> list[Path]:
        """A consistent copy through DuckDB itself (one read transaction), while appends go on."""
        target = directory / "history.duckdb"
        target.unlink(missing_ok=True)
        cursor = self._db.cursor()
        try:
            cursor.execute(f"ATTACH '{_quoted(target)}' AS backup")
            cursor.execute(f"COPY FROM DATABASE {_database_name(cursor)} TO backup")
            cursor.execute("DETACH backup")
        except duckdb.Error as error:
            raise HistoryError(f"backing up the history {self.path} to {target} failed: {error}") from error
        finally:
            cursor.close()
        return [target]

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(duckdb.Error):  # closing still releases the file; the WAL replays on open
                self._writer.execute("CHECKPOINT")
            self._db.close()

    # ----------------------------------------------------------------- reads
    def raw_horizon_us(self, series: int | None = None) -> int:
        if series is None:
            return self._horizon
        return self._series_horizon.get(series, self._horizon)

    def read(self, series: int, start_us: int, end_us: int, limit: int, skip: int = 0) -> RawPoints:
        rows = self._query(_RAW, {"s": series, "start": start_us, "end": end_us, "limit": limit, "skip": skip})
        value = rows["value"]
        return RawPoints(
            t_us=np.asarray(rows["t"], dtype=np.int64),
            value=np.ma.filled(value, np.nan).astype(np.float64) if np.ma.isMaskedArray(value)
            else np.asarray(value, dtype=np.float64),
            quality=np.asarray(rows["quality"], dtype=np.uint8),
            text=_texts(rows["text"]),
        )

    def aggregate(self, series: int, start_us: int, end_us: int, interval_us: int) -> list[Bucket]:
        count = math.ceil((end_us - start_us) / interval_us)
        horizon = self.raw_horizon_us(series)
        if start_us < horizon and (interval_us % MINUTE_US or start_us % MINUTE_US):
            raise OutOfRawRetention("before the raw retention horizon only one-minute roll-ups are kept: "
                                    "the interval and the start must be whole minutes")
        raw_from = max(start_us, horizon)
        rows = self._query(_AGGREGATE, {"s": series, "start": start_us, "end": end_us, "interval": interval_us,
                                        "raw_from": raw_from, "rollup_to": min(end_us, raw_from)})
        buckets = [Bucket(start_us + k * interval_us, 0, None, None, None, None, None) for k in range(count)]
        columns = [_floats(rows[name]) for name in ("avg", "min", "max", "first", "last")]
        for row, (index, n) in enumerate(zip(rows["bucket"].tolist(), rows["n"].tolist(), strict=True)):
            bucket = buckets[index]
            bucket.count = int(n)
            bucket.avg, bucket.min, bucket.max, bucket.first, bucket.last = (column[row] for column in columns)
        return buckets

    # -------------------------------------------------------------- internal
    def _query(self, sql: str, parameters: dict[str, int]) -> dict[str, Any]:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._db.cursor()
        try:
            return dict(cursor.execute(sql, parameters).fetchnumpy())
        except duckdb.Error as error:
            raise HistoryError(f"reading the history {self.path} failed: {error}") from error

    def _write(self, sql: str, parameters: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        try:
            return self._writer.execute(sql, parameters)
        except duckdb.Error as error:
            raise HistoryError(f"writing the history {self.path} failed: {error}") from error

    def _transaction(self, statements: list[tuple[str, list[Any]]]) -> None:
        self._write("BEGIN TRANSACTION")
        try:
            for sql, parameters in statements:
                self._write(sql, parameters)
        except HistoryError:
            self._writer.execute("ROLLBACK")
            raise
        self._write("COMMIT")

    def _compact(self, before_us: int) -> None:
        self._transaction([
            ("INSERT INTO points SELECT * FROM recent WHERE t < ? ORDER BY series, t", [before_us]),
            (f"""INSERT INTO rollup_1m
                 SELECT series, t // {MINUTE_US} * {MINUTE_US} AS minute, count(*), sum(value), min(value), max(value),
                        arg_min(value, t), min(t), arg_max(value, t), max(t)
                   FROM recent WHERE t < ? AND {_MEASURED} GROUP BY series, minute""", [before_us]),
            ("DELETE FROM recent WHERE t < ?", [before_us]),
        ])

    def _meta(self, key: str) -> int:
        row = self._writer.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return int(row[0]) if row else 0


def _floats(column: Any) -> list[float | None]:
    if np.ma.isMaskedArray(column):
        return [None if masked else float(value) for value, masked in
                zip(column.data.tolist(), np.ma.getmaskarray(column).tolist(), strict=True)]
    return [float(value) for value in column.tolist()]


def _texts(column: Any) -> list[str | None]:
    """The text column as a list; most series have no text at all, so skip the per-row walk then."""
    if np.ma.isMaskedArray(column):
        mask = np.ma.getmaskarray(column)
        if mask.all():
            return [None] * len(column)
        return [None if masked else str(text) for text, masked in zip(column.data.tolist(), mask.tolist(), strict=True)]
    return [None if text is None else str(text) for text in column.tolist()]


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _database_name(cursor: duckdb.DuckDBPyConnection) -> str:
    row = cursor.execute("SELECT current_database()").fetchone()
    assert row is not None
    return f'"{row[0]}"'


BACKENDS["duckdb"] = DuckDbHistory
