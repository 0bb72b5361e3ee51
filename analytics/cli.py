"""``twinbridge detect``: score NAB-style series files with a registered anomaly detector.

Each input ``timestamp,value`` file is read, scored as a stream (row t only sees rows <= t) and
written as ``timestamp,value,anomaly_score`` under ``--out`` with the same path relative to the
inputs' common folder, so NAB's scorer (or bench/bench_nab.py) can read the results directly.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from twinbridge.analytics.detectors import DEFAULT_DETECTOR


def add_detect_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    detect = commands.add_parser("detect", help="score timestamp,value CSV files with an anomaly detector")
    detect.add_argument("files", nargs="+", type=Path, metavar="FILE.csv",
                        help="input series (a folder means every *.csv below it)")
    detect.add_argument("--detector", default=DEFAULT_DETECTOR,
                        help=f"detector name (default {DEFAULT_DETECTOR}, the strongest; also: ewma, the cheap one)")
    detect.add_argument("--out", type=Path, required=True, help="folder for the results files")


def run_detect(args: argparse.Namespace) -> int:
    # imported here: numpy/scipy cost seconds at start-up that no other command should pay
    import numpy as np

    from twinbridge.analytics.detectors import UnknownDetector, create
    from twinbridge.analytics.series import SeriesError, read_csv_series, write_scores

    try:
        create(args.detector)
    except UnknownDetector as error:
        print(f"twinbridge detect: --detector: {error}", file=sys.stderr)
        return 2
    inputs = _expand(args.files)
    if not inputs:
        print("twinbridge detect: no .csv files in the given paths", file=sys.stderr)
        return 2
    root = Path(os.path.commonpath([str(path.resolve().parent) for path in inputs]))
    failures = 0
    for path in inputs:
        try:
            series = read_csv_series(path)
        except SeriesError as error:
            print(f"twinbridge detect: {error}", file=sys.stderr)
            failures += 1
            continue
        seconds = series.timestamps.astype("datetime64[us]").astype(np.int64) / 1e6
        scores = create(args.detector).score_series(seconds, series.values)
        target = args.out / path.resolve().relative_to(root)
        write_scores(target, series, scores)
        print(f"{path} -> {target} ({len(scores)} rows)")
    return 1 if failures else 0


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.csv")) if path.is_dir() else [path])
    return files
