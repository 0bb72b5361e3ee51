"""Issue 9 figures: a 200 MB attachment's peak server memory, a 12 MB body's effect on other
clients, and how long a zip bomb just under the ratio limit takes to be refused.

Runs ``twinbridge serve`` in a subprocess (its VmHWM is the server's alone) on a fresh data
directory and prints: upload MiB, server peak RSS before/after (MiB) and the ratio of the growth
to the upload; the p50/max latency of small reads while a 12 MB element is posted, against the
same reads alone; the seconds to refuse a bomb.

    .venv/bin/python bench/bench_hardening.py [--upload-mib 200] [--upload-only] [--src DIR]

``--src /other/checkout/src`` serves another checkout's code (a baseline in the same hour:
``--src /work/main/src``); ``--upload-only`` stops after the upload, for repeated runs.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import httpx

from tests.ports import free_port

TOKEN = "b" * 32
LIMITS = "  rest: {limits: {attachment_bytes: 1073741824, body_bytes: 67108864}}\n"
PLANT = """\
server:
LIMITS  auth:
    tokens: [{token: TOKEN, role: admin, name: bench}]
""".replace("TOKEN", TOKEN)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _hwm(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _latencies(http: httpx.Client, seconds: float) -> list[float]:
    out: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        http.get("/description")
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upload-mib", type=int, default=200)
    parser.add_argument("--upload-only", action="store_true", help="only the attachment upload's memory")
    parser.add_argument("--src", type=Path, help="the server's source tree (default: the installed twinbridge)")
    parser.add_argument("--baseline", action="store_true",
                        help="a server without server.rest.limits (run with an older checkout's Python)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "plant.yaml"
        config.write_text(PLANT.replace("LIMITS", "" if args.baseline else LIMITS))
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "twinbridge.server.cli", "serve", "--config", str(config),
                                   "--data", str(Path(tmp) / "data"), "--port", str(port), "--no-opcua"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**os.environ, "PYTHONPATH": str(args.src)} if args.src else None)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        base = f"http://127.0.0.1:{port}/api/v3.0"
        try:
            with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
                for _ in range(300):
                    try:
                        http.get("/description")
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                submodel = {"modelType": "Submodel", "id": "urn:bench:sm", "submodelElements": [
                    {"modelType": "File", "idShort": "Manual", "contentType": "application/octet-stream"}]}
                assert http.post("/submodels", json=submodel).status_code == 201
                elements = f"/submodels/{_b64('urn:bench:sm')}/submodel-elements"
                aasx = {"Accept": "application/asset-administration-shell-package+xml"}
                package = http.get("/serialization", headers=aasx).content
                before = _hwm(server.pid)
                payload = Path(tmp) / "upload.bin"
                with payload.open("wb") as out:
                    chunk = os.urandom(1024 * 1024)
                    for _ in range(args.upload_mib):
                        out.write(chunk)
                with payload.open("rb") as stream:
                    started = time.perf_counter()
                    response = http.put(f"{elements}/Manual/attachment", data={"fileName": "upload.bin"},
                                        files={"file": ("upload.bin", stream, "application/octet-stream")})
                    took = time.perf_counter() - started
                payload.unlink()
                after = _hwm(server.pid)
                print(f"upload {args.upload_mib} MiB: {response.status_code} in {took:.1f} s; server peak RSS "
                      f"{before:.0f} -> {after:.0f} MiB (growth {(after - before) / args.upload_mib:.2f}x the upload)")
                if args.upload_only:
                    return

                alone = _latencies(http, 2.0)
                items = [{"modelType": "Property", "idShort": f"P{i}", "valueType": "xs:string", "value": "v" * 100}
                         for i in range(90_000)]
                body = json.dumps({"modelType": "SubmodelElementCollection", "idShort": "Big", "value": items}).encode()
                with httpx.Client(base_url=base, headers=headers, timeout=300) as other:
                    poster = threading.Thread(target=lambda: other.post(elements, content=body))
                    poster.start()
                    during = _latencies(http, 2.0)
                    poster.join()
                print(f"small reads while a {len(body) / 1e6:.1f} MB body is posted: p50 "
                      f"{statistics.median(during) * 1000:.1f} ms, max {max(during) * 1000:.0f} ms "
                      f"(alone: p50 {statistics.median(alone) * 1000:.1f} ms, max {max(alone) * 1000:.0f} ms)")

                bomb = io.BytesIO(package)  # a real package (before the upload), plus:
                with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as archive:
                    for index in range(60):  # ~195:1 each, 480 MiB in all: just under both limits
                        part = b"".join(os.urandom(12) + bytes(4084) for _ in range(2048))
                        archive.writestr(f"aasx/part{index}.bin", part)
                started = time.perf_counter()
                refused = http.post("/packages", files={"file": ("b.aasx", bomb.getvalue(), "application/zip")})
                print(f"zip bomb ({len(bomb.getvalue()) / 1e6:.1f} MB packed): {refused.status_code} in "
                      f"{time.perf_counter() - started:.1f} s")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
