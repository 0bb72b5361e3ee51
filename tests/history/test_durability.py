"""History survives a clean restart and a kill -9: everything handed to the twin before the last
flush interval is in the store when it is opened again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from tests.history.conftest import SUBMODEL
from tests.history.feeder import FLUSH_INTERVAL_S
from twinbridge.history.duckdb_store import DuckDbHistory
from twinbridge.history.store import SeriesKey

ROOT = Path(__file__).resolve().parents[2]
SLACK_S = 0.5  # the writer thread may be late under load on a shared 2-core machine


def run_feeder(data: Path, seconds: float, how: signal.Signals) -> tuple[list[tuple[int, float]], float]:
    process = subprocess.Popen([sys.executable, "-m", "tests.history.feeder", str(data)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    sent: list[tuple[int, float]] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            value, stamp = line.split()
            sent.append((int(value), float(stamp)))

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.time() + 60
    while len(sent) < 20 and time.time() < deadline:  # started and feeding
        time.sleep(0.05)
    time.sleep(seconds)
    stopped_at = time.time()
    os.kill(process.pid, how)
    process.wait(30)
    reader.join(10)
    return sent, stopped_at


def recorded(data: Path) -> dict[float, float]:
    history = DuckDbHistory(data / "history" / "history.duckdb")
    try:
        info = history.find_series(SeriesKey(SUBMODEL, "Temperature"))
        assert info is not None
        points = history.read(info.id, 0, 2**62, 1_000_000)
        return dict(zip((points.t_us / 1e6).round(6).tolist(), points.value.tolist(), strict=True))
    finally:
        history.close()


def test_kill_9_keeps_everything_before_the_last_flush_interval(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sent, killed_at = run_feeder(data, 1.5, signal.SIGKILL)
    points = recorded(data)
    acknowledged = [(value, stamp) for value, stamp in sent if stamp < killed_at - FLUSH_INTERVAL_S - SLACK_S]
    assert len(acknowledged) > 50
    missing = [(value, stamp) for value, stamp in acknowledged if points.get(round(stamp, 6)) != float(value)]
    assert not missing, f"{len(missing)} acknowledged points lost, first {missing[:3]}"


def test_a_clean_restart_keeps_every_point_and_appends_after_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, _ = run_feeder(data, 0.5, signal.SIGTERM)
    second, _ = run_feeder(data, 0.5, signal.SIGTERM)
    points = recorded(data)
    stamps = np.array(sorted(points))
    assert len(points) == len(first) + len(second)
    assert all(points[round(stamp, 6)] == float(value) for value, stamp in first + second)
    assert np.all(np.diff(stamps) > 0)


async def test_a_corrupt_history_file_does_not_stop_the_server(tmp_path: Path) -> None:
    from tests.history.conftest import b64, serve

    data = tmp_path / "data"
    (data / "history").mkdir(parents=True)
    (data / "history" / "history.duckdb").write_bytes(b"not a database at all " * 4096)
    async for served in serve(data):
        status = (await served.http.get(f"{served.base}/history/status")).json()
        assert status["state"] == "disabled" and "history.duckdb" in status["error"]
        response = await served.http.get(f"{served.base}/history/submodels/{b64(SUBMODEL)}"
                                         "/submodel-elements/Temperature")
        assert response.status_code == 503 and "history.duckdb" in response.json()["messages"][0]["text"]
        served.twin.update(served.twin.live(SUBMODEL, "Temperature"), 55.5)  # live values keep flowing
        value = await served.http.get(f"{served.base}/submodels/{b64(SUBMODEL)}/submodel-elements/Temperature/$value")
        assert value.json() == {"Temperature": 55.5}
        assert status["journalEntries"] >= 1  # the journal is a separate file and still works
