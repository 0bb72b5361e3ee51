"""An online backup taken under write load restores to a store that passes verify and answers the same."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import orjson

from tests.history.conftest import ADMIN, SUBMODEL, TOKEN, Served, b64, serve
from twinbridge.server.cli import main


async def load(served: Served, stop: asyncio.Event) -> None:
    """A device updating every 3 ms and a client writing the setpoint every 20 ms, until ``stop``."""
    handle = served.twin.live(SUBMODEL, "Temperature")

    async def device() -> None:
        value = 0.0
        while not stop.is_set():
            served.twin.update(handle, value, time.time())
            value += 1
            await asyncio.sleep(0.003)

    async def client() -> None:
        value = 1000.0
        while not stop.is_set():
            await served.http.put(f"{served.base}/submodels/{b64(SUBMODEL)}/submodel-elements/Setpoint",
                                  json={"modelType": "Property", "idShort": "Setpoint", "valueType": "xs:double",
                                        "value": str(value), "description": [{"language": "en", "text": str(value)}]},
                                  headers={"Authorization": f"Bearer {TOKEN}"})
            value += 1
            await asyncio.sleep(0.02)

    await asyncio.gather(device(), client())


def last_journaled_setpoint(journal: Path) -> str:
    last = orjson.loads(journal.read_bytes().splitlines()[-1])
    (element,) = [e for e in last["document"]["submodelElements"] if e["idShort"] == "Setpoint"]
    return str(element["value"])


async def all_points(served: Served) -> list[dict]:
    response = await served.http.get(served.url("Temperature"), params={"limit": "100000"})
    assert response.status_code == 200, response.text
    return list(response.json()["result"])


async def test_a_backup_under_load_restores_consistently(served: Served, tmp_path: Path) -> None:
    stop = asyncio.Event()
    loading = asyncio.create_task(load(served, stop))
    await asyncio.sleep(1.0)
    backup = tmp_path / "backup"
    response = await served.http.post(f"{served.base}/history/backup", json={"directory": str(backup)},
                                      headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 200, response.text
    assert {Path(name).name for name in response.json()["files"]} == {
        "journal.jsonl", "twinbridge.sqlite3", "history.duckdb"}
    await asyncio.sleep(0.5)  # writes go on after the backup
    stop.set()
    await loading
    original = await all_points(served)

    refused = await served.http.post(f"{served.base}/history/backup", json={"directory": str(backup)},
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 403
    by_cli = tmp_path / "by-cli"  # `twinbridge backup` asks the running server over HTTP
    assert await asyncio.to_thread(main, ["backup", str(by_cli), "--url", served.base, "--token", ADMIN]) == 0
    assert {path.name for path in by_cli.iterdir()} == {"journal.jsonl", "twinbridge.sqlite3", "history.duckdb"}
    assert await asyncio.to_thread(main, ["backup", str(by_cli), "--url", served.base, "--token", TOKEN]) == 1

    restored = tmp_path / "restored"
    assert main(["restore", str(backup), "--data", str(restored)]) == 0
    assert main(["journal", "verify", "--data", str(restored)]) == 0
    journaled = last_journaled_setpoint(restored / "history" / "journal.jsonl")
    async for copy in serve(restored):
        stored = (await copy.http.get(f"{copy.base}/submodels/{b64(SUBMODEL)}/submodel-elements/Setpoint")).json()
        assert stored["value"] == journaled  # the store and the journal were copied at the same instant
        points = await all_points(copy)
        assert 20 < len(points) < len(original)
        assert points == original[: len(points)]  # the same history up to the backup


async def test_restore_refuses_while_a_server_holds_the_data(served: Served, tmp_path: Path) -> None:
    """DuckDB locks its file against other processes: restore (another process) must refuse."""
    data = Path(served.service.directory).parent
    await served.service.historian.flushed()  # type: ignore[union-attr]
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "journal.jsonl").write_bytes(b"")
    journal = (data / "history" / "journal.jsonl").read_bytes()
    restore = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "twinbridge.server.cli", "restore", str(tmp_path / "backup"), "--data", str(data),
        stderr=asyncio.subprocess.PIPE)
    _, error = await restore.communicate()
    assert restore.returncode == 1 and b"stop the server" in error
    assert (data / "history" / "journal.jsonl").read_bytes() == journal
