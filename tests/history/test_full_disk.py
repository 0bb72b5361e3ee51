"""A full disk pauses history (error logged, status paused) while live values keep flowing; history
resumes by itself when space returns, and nothing buffered meanwhile is lost.

The disk is a real 4 MiB tmpfs (mounting needs root, as on the CI machine; elsewhere this skips).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.history.conftest import SUBMODEL, b64, serve
from twinbridge.history.settings import HistorySettings


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


async def test_a_full_disk_pauses_history_and_it_resumes(tmp_path: Path, small_disk: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    settings = HistorySettings(flush_interval_s=0.1, url=f"duckdb:///{small_disk / 'history.duckdb'}")
    async for served in serve(tmp_path / "data", settings):
        historian = served.service.historian
        assert historian is not None
        handle = served.twin.live(SUBMODEL, "Temperature")
        start = time.time() - 100
        stamp = iter(start + i * 0.001 for i in range(1_000_000))
        for value in range(100):
            served.twin.update(handle, float(value), next(stamp))
        await historian.flushed()
        filler = small_disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as stream:
            stream.write(b"\0" * 8_000_000)  # fill the disk up
        sent = 100
        caplog.set_level(logging.ERROR)
        deadline = time.time() + 30
        while historian.status().state != "paused" and time.time() < deadline:
            for _ in range(2_000):
                served.twin.update(handle, float(sent), next(stamp))
                sent += 1
            await asyncio.sleep(0.05)
        status = (await served.http.get(f"{served.base}/history/status")).json()
        assert status["state"] == "paused" and "No space left" in status["error"]
        assert any("history paused" in record.message for record in caplog.records)
        live = await served.http.get(f"{served.base}/submodels/{b64(SUBMODEL)}/submodel-elements/Temperature/$value")
        assert live.json() == {"Temperature": float(sent - 1)}  # live values keep flowing

        filler.unlink()  # space returns
        deadline = time.time() + 30
        while historian.status().state != "recording" and time.time() < deadline:
            await asyncio.sleep(0.1)
        assert historian.status().state == "recording" and historian.dropped == 0
        response = await served.http.get(served.url("Temperature"), params={
            "from": "1970-01-01T00:00:00Z", "limit": "100000"})
        assert [point["value"] for point in response.json()["result"]] == [float(v) for v in range(sent)]
