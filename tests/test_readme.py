"""The README's commands, run as written against a running demo (``make readme-check`` runs only this).

Blocks marked ``<!-- readme-check -->`` are executed with bash, with three substitutions a test
needs: the demo's free ports for 8080, a scratch directory for ``data/demo`` and for ``/tmp/``.
Every ``sh`` block must be copy-pasteable: no ``…`` or ``<placeholder>``.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)
CHECKED_BLOCK = re.compile(r"<!-- readme-check -->\n```sh\n(.*?)```", re.S)
FILLER = "https://example.com/twinbridge/sm/DemoPlant/Line1/Cell1/Filler1/OperationalData"


def test_every_shell_block_is_copy_pasteable() -> None:
    blocks = SH_BLOCK.findall(README)
    assert blocks
    for block in blocks:
        assert "…" not in block and not re.search(r"<[a-z][a-z -]*>", block), block


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    scratch = tmp_path_factory.mktemp("readme")
    ports: list[int] = []
    while len(ports) < 3:  # three different ones: the kernel may hand the same free port out twice
        candidate = free_port()
        if candidate not in ports:
            ports.append(candidate)
    port = ports[0]
    process = subprocess.Popen(
        [sys.executable, "-m", "twinbridge.server.cli", "demo", "--data", str(scratch / "data" / "demo"),
         "--port", str(port), "--opcua-port", str(ports[1]), "--mqtt-port", str(ports[2])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    encoded = base64.urlsafe_b64encode(FILLER.encode()).decode().rstrip("=")
    live = (f"http://127.0.0.1:{port}/api/v3.0/submodels/{encoded}/submodel-elements/"
            "Segments.LiveValues.Records.Current.Temperature/$value")
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                if httpx.get(live, timeout=2).headers.get("X-Twinbridge-Quality") == "Good":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not serve a Good live value within 90 s"
            time.sleep(0.5)
        yield port, scratch
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)  # a loaded machine stops the demo slowly; a hang must not hang the suite
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def test_the_checked_commands_run_as_written(demo: tuple[int, Path]) -> None:
    port, scratch = demo
    blocks = CHECKED_BLOCK.findall(README)
    assert len(blocks) >= 3
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for block in blocks:
        script = (block.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("/tmp/", f"{scratch}/")
                  .replace("data/demo", str(scratch / "data" / "demo")))
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, f"{block}\n--- stdout\n{run.stdout[-2000:]}\n--- stderr\n{run.stderr[-2000:]}"
        assert '"messageType":"Error"' not in run.stdout.replace(" ", ""), f"{block}\n{run.stdout[-2000:]}"
        if "/$value'" in block and "-i" in block:
            assert "X-Twinbridge-Quality: Good" in run.stdout or "x-twinbridge-quality: Good" in run.stdout
    assert (scratch / "twinbridge-demo.json").stat().st_size > 1000
    assert (scratch / "twinbridge-plant.aasx").read_bytes()[:2] == b"PK"
