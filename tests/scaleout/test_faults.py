"""Faults of the shared store: an instance killed under load, a PostgreSQL restart."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.peers import missing_peer
from tests.ports import free_port
from tests.postgres import fresh_store_url, require_postgres
from tests.scaleout.instances import HEADERS, Instance, b64, submodel_json, wait_for
from twinbridge.aas.store import open_store
from twinbridge.aas.twin import Twin

SUBMODEL = "urn:twinbridge:test:faults"
WRITERS = 4


def _stored_values(url: str) -> dict[str, int]:
    """What the database holds, read by a fresh twin (as an instance started now would)."""
    twin = Twin(open_store(url))
    try:
        elements = twin.submodel(SUBMODEL).submodel_element
        return {str(element.id_short): int(getattr(element, "value", -1)) for element in elements}
    finally:
        twin.close()


def test_kill_9_of_one_instance_under_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    require_postgres()
    with fresh_store_url("kill") as url:
        a, b = Instance(url, tmp_path / "a.log"), Instance(url, tmp_path / "b.log")
        try:
            a.start()
            b.start()
            names = [f"w{n}" for n in range(WRITERS)]
            assert httpx.post(f"{a.url}/submodels", json=submodel_json(SUBMODEL, dict.fromkeys(names, 0)),
                              headers=HEADERS).status_code == 201
            acknowledged: dict[str, int] = dict.fromkeys(names, 0)
            attempted: dict[str, int] = dict.fromkeys(names, 0)
            after_kill: dict[str, int] = dict.fromkeys(names, 0)
            killed = threading.Event()
            stop = threading.Event()

            def write(name: str, index: int) -> None:
                with httpx.Client(headers=HEADERS, timeout=10) as client:
                    counter = 0
                    while not stop.is_set():
                        counter += 1
                        target = a if index % 2 == 0 and not killed.is_set() else b
                        attempted[name] = counter
                        try:
                            response = client.patch(
                                f"{target.url}/submodels/{b64(SUBMODEL)}/submodel-elements/{name}/$value", json=counter)
                        except httpx.TransportError:
                            continue  # the killed instance: not acknowledged
                        if response.status_code == 204:
                            acknowledged[name] = counter
                            if killed.is_set() and target is b:
                                after_kill[name] += 1

            threads = [threading.Thread(target=write, args=(name, index)) for index, name in enumerate(names)]
            for thread in threads:
                thread.start()
            time.sleep(2.0)
            a.kill()
            killed.set()
            time.sleep(2.0)
            stop.set()
            for thread in threads:
                thread.join()
            assert all(count > 0 for count in after_kill.values()), after_kill  # B kept serving everyone
            stored = _stored_values(url)
            for name in names:  # the last acknowledged write is there (or a later unacknowledged one)
                assert acknowledged[name] <= stored[name] <= attempted[name], (name, acknowledged, stored)
        finally:
            a.stop()
            b.stop()


class PrivateCluster:
    """A PostgreSQL cluster of this test's own (initdb in a temp dir, a free port): restarting
    it disturbs nobody else's tests on the machine's server."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        bin_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        self.bin = bin_dirs[-1] if bin_dirs else None
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        assert self.bin is not None
        subprocess.run([*self.as_user, str(self.bin / command[0]), *command[1:]], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    @property
    def server(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        if self.bin is None or (self.as_user and shutil.which("runuser") is None):
            missing_peer("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.directory / "data"), "-A", "trust", "-U", "postgres")
        self._pg_ctl("start")

    def _pg_ctl(self, action: str) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-w", "-l", str(self.directory / "log"),
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1", action)

    def resume(self) -> None:
        """Start it again after ``stop``."""
        self._pg_ctl("start")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-w", "-m", "fast", "restart")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-w", "-m", "immediate", "stop")


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    directory = Path("/tmp") / f"twinbridge-pg-{os.getpid()}-{free_port()}"  # the postgres user must reach it
    cluster = PrivateCluster(directory)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_instances_reconnect_by_themselves_after_a_postgresql_restart(private_cluster: PrivateCluster,
                                                                      tmp_path: Path) -> None:
    url = f"{private_cluster.server}?schema=restart"
    a, b = Instance(url, tmp_path / "a.log"), Instance(url, tmp_path / "b.log")
    try:
        a.start()
        b.start()
        value_url = f"/submodels/{b64(SUBMODEL)}/submodel-elements/w0/$value"
        assert httpx.post(f"{a.url}/submodels", json=submodel_json(SUBMODEL, {"w0": 0}),
                          headers=HEADERS).status_code == 201
        wait_for(lambda: httpx.get(b.url + value_url, headers=HEADERS).status_code == 200)
        restart = threading.Thread(target=private_cluster.restart)
        with psycopg.connect(private_cluster.server) as conn:  # the server is up before the restart
            conn.execute("SELECT 1")
        restart.start()
        # a write during the restart waits for the store instead of failing
        during = httpx.patch(a.url + value_url, json=1, headers=HEADERS, timeout=60)
        restart.join()
        assert during.status_code == 204, during.text
        after = httpx.patch(a.url + value_url, json=2, headers=HEADERS, timeout=60)
        assert after.status_code == 204, after.text
        wait_for(lambda: httpx.get(b.url + value_url, headers=HEADERS).json() == {"w0": 2}, timeout=10)
        assert _stored_values(url)["w0"] == 2
    finally:
        a.stop()
        b.stop()

