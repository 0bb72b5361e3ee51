"""The many-signal array forms (detector banks, filter chain banks) give the one-signal numbers."""

from __future__ import annotations

import numpy as np
import pytest

from twinbridge.aas.quality import Quality
from twinbridge.analytics.detectors import create, create_bank, names
from twinbridge.analytics.feed import rounds_of
from twinbridge.analytics.filter_bank import ChainBank, shape_of
from twinbridge.analytics.filters import Sample, build_chain

SIGNALS = 6


def _interleaved(rows: int, seed: int) -> list[list[int]]:
    """Batches of distinct signals, each signal's rows in order, in a random interleaving."""
    rng = np.random.default_rng(seed)
    done = [0] * SIGNALS
    batches = []
    while min(done) < rows:
        batch = [s for s in range(SIGNALS) if done[s] < rows and rng.random() < 0.6]
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
