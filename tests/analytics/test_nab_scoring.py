"""NAB scoring against hand-computed answers on a tiny labelled series."""

from __future__ import annotations

import numpy as np
import pytest

from twinbridge.analytics.nab import (
    MAX_TP,
    PROFILES,
    LabelledSeries,
    label_series,
    probation_length,
    scaled_sigmoid,
    score_corpus,
)

STANDARD = PROFILES[0]


def _series(rows: int = 100, window: tuple[int, int] = (60, 69)) -> tuple[np.ndarray, LabelledSeries]:
    stamps = np.datetime64("2024-01-01T00:00") + np.arange(rows) * np.timedelta64(5, "m")
    labelled = label_series("s.csv", stamps, [(stamps[window[0]], stamps[window[1]])])
    return stamps, labelled


def test_probation_is_15_percent_capped_at_750() -> None:
    assert probation_length(100) == 15
    assert probation_length(10_000) == 750


def test_sigmoid_matches_nab_reference_points() -> None:
    values = scaled_sigmoid(np.array([-1.0, -0.5, 0.0, 1.0, 3.0]))
    assert values == pytest.approx([0.98661, 0.84828, 0.0, -0.98661, -1.0], abs=1e-5)


def test_detection_at_window_start_is_perfect_and_silence_is_null() -> None:
    _, labelled = _series()
    perfect = np.zeros(100)
    perfect[60] = 1.0
    result = score_corpus({"s": labelled}, {"s": perfect}, STANDARD)
    assert result.normalised == pytest.approx(100.0)
    assert (result.tp, result.fp, result.fn) == (1, 0, 0)
    silent = score_corpus({"s": labelled}, {"s": np.zeros(100)}, STANDARD)
    assert silent.normalised == pytest.approx(0.0)


def test_late_detection_and_false_positive_cost_what_nab_says() -> None:
    _, labelled = _series()
    scores = np.zeros(100)
    scores[64] = 1.0  # fifth row of a 10-row window: position -(69 - 64 + 1) / 10 = -0.6
    scores[30] = 1.0  # before any window, after probation: costs A_FP
    result = score_corpus({"s": labelled}, {"s": scores}, STANDARD)
    tp = float(scaled_sigmoid(np.array([-0.6]))[0]) / MAX_TP
    raw = tp - STANDARD.fp
    assert result.raw == pytest.approx(raw)
    assert result.normalised == pytest.approx(100 * (raw + 1) / 2)


def test_probationary_rows_are_not_scored_and_threshold_is_optimised() -> None:
    _, labelled = _series()
    scores = np.zeros(100)
    scores[5] = 1.0  # inside probation: ignored
    scores[61] = 0.6  # a weaker detection in the window
    scores[20] = 0.8  # a stronger false positive: the optimiser must set the threshold between them
    result = score_corpus({"s": labelled}, {"s": scores}, STANDARD)
    assert result.threshold == pytest.approx(0.6)
    assert result.fp == 1 and result.tp == 1
    fixed = score_corpus({"s": labelled}, {"s": scores}, STANDARD, threshold=0.7)
    assert (fixed.tp, fixed.fp) == (0, 1)
