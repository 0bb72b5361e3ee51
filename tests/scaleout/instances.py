"""twinbridge instances as separate processes on one store, as a load balancer sees them."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scale-out-test-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v3.0"


def b64(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


class Instance:
    """One ``twinbridge serve --store URL`` process; ``url`` is its API base."""

    def __init__(self, store: str, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.store = store
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    def start(self, timeout: float = 60) -> Instance:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "twinbridge.server.cli", "serve", "--memory", "--store", self.store,
             "--port", str(self.port), "--no-opcua", "--token", TOKEN, "--log-level", "WARNING"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"instance on {self.port} exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/shells", headers=HEADERS, timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"instance on {self.port} did not serve within {timeout} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """``kill -9``: no flush, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def submodel_json(identifier: str, values: dict[str, int]) -> dict[str, object]:
    return {
        "modelType": "Submodel", "id": identifier, "idShort": "Counters",
        "submodelElements": [{"modelType": "Property", "idShort": name, "valueType": "xs:int", "value": str(value)}
                             for name, value in values.items()],
    }


def wait_for(check: object, timeout: float = 5.0, interval: float = 0.02) -> float:
    """Poll ``check()`` until it is true; the seconds it took (AssertionError after ``timeout``)."""
    assert callable(check)
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - started
