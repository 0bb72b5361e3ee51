"""DuckDbHistory against numpy: the same points in, the same aggregates out, across compaction and retention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twinbridge.history.duckdb_store import MINUTE_US, DuckDbHistory
from twinbridge.history.store import HistoryError, OutOfRawRetention, PointBatch, Retention, SeriesKey, open_history

START = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def batch(series: int, t_us: np.ndarray, values: np.ndarray, quality: np.ndarray | None = None,
          text: list[str | None] | None = None) -> PointBatch:
    return PointBatch(np.full(len(t_us), series, np.uint32), t_us.astype(np.int64), values.astype(np.float64),
                      np.zeros(len(t_us), np.uint8) if quality is None else quality.astype(np.uint8), text)


def expected(t_us: np.ndarray, values: np.ndarray, start: int, interval: int, count: int) -> list[tuple]:
    rows = []
    for k in range(count):
        inside = (t_us >= start + k * interval) & (t_us < start + (k + 1) * interval)
        chunk = values[inside]
        if len(chunk) == 0:
            rows.append((0, None, None, None, None, None))
        else:
            rows.append((len(chunk), chunk.mean(), chunk.min(), chunk.max(), chunk[0], chunk[-1]))
    return rows


def actual(buckets: list) -> list[tuple]:
    return [(b.count, b.avg, b.min, b.max, b.first, b.last) for b in buckets]


def assert_same(got: list[tuple], want: list[tuple]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[0] == w[0]
        for a, b in zip(g[1:], w[1:], strict=True):
            assert (a is None and b is None) or a == pytest.approx(b, rel=1e-12, abs=1e-12)


@pytest.fixture
def store(tmp_path: Path) -> DuckDbHistory:
    history = DuckDbHistory(tmp_path / "history.duckdb")
    yield history
    history.close()


def test_aggregates_equal_numpy_before_and_after_compaction(store: DuckDbHistory) -> None:
    rng = np.random.default_rng(3)
    sid = store.series_id(SeriesKey("urn:sm", "Temperature"))
    t_us = START + np.sort(rng.choice(3_600_000_000, 5_000, replace=False))  # irregular, one hour
    values = rng.normal(50, 5, len(t_us))
    store.append(batch(sid, t_us[:2_500], values[:2_500]))
    store.append(batch(sid, t_us[2_500:], values[2_500:]))
    interval = 7_000_000  # 7 s buckets that do not divide the hour: the last one is partial
    count = -(-3_600_000_000 // interval)
    want = expected(t_us, values, START, interval, count)
    assert_same(actual(store.aggregate(sid, START, START + 3_600_000_000, interval)), want)
    store.compact(START + 1_800_000_000)  # half in `points`, half in `recent`
    assert_same(actual(store.aggregate(sid, START, START + 3_600_000_000, interval)), want)
    store.compact(START + 3_600_000_000)
    assert_same(actual(store.aggregate(sid, START, START + 3_600_000_000, interval)), want)


def test_bad_and_text_points_do_not_count_in_aggregates(store: DuckDbHistory) -> None:
    sid = store.series_id(SeriesKey("urn:sm", "Mixed"))
    t_us = START + np.arange(4, dtype=np.int64) * 1_000_000
    store.append(batch(sid, t_us, np.array([1.0, 100.0, 3.0, np.nan]), np.array([0, 2, 1, 0]),
                       [None, None, None, "offline"]))
    (bucket,) = store.aggregate(sid, START, START + 4_000_000, 4_000_000)
    assert (bucket.count, bucket.avg, bucket.min, bucket.max, bucket.first, bucket.last) == (2, 2.0, 1.0, 3.0, 1.0, 3.0)
    raw = store.read(sid, START, START + 10_000_000, 10)
    assert raw.quality.tolist() == [0, 2, 1, 0]
    assert raw.text == [None, None, None, "offline"]
    assert np.isnan(raw.value[3])


def test_raw_reads_page_through_equal_timestamps(store: DuckDbHistory) -> None:
    sid = store.series_id(SeriesKey("urn:sm", "Dup"))
    t_us = START + np.array([0, 1, 1, 1, 2], dtype=np.int64)
    store.append(batch(sid, t_us, np.array([0.0, 1.0, 2.0, 3.0, 4.0])))
    first = store.read(sid, START, START + 10, 2)
    assert first.value.tolist() == [0.0, 1.0]
    rest = store.read(sid, START + 1, START + 10, 10, skip=1)  # one point at t=1 was already handed out
    assert rest.value.tolist() == [2.0, 3.0, 4.0]


def test_retention_keeps_minute_rollups_that_answer_like_the_raw_points(store: DuckDbHistory) -> None:
    rng = np.random.default_rng(5)
    sid = store.series_id(SeriesKey("urn:sm", "Old"))
    t_us = START + np.arange(0, 2 * 86_400, 2, dtype=np.int64) * 1_000_000  # two days every 2 s
    values = rng.uniform(0, 10, len(t_us))
    store.append(batch(sid, t_us, values))
    interval = 10 * MINUTE_US
    count = 2 * 86_400_000_000 // interval
    want = expected(t_us, values, START, interval, count)
    dropped = store.apply_retention(START + 3 * 86_400_000_000, Retention(raw_days=1.5, rollup_days=365))
    assert dropped == 3 * len(t_us) // 4  # the first day and a half
    assert store.raw_horizon_us() == START + 36 * 3_600_000_000
    assert_same(actual(store.aggregate(sid, START, START + 2 * 86_400_000_000, interval)), want)
    with pytest.raises(OutOfRawRetention, match="whole minutes"):
        store.aggregate(sid, START, START + 86_400_000_000, 7_000_000)


def test_history_survives_reopening_and_unknown_urls_are_named(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    history = open_history(f"duckdb:///{path}")
    sid = history.series_id(SeriesKey("urn:sm", "Kept"), "integer")
    history.append(batch(sid, np.array([START]), np.array([42.0])))
    history.close()
    reopened = open_history(f"duckdb:///{path}")
    info = reopened.find_series(SeriesKey("urn:sm", "Kept"))
    assert info is not None and info.value_type == "integer"
    assert reopened.read(info.id, START, START + 1, 5).value.tolist() == [42.0]
    reopened.close()
    with pytest.raises(HistoryError, match="unknown scheme 'influx'"):
        open_history("influx://localhost")


def test_a_corrupt_history_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.duckdb"
    path.write_bytes(b"this is not a database" * 1000)
    with pytest.raises(HistoryError, match=r"broken\.duckdb"):
        DuckDbHistory(path)


def test_a_series_can_keep_its_raw_points_shorter_or_longer_than_the_rest(store: DuckDbHistory) -> None:
    rng = np.random.default_rng(9)
    short = store.series_id(SeriesKey("urn:sm", "Vibration"))
    long = store.series_id(SeriesKey("urn:sm", "Energy"))
    normal = store.series_id(SeriesKey("urn:sm", "Temperature"))
    t_us = START + np.arange(0, 2 * 86_400, 10, dtype=np.int64) * 1_000_000  # two days every 10 s
    data = {sid: rng.uniform(0, 10, len(t_us)) for sid in (short, long, normal)}
    for sid, values in data.items():
        store.append(batch(sid, t_us, values))
    now = START + 2 * 86_400_000_000
    store.apply_retention(now, Retention(raw_days=1.0, rollup_days=365, series_raw_days={short: 0.5, long: 5.0}))
    kept = {sid: len(store.read(sid, 0, 2**62, 10**6).t_us) for sid in data}
    assert kept == {short: len(t_us) // 4, long: len(t_us), normal: len(t_us) // 2}
    assert store.raw_horizon_us(short) == START + 36 * 3_600_000_000
    assert store.raw_horizon_us(normal) == store.raw_horizon_us() == START + 24 * 3_600_000_000
    interval = 30 * MINUTE_US
    count = 2 * 86_400_000_000 // interval
    for sid, values in data.items():  # roll-ups before each series' own horizon, raw after it: same answers
        assert_same(actual(store.aggregate(sid, START, now, interval)), expected(t_us, values, START, interval, count))
