"""Detectors on series with planted anomalies; both forms agree; no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from twinbridge.analytics.detectors import UnknownDetector, create, names
from twinbridge.analytics.detectors.causal import ContextNovelty
from twinbridge.analytics.detectors.seasonal import SeasonalNeighbours

DAY = 86_400.0


def _daily(rows: int = 3000, step: float = 300.0, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(rows) * step
    x = 50.0 + 10.0 * np.sin(2 * np.pi * t / DAY) + rng.normal(0.0, 1.0, rows)
    return t, x


@pytest.mark.parametrize("name", names())
def test_planted_spike_scores_highest(name: str) -> None:
    t, x = _daily()
    x[2000] += 25.0
    scores = create(name).score_series(t, x)
    assert scores[2000] > 0.5
    assert scores[2000] == scores.max()
    assert scores.min() >= 0.0 and scores.max() < 1.0


@pytest.mark.parametrize("name", names())
def test_planted_level_shift_is_detected_once(name: str) -> None:
    t, x = _daily()
    x[2000:] += 30.0
    scores = create(name).score_series(t, x)
    quiet = scores[300:1990].max()
    assert scores[2000:2005].max() > max(0.5, quiet)


def test_seasonal_detector_sees_a_missing_daily_peak() -> None:
    """A value normal for the signal but not for the time of day: only the seasonal model sees it."""
    t, x = _daily(rows=4000, seed=3)
    day_rows = int(DAY / 300.0)
    peak = 3 * day_rows + day_rows // 4  # the sine's daily maximum on the fourth day
    x[peak - 3: peak + 4] = 40.0  # the trough's level at the peak's time
    seasonal = create("seasonal").score_series(t, x)
    cheap = create("ewma").score_series(t, x)
    assert seasonal[peak - 3: peak + 4].max() > 0.8
    assert cheap[peak - 3: peak + 4].max() < 0.5


@pytest.mark.parametrize("name", names())
def test_one_sample_at_a_time_equals_the_array_form(name: str) -> None:
    rng = np.random.default_rng(7)
    t = np.cumsum(rng.choice([60.0, 300.0, 301.0, 900.0], size=2500))  # gaps and jitter
    x = (20.0 + np.sin(t / 5000.0) + rng.standard_t(3, size=2500)).astype(np.float64)
    x[1700:1750] += 12.0
    streaming = create(name)
    stepped = np.array([streaming.update(ti, xi) for ti, xi in zip(t.tolist(), x.tolist(), strict=True)])
    batch = create(name).score_series(t, x)
    np.testing.assert_allclose(stepped, batch, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("jitter", [0, 2, 3])
def test_seasonal_neighbours_one_at_a_time_equal_the_array_form_at_a_high_rate(jitter: int) -> None:
    """Many samples per kept minute, repeated timestamps, pauses and a jump back in time: ``batch``
    keeps and finds the same samples as ``step``, exactly."""
    rng = np.random.default_rng(jitter)
    steps = rng.choice([0.0, 1.0, 7.0, 59.0, 61.0, 900.0], size=20_000, p=[0.05, 0.5, 0.3, 0.1, 0.04, 0.01])
    steps[12_000] = -5_000.0
    t = 1.7e9 + np.cumsum(steps)
    x = np.round(rng.normal(0.0, 1.0, len(t)), 1)  # ties between neighbours
    one = SeasonalNeighbours(jitter=jitter)
    stepped = [one.step(a, b) for a, b in zip(t.tolist(), x.tolist(), strict=True)]
    difference, valid = SeasonalNeighbours(jitter=jitter).batch(t, x)
    assert valid.sum() > 10_000
    assert [d if ok else None for d, ok in zip(difference.tolist(), valid.tolist(), strict=True)] == stepped
    seasonal = create("seasonal")
    scores = [seasonal.update(a, b) for a, b in zip(t.tolist(), x.tolist(), strict=True)]
    np.testing.assert_allclose(scores, create("seasonal").score_series(t, x), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", names())
def test_scores_never_use_later_rows(name: str) -> None:
    t, x = _daily(rows=1500)
    full = create(name).score_series(t, x)
    changed = x.copy()
    changed[1000:] = -changed[1000:] * 7.0
    prefix = create(name).score_series(t, changed)
    np.testing.assert_array_equal(full[:1000], prefix[:1000])


def test_flat_signal_scores_zero_and_unknown_name_is_clear() -> None:
    t = np.arange(500, dtype=np.float64) * 60.0
    assert create("seasonal").score_series(t, np.full(500, 3.0)).max() == 0.0
    with pytest.raises(UnknownDetector, match="unknown detector 'nope'; known: ewma, seasonal"):
        create("nope")


def _repertoire(rows: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """A machine cycling through a fixed pattern (idle 3 samples, load 4), one sample a minute."""
    t = np.arange(rows) * 60.0
    x = np.tile([1.0, 1.0, 1.0, 9.0, 9.0, 9.0, 9.0], rows // 7 + 1)[:rows].copy()
    return t, x


def test_seasonal_detector_sees_a_familiar_value_in_an_unfamiliar_sequence() -> None:
    """A one-sample load blip inside an idle phase: every value is usual, the sequence is not (row
    1001 is in the first day, so no same-time-yesterday comparison exists yet)."""
    t, x = _repertoire()
    at = 1001 - 1001 % 7 + 1  # the middle of an idle phase
    x[at] = 9.0
    seasonal = create("seasonal").score_series(t, x)
    assert seasonal[at] > 0.7
    assert seasonal[at] == seasonal[300:].max()
    assert create("ewma").score_series(t, x)[at] < seasonal[at]


def test_context_novelty_scores_only_first_sightings_and_both_forms_agree() -> None:
    _, x = _repertoire(700)
    at = 400 - 400 % 7 + 1  # the middle of an idle phase
    x[at] = 9.0
    stepped = ContextNovelty(8, 3, 0.002)
    scores = np.array([stepped.step(v) for v in x.tolist()])
    np.testing.assert_allclose(scores, ContextNovelty(8, 3, 0.002).batch(x), rtol=1e-12)
    novel = np.flatnonzero(scores)
    # the blip (load, idle, idle) and (idle, load, idle); the next one (idle, idle, load) is usual
    assert novel[novel > 20].tolist() == [at, at + 1]
    # the repertoire has been stable for ~390 samples: a new context is rare
    assert scores[at] > 2.0
