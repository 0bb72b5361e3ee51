"""NAB's standard scoring (Numenta Anomaly Benchmark v1.1), written from its published rules.

Why here and not in bench/: the tests check the scorer against hand-computed answers, and the
``detect`` command's output is meant to be scored by exactly this procedure.

The rules (NAB ``sweeper.py``): every labelled window is worth one true positive, credited with a
scaled sigmoid of the *earliest* detection inside it (1.0 at the window's first row, 0 at its last);
a window without a detection costs ``A_FN``; each detection outside a window costs ``A_FP`` times a
sigmoid that is small just after a window and -1 far from it (or before the first window); the first
15% of a file (at most 750 rows) is probationary and not scored. One threshold per profile is chosen
to maximise the summed score over the whole corpus, and the sum is normalised so that the null
detector (never fires) scores 0 and the perfect one (fires on every window's first row) 100.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PROBATION_FRACTION = 0.15


@dataclass(frozen=True)
class Profile:
    """An application profile: the weights NAB gives true positives, false positives and misses."""

    name: str
    tp: float
    fp: float
    fn: float


PROFILES: tuple[Profile, ...] = (
    Profile("standard", tp=1.0, fp=0.11, fn=1.0),
    Profile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0),
    Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0),
)


def scaled_sigmoid(position: FloatArray) -> FloatArray:
    """NAB's reward curve: 2·sigmoid(-5x) - 1, and exactly -1 from x >= 3 on."""
    out = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position >= 3.0, -1.0, out)


MAX_TP = float(scaled_sigmoid(np.array([-1.0]))[0])


def probation_length(rows: int) -> int:
    """First rows that are not scored: 15% of the file, at most 750 (NAB: 0.15 * 5000)."""
    return int(min(math.floor(PROBATION_FRACTION * rows), PROBATION_FRACTION * 5000))


@dataclass(frozen=True)
class LabelledSeries:
    """The per-row scoring terms of one file, independent of the detector and of the profile.

    ``window`` is the index of the row's window in this file (-1 outside any window); ``reward`` is
    the unweighted term of a detection on that row: inside a window the true-positive reward
    (already divided by NAB's max TP), elsewhere the (negative) false-positive term; ``scored`` is
    False for the probationary rows.
    """

    name: str
    window: IntArray
    reward: FloatArray
    scored: npt.NDArray[np.bool_]
    windows: int


def label_series(name: str, timestamps: npt.NDArray[np.datetime64],
                 windows: Iterable[tuple[np.datetime64, np.datetime64]]) -> LabelledSeries:
    """Walk the rows as NAB's sweeper does and precompute each row's reward."""
    rows = len(timestamps)
    window = np.full(rows, -1, dtype=np.int64)
    reward = np.empty(rows, dtype=np.float64)
    index = np.arange(rows, dtype=np.float64)
    bounds: list[tuple[int, int]] = []
    for start, end in windows:
        first = int(np.searchsorted(timestamps, start))
        last = int(np.searchsorted(timestamps, end))
        if first >= rows or timestamps[first] != start or last >= rows or timestamps[last] != end:
            raise ValueError(f"{name}: window [{start}, {end}] does not start and end on rows of the file")
        bounds.append((first, last))
    previous_end: int | None = None
    previous_width = 0.0
    cursor = 0
    for number, (first, last) in enumerate(bounds):
        # rows between the previous window (or the file start) and this one: false-positive terms
        _outside(reward, index, cursor, first, previous_end, previous_width)
        width = float(last - first + 1)
        span = slice(first, last + 1)
        reward[span] = scaled_sigmoid(-(last - index[span] + 1) / width) / MAX_TP
        window[span] = number
        previous_end, previous_width, cursor = last, width, last + 1
    _outside(reward, index, cursor, rows, previous_end, previous_width)
    scored = np.arange(rows) >= probation_length(rows)
    return LabelledSeries(name, window, reward, scored, len(bounds))


def _outside(reward: FloatArray, index: FloatArray, begin: int, end: int, previous_end: int | None,
             previous_width: float) -> None:
    if begin >= end:
        return
    if previous_end is None:
        reward[begin:end] = -1.0
    else:
        # NAB divides by (width - 1); a one-row window would divide by zero there too
        reward[begin:end] = scaled_sigmoid(np.abs(previous_end - index[begin:end]) / max(previous_width - 1.0, 1.0))


@dataclass(frozen=True)
class ProfileScore:
    profile: str
    threshold: float
    raw: float
    normalised: float
    tp: int
    fp: int
    fn: int


def score_corpus(series: Mapping[str, LabelledSeries], scores: Mapping[str, FloatArray], profile: Profile,
                 threshold: float | None = None) -> ProfileScore:
    """Score a detector on a corpus for one profile.

    Without ``threshold``, the one maximising the corpus total is chosen (NAB's optimiser: a sweep
    down the distinct anomaly scores; detection means score >= threshold). With it, that fixed
    threshold is applied (used for the held-out check: tuned on one half, applied to the other).
    """
    parts_score: list[FloatArray] = []
    parts_window: list[IntArray] = []
    parts_reward: list[FloatArray] = []
    total_windows = 0
    for name, labelled in series.items():
        values = np.asarray(scores[name], dtype=np.float64)
        if len(values) != len(labelled.window):
            raise ValueError(f"{name}: {len(values)} scores for {len(labelled.window)} rows")
        keep = labelled.scored
        parts_score.append(values[keep])
        window = labelled.window[keep]
        parts_window.append(np.where(window >= 0, window + total_windows, -1))
        parts_reward.append(labelled.reward[keep])
        total_windows += labelled.windows
    score = np.concatenate(parts_score)
    window = np.concatenate(parts_window)
    reward = np.concatenate(parts_reward)
    order = np.argsort(-score, kind="stable")
    score, window, reward = score[order], window[order], reward[order]

    null = -profile.fn * total_windows
    perfect = profile.tp * total_windows
    # a window's credit only rises as the threshold falls (an earlier row gets detected), so the
    # sweep needs, per row, the gain over the window's best so far; a Python loop over windowed
    # rows is cheap because the sorted order is computed once
    gain = np.where(window < 0, reward * profile.fp, 0.0)
    best = np.full(total_windows, -np.inf)
    detected = np.zeros(total_windows, dtype=bool)
    inside = np.flatnonzero(window >= 0)
    for i in inside.tolist():
        w = int(window[i])
        value = float(reward[i]) * profile.tp
        if not detected[w]:
            detected[w] = True
            best[w] = value
            gain[i] = value + profile.fn
        elif value > best[w]:
            gain[i] = value - best[w]
            best[w] = value
    totals = null + np.cumsum(gain)
    # a threshold admits every row with an equal score: evaluate at the last row of each tie group
    last_of_group = np.append(score[1:] != score[:-1], True)
    candidates = np.flatnonzero(last_of_group)
    if threshold is None:
        if len(candidates) and float(totals[candidates].max()) > null:
            pick = int(candidates[int(np.argmax(totals[candidates]))])
            chosen, raw = float(score[pick]), float(totals[pick])
            detected_rows = pick + 1
        else:
            chosen, raw, detected_rows = 1.1, null, 0
    else:
        chosen = threshold
        detected_rows = int(np.searchsorted(-score, -threshold, side="right"))
        raw = float(totals[detected_rows - 1]) if detected_rows else null
    hits = window[:detected_rows]
    tp_windows = len(np.unique(hits[hits >= 0]))
    fp_rows = int(np.count_nonzero(hits < 0))
    normalised = 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0
    return ProfileScore(profile.name, chosen, raw, normalised, tp_windows, fp_rows, total_windows - tp_windows)


def load_windows(labels: Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """``combined_windows.json``: file path (relative to the data folder) -> [[start, end], ...]."""
    raw: dict[str, list[list[str]]] = json.loads(labels.read_text())
    return {name: [(np.datetime64(start), np.datetime64(end)) for start, end in spans] for name, spans in raw.items()}
