"""``twinbridge detect`` end to end: layout of the results, streaming scores, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twinbridge.analytics.detectors import create
from twinbridge.analytics.series import read_csv_series
from twinbridge.server.cli import main


def _write(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamps = np.datetime64("2024-03-01T00:00:00") + np.arange(len(values)) * np.timedelta64(5, "m")
    lines = [f"{str(s).replace('T', ' ')},{v:g}" for s, v in zip(stamps, values, strict=True)]
    path.write_text("timestamp,value\n" + "\n".join(lines) + "\n")


def test_detect_writes_scores_under_the_same_relative_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(10.0, 1.0, 600)
    values[450] = 30.0
    _write(tmp_path / "in" / "groupA" / "a.csv", values)
    _write(tmp_path / "in" / "groupB" / "b.csv", values[:300])
    out = tmp_path / "out"
    assert main(["detect", "--detector", "ewma", str(tmp_path / "in"), "--out", str(out)]) == 0
    result = out / "groupA" / "a.csv"
    lines = result.read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score"
    assert lines[1].startswith("2024-03-01 00:00:00,")
    assert (out / "groupB" / "b.csv").exists()
    scores = np.array([float(line.split(",")[2]) for line in lines[1:]])
    assert int(np.argmax(scores)) == 450
    series = read_csv_series(tmp_path / "in" / "groupA" / "a.csv")
    seconds = series.timestamps.astype("datetime64[us]").astype(np.int64) / 1e6
    np.testing.assert_allclose(scores, create("ewma").score_series(seconds, series.values), atol=1e-9)


def test_detect_errors_name_the_detector_file_line_and_column(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.csv"
    _write(good, np.ones(10))
    assert main(["detect", "--detector", "nope", str(good), "--out", str(tmp_path / "o")]) == 2
    assert "unknown detector 'nope'; known: ewma, seasonal" in capsys.readouterr().err
    columns = tmp_path / "columns.csv"
    columns.write_text("time,val\n1,2\n")
    bad_value = tmp_path / "value.csv"
    bad_value.write_text("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,n/a\n")
    assert main(["detect", str(columns), str(bad_value), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "columns.csv, line 1: missing column(s) timestamp, value (header: time,val)" in err
    assert "value.csv, line 3, column 'value': not a number: 'n/a'" in err
