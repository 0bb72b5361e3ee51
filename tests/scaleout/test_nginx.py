"""The README's load-balancer example: three instances behind nginx with examples/nginx/twinbridge.conf."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.peers import missing_peer
from tests.ports import free_port
from tests.postgres import fresh_store_url, require_postgres
from tests.scaleout.instances import API, HEADERS, ROOT, Instance, b64, submodel_json, wait_for

CONFIG = ROOT / "examples" / "nginx" / "twinbridge.conf"
SUBMODEL = "urn:twinbridge:test:balanced"


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        missing_peer("nginx is not installed (apt-get install nginx)")
    return found


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[tuple[str, list[Instance]]]:
    """The example configuration as written, with free ports for 8080 and 8081–8083."""
    nginx = _nginx()
    require_postgres()
    ports: list[int] = []
    while len(ports) < 4:
        port = free_port()
        if port not in ports:
            ports.append(port)
    text = CONFIG.read_text()
    for default, port in zip((8080, 8081, 8082, 8083), ports, strict=True):
        text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}")
    if os.geteuid() == 0:
        text = "user root;\n" + text  # workers may then read the temp dirs the master made
    config = tmp_path / "nginx.conf"
    config.write_text(text)
    with fresh_store_url("lb") as url:
        instances = [Instance(url, tmp_path / f"i{n}.log", port=ports[n + 1]) for n in range(3)]
        proxy = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(config)],
                                 stdout=subprocess.DEVNULL, stderr=(tmp_path / "nginx.log").open("wb"))
        try:
            for instance in instances:
                instance.start()
            yield f"http://127.0.0.1:{ports[0]}{API}", instances
        finally:
            proxy.terminate()
            proxy.wait(timeout=30)
            for instance in instances:
                instance.stop()


def test_three_instances_behind_nginx_serve_one_repository(balanced: tuple[str, list[Instance]]) -> None:
    base, instances = balanced
    element = f"{base}/submodels/{b64(SUBMODEL)}/submodel-elements/n/$value"
    with httpx.Client(headers=HEADERS, timeout=10) as client:
        wait_for(lambda: client.get(f"{base}/shells").status_code == 200, timeout=10)
        assert client.post(f"{base}/submodels", json=submodel_json(SUBMODEL, {"n": 0})).status_code == 201
        for instance in instances:  # the others learn of it within a second (not at once: see the README)
            direct = f"{instance.url}/submodels/{b64(SUBMODEL)}"
            wait_for(lambda url=direct: client.get(url).status_code == 200, timeout=1.0)
        upstreams = set()
        for value in range(1, 31):
            response = client.patch(element, json=value)
            assert response.status_code == 204, response.text
            upstreams.add(response.headers["X-Twinbridge-Upstream"])
        assert len(upstreams) == 3  # least_conn spread the writes over every instance
        for instance in instances:  # each converged on the last write, whoever took it
            direct = f"{instance.url}/submodels/{b64(SUBMODEL)}/submodel-elements/n/$value"
            wait_for(lambda url=direct: client.get(url).json() == {"n": 30}, timeout=1.0)

        instances[0].kill()
        started = time.monotonic()
        for _ in range(10):  # reads keep working: nginx passes them to the others
            response = client.get(element)
            assert response.status_code == 200 and response.json() == {"n": 30}
        assert time.monotonic() - started < 10
