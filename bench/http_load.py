"""Shared by the REST benchmarks: servers in their own processes, load from ``wrk``.

The load generator is ``wrk`` (Debian package ``wrk``), a C program in its own process: on a
2-core machine a Python client would spend more CPU than the server it measures. Each server
is one uvicorn worker in a subprocess (as deployed), started by re-running the calling script
with ``--serve ...`` arguments.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Figures:
    """One run's requests/s and latency, and the server's CPU time per request: on a shared
    machine the rate moves with everybody else's load, the CPU time per request much less."""

    rate: float
    p50_ms: float
    p99_ms: float
    cpu_us: float

    @staticmethod
    def median(runs: Sequence[Figures]) -> Figures:
        return Figures(statistics.median(r.rate for r in runs), statistics.median(r.p50_ms for r in runs),
                       statistics.median(r.p99_ms for r in runs), statistics.median(r.cpu_us for r in runs))

    def __str__(self) -> str:
        return (f"{self.rate:8.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  "
                f"server CPU {self.cpu_us:5.0f} us/req")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(script: str, serve_args: Sequence[str], probe_path: str,
                 timeout_s: float = 300) -> tuple[subprocess.Popen[bytes], str]:
    """``python script --serve ... --port P`` in a subprocess; returns it and its base URL once
    ``probe_path`` answers 2xx."""
    port = free_port()
    process = subprocess.Popen([sys.executable, script, "--serve", *serve_args, "--port", str(port)], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(base + probe_path, timeout=5) as response:
                if 200 <= response.status < 300:
                    return process, base
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"the server {serve_args} did not start") from None
            time.sleep(0.2)


def stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _millis(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: float, connections: int, server_pid: int, lua: str | None = None,
        timeout_s: float = 2) -> Figures:
    """One wrk run (one thread) against the server process ``server_pid``: requests/s, p50, p99
    and the server's CPU time per request. Any non-2xx answer or socket error fails (a request
    slower than ``timeout_s`` is one)."""
    cpu_before = cpu_seconds(server_pid)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", f"--timeout={timeout_s:g}s"]
        if lua is not None:
            script.write(lua)
            script.flush()
            command += ["-s", script.name]
        done = subprocess.run([*command, url], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed against {url}: {done.stderr or done.stdout}")
    output = done.stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors against {url}:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _millis(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _millis(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    cpu_us = (cpu_seconds(server_pid) - cpu_before) / max(requests, 1) * 1e6
    return Figures(rate, p50, p99, cpu_us)


def writes_script(method: str, path: str, body_before: str, body_after: str) -> str:
    """A wrk script sending ``method path`` with body ``before .. n .. after`` (n counts up), so
    every request writes a new value."""
    return f"""
local n = 0
request = function()
  n = n + 1
  return wrk.format("{method}", "{path}", {{["Content-Type"] = "application/json"}},
                    '{body_before}' .. (n % 100000) .. '{body_after}')
end
"""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on a shared machine moves every figure."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
