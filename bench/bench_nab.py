"""NAB benchmark: the registered detectors on the NAB series in ../shared/data/nab, scored with
NAB's standard method (analytics/nab.py), plus throughput and a half/half held-out check.

Usage: python bench/bench_nab.py [--data DIR] [--detector NAME ...] [--repeat N]

Prints, per detector: standard / reward_low_FP / reward_low_FN scores on all files, the held-out
check (files split alternately by name into halves A and B; parameters are global and fixed, the
threshold is optimised on one half and applied to the other), and points/s of the array path and
the one-sample-at-a-time path (median of --repeat runs). Baselines in the same run: NAB's windowed
Gaussian (published 39.6 on the full corpus) and a random detector (11.0).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from scipy.special import ndtr

from twinbridge.analytics.detectors import create
from twinbridge.analytics.detectors import names as detector_names
from twinbridge.analytics.detectors.causal import FloatArray
from twinbridge.analytics.nab import PROFILES, LabelledSeries, label_series, load_windows, score_corpus
from twinbridge.analytics.series import Series, read_csv_series

# the project's ../shared/data/nab, seen from the checkout or from a worktree nested below it
DEFAULT_DATA = next((folder / "shared" / "data" / "nab" for folder in Path(__file__).resolve().parents
                     if (folder / "shared" / "data" / "nab").is_dir()), Path("../shared/data/nab"))


def seconds(series: Series) -> FloatArray:
    out: FloatArray = series.timestamps.astype("datetime64[us]").astype(np.int64) / 1e6
    return out


def windowed_gaussian(series: Series, window: int = 6400) -> FloatArray:
    """NAB's windowed Gaussian baseline: tail probability of x against the previous ``window`` rows."""
    x = series.values
    c1 = np.concatenate(([0.0], np.cumsum(x)))
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))
    i = np.arange(len(x))
    lo = np.maximum(i - window, 0)
    n = np.maximum(i - lo, 1)
    mean = (c1[i] - c1[lo]) / n
    var = np.maximum((c2[i] - c2[lo]) / n - mean * mean, 0.0)
    z = np.abs(x - mean) / np.sqrt(var + 1e-12)
    out: FloatArray = np.where(i > 1, 2 * ndtr(z) - 1, 0.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--detector", action="append", choices=detector_names())
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    windows = load_windows(args.data / "labels" / "combined_windows.json")
    series = {name: read_csv_series(args.data / "data" / name) for name in sorted(windows)}
    labels = {name: label_series(name, s.timestamps, windows[name]) for name, s in series.items()}
    points = sum(len(s.values) for s in series.values())
    names = sorted(series)
    half_a, half_b = names[0::2], names[1::2]
    print(f"NAB: {len(series)} files, {points} points, {sum(lab.windows for lab in labels.values())} windows")

    rng = np.random.default_rng(0)
    runs: dict[str, dict[str, FloatArray]] = {
        "random (baseline)": {n: rng.random(len(s.values)) for n, s in series.items()},
    }
    # rates are per core: CPU time of this process (the machine is shared; wall time is printed too)
    started, wall = time.process_time(), time.perf_counter()
    runs["windowed Gaussian (baseline)"] = {n: windowed_gaussian(s) for n, s in series.items()}
    baseline_rate = points / (time.process_time() - started)
    print(f"windowed Gaussian array path: {baseline_rate:,.0f} points/s per core "
          f"({points / (time.perf_counter() - wall):,.0f} wall)")

    for name in args.detector or detector_names():
        batch_rates, step_rates, wall_rates = [], [], []
        scores: dict[str, FloatArray] = {}
        for _ in range(args.repeat):
            started, wall = time.process_time(), time.perf_counter()
            scores = {n: create(name).score_series(seconds(s), s.values) for n, s in series.items()}
            batch_rates.append(points / (time.process_time() - started))
            wall_rates.append(points / (time.perf_counter() - wall))
        sample = series[names[0]]
        t, x = seconds(sample).tolist(), sample.values.tolist()
        for _ in range(args.repeat):
            detector = create(name)
            started = time.process_time()
            for ti, xi in zip(t, x, strict=True):
                detector.update(ti, xi)
            step_rates.append(len(x) / (time.process_time() - started))
        runs[name] = scores
        print(f"{name}: array path {statistics.median(batch_rates):,.0f} points/s per core "
              f"({statistics.median(wall_rates):,.0f} wall; {statistics.median(batch_rates) / baseline_rate:.2f}x "
              f"windowed Gaussian), one sample at a time {statistics.median(step_rates):,.0f} points/s per core "
              f"(median of {args.repeat})")

    print()
    print(f"{'detector':32s} {'standard':>9s} {'low FP':>9s} {'low FN':>9s}   held-out (standard): "
          "A→B, B→A, NAB-optimised on A / on B")
    for name, scores in runs.items():
        full = [score_corpus(labels, scores, profile).normalised for profile in PROFILES]
        held = _held_out(labels, scores, half_a, half_b)
        print(f"{name:32s} {full[0]:9.1f} {full[1]:9.1f} {full[2]:9.1f}   " + ", ".join(f"{v:.1f}" for v in held))


def _held_out(labels: dict[str, LabelledSeries], scores: dict[str, FloatArray], half_a: list[str],
              half_b: list[str]) -> list[float]:
    standard = PROFILES[0]
    part_a = {n: labels[n] for n in half_a}
    part_b = {n: labels[n] for n in half_b}
    tuned_a = score_corpus(part_a, scores, standard)
    tuned_b = score_corpus(part_b, scores, standard)
    a_to_b = score_corpus(part_b, scores, standard, threshold=tuned_a.threshold)
    b_to_a = score_corpus(part_a, scores, standard, threshold=tuned_b.threshold)
    return [a_to_b.normalised, b_to_a.normalised, tuned_a.normalised, tuned_b.normalised]


if __name__ == "__main__":
    main()
