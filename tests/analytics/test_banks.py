"""The many-signal array forms (detector banks, filter chain banks) give the one-signal numbers."""

from __future__ import annotations

import numpy as np
import pytest

from twinbridge.aas.quality import Quality
from twinbridge.analytics.detectors import create, create_bank, names
from twinbridge.analytics.detectors.seasonal import _TRIM, RingHistory, SeasonalNeighbours, kept_samples
from twinbridge.analytics.feed import rounds_of
from twinbridge.analytics.filter_bank import ChainBank, shape_of
from twinbridge.analytics.filters import Sample, build_chain

SIGNALS = 6


def _interleaved(rows: int | list[int], seed: int) -> list[list[int]]:
    """Batches of distinct signals, each signal's rows in order, in a random interleaving."""
    rng = np.random.default_rng(seed)
    wanted = rows if isinstance(rows, list) else [rows] * SIGNALS
    done = [0] * len(wanted)
    batches = []
    while any(d < w for d, w in zip(done, wanted, strict=True)):
        batch = [s for s in range(len(wanted)) if done[s] < wanted[s] and rng.random() < 0.6]
        for s in batch:
            done[s] += 1
        if batch:
            batches.append(batch)
    return batches


@pytest.mark.parametrize("name", names())
def test_a_detector_bank_scores_like_one_detector_per_signal(name: str) -> None:
    rng = np.random.default_rng(7)
    rows = 2500  # ~9 days at 300 s steps with gaps: the seasonal look-ups are exercised
    t = np.cumsum(rng.choice([60.0, 300.0, 301.0, 900.0], size=(SIGNALS, rows)), axis=1)
    x = 20.0 + np.sin(t / 5000.0) + rng.standard_t(3, size=(SIGNALS, rows))
    x[:, 1700:1750] += 12.0
    expected = np.array([[d.update(a, b) for a, b in zip(t[s].tolist(), x[s].tolist(), strict=True)]
                         for s, d in enumerate(create(name) for _ in range(SIGNALS))])
    bank = create_bank(name, SIGNALS)
    got = np.zeros((SIGNALS, rows))
    at = [0] * SIGNALS
    for batch in _interleaved(rows, 1):
        rows_now = [at[s] for s in batch]
        got[batch, rows_now] = bank.score(np.array(batch), t[batch, rows_now], x[batch, rows_now])
        for s in batch:
            at[s] += 1
    assert expected.max() > 0.9  # the planted shift scores
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def _bank_and_detectors(name: str, t: list[np.ndarray], x: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every slot's scores from one bank (random interleaving) and from one detector per signal."""
    expected = [np.array([d.update(a, b) for a, b in zip(ts.tolist(), xs.tolist(), strict=True)])
                for ts, xs, d in zip(t, x, (create(name) for _ in t), strict=True)]
    bank = create_bank(name, len(t))
    got = [np.zeros(len(ts)) for ts in t]
    at = [0] * len(t)
    for batch in _interleaved([len(ts) for ts in t], 4):
        rows = [at[s] for s in batch]
        scores = bank.score(np.array(batch), np.array([t[s][r] for s, r in zip(batch, rows, strict=True)]),
                            np.array([x[s][r] for s, r in zip(batch, rows, strict=True)]))
        for s, r, score in zip(batch, rows, scores.tolist(), strict=True):
            got[s][r] = score
            at[s] += 1
    return np.concatenate(got), np.concatenate(expected)


def test_the_seasonal_bank_after_a_day_at_a_high_rate_with_gaps_duplicates_and_a_jump_back() -> None:
    """More than a day at ~1 Hz (many samples per kept minute), pauses that move the head by many
    minutes at once, repeated timestamps, one jump back in time, and slots that start apart."""
    rng = np.random.default_rng(11)
    t, x = [], []
    for slot, start in enumerate((0.0, 1234.5, 7_200.0, 40_000.0)):
        steps = rng.choice([0.0, 0.5, 1.0, 2.0, 30.0, 61.0, 600.0, 3_600.0], size=7_000,
                           p=[0.03, 0.1, 0.6, 0.1, 0.1, 0.05, 0.015, 0.005])
        if slot == 1:
            steps[4_000] = -400.0  # like NAB's machine_temperature_system_failure
        ts = 1.7e9 + start + np.cumsum(steps)
        ts = ts[ts < ts[0] + 1.25 * 86_400.0]
        xs = 20.0 + 3.0 * np.sin(2 * np.pi * ts / 86_400.0) + rng.normal(0.0, 0.3, len(ts))
        xs[-300:-250] += 4.0  # unusual for the time of day, inside the range
        t.append(ts)
        x.append(xs)
    assert min(ts[-1] - ts[0] for ts in t) > 1.1 * 86_400.0
    got, expected = _bank_and_detectors("seasonal", t, x)
    assert expected.max() > 0.9
    np.testing.assert_array_equal(got, expected)


def test_the_seasonal_history_is_bounded_whatever_the_rate() -> None:
    """A 10 Hz signal for more than a day keeps at most one sample per minute; the bank's rings stop
    at their bound (a period of ten minutes there, the same arithmetic) and give the one-signal numbers."""
    one = SeasonalNeighbours(jitter=3)
    for i in range(int(1.05 * 86_400 * 10)):
        one.step(1.7e9 + i / 10, float(i % 7))
    assert len(one._times) <= kept_samples(86_400.0) + 3 + _TRIM
    period, jitters = 600.0, (0, 2, 3)
    rings = RingHistory(3, jitters, period_s=period)
    singles = [[SeasonalNeighbours(period, jitter) for jitter in jitters] for _ in range(3)]
    rng = np.random.default_rng(5)
    slots = np.arange(3)
    live = 0
    for i in range(int(3 * period * 10)):
        t = 1.7e9 + i / 10 + np.array([0.0, 0.05, 700.0])
        x = rng.normal(0.0, 1.0, 3)
        differences, valid = rings.look_up(slots, t, x, np.full(3, i >= period * 10))
        want = [[n.step(a, b) for n in ns] for ns, a, b in zip(singles, t.tolist(), x.tolist(), strict=True)]
        assert [[d if ok else None for d, ok in zip(row, oks, strict=True)]
                for row, oks in zip(differences.tolist(), valid.tolist(), strict=True)] == want
        live = max(live, *(rings.live(s) for s in range(3)))
    assert live == kept_samples(period) + 3  # 11 minutes, and 3 neighbours before the head
    assert live <= rings.capacity <= kept_samples(period) + 2 * 3 + 8


@pytest.mark.parametrize("specs", [
    [{"filter": "range", "low": 0, "high": 30, "warn_high": 25}, {"filter": "median", "window": 5}],
    [{"filter": "rate", "max_rate": 0.05}, {"filter": "ewma", "alpha": 0.3}],
    [{"filter": "kalman", "measurement_variance": 4.0, "process_variance": 0.01}, {"filter": "median", "window": 4}],
])
def test_a_chain_bank_filters_like_one_chain_per_signal(specs: list[dict[str, object]]) -> None:
    rng = np.random.default_rng(3)
    rows = 400
    t = np.cumsum(rng.choice([0.0, 1.0, 2.0], size=(SIGNALS, rows)), axis=1) + 1_000.0
    x = 20.0 + rng.normal(0.0, 3.0, size=(SIGNALS, rows))
    x[:, 100] = 40.0
    quality = [Quality.GOOD, Quality.UNCERTAIN, Quality.BAD]
    given = rng.choice(3, size=(SIGNALS, rows), p=[0.9, 0.05, 0.05])
    chains = [build_chain(specs) for _ in range(SIGNALS)]
    expected = [[chain.apply(Sample(float(x[s, r]), float(t[s, r]), quality[given[s, r]])) for r in range(rows)]
                for s, chain in enumerate(build_chain(specs) for _ in range(SIGNALS))]
    assert shape_of(chains[0]) is not None
    bank = ChainBank(chains)
    at = [0] * SIGNALS
    for batch in _interleaved(rows, 2):
        rows_now = [at[s] for s in batch]
        values, severity, _ = bank.apply(np.array(batch), t[batch, rows_now], x[batch, rows_now],
                                         given[batch, rows_now].astype(np.int8))
        for s, r, value, level in zip(batch, rows_now, values.tolist(), severity.tolist(), strict=True):
            assert value == pytest.approx(expected[s][r].value, rel=1e-12)
            assert quality[level] is expected[s][r].quality
            at[s] += 1


def test_chains_without_an_array_form_and_rounds_of_repeated_signals() -> None:
    assert shape_of(build_chain([{"filter": "range"}, {"filter": "spike"}])) is None
    assert shape_of(build_chain([{"filter": "median", "window": 3}])) != shape_of(
        build_chain([{"filter": "median", "window": 5}]))
    assert rounds_of([4, 2, 4, 4, 1]) == [[0, 1, 4], [2], [3]]
    assert rounds_of([1, 2, 3]) == [[0, 1, 2]]
