"""Memory per property and start-up of ``twinbridge serve``, measured from outside the process.

    .venv/bin/python bench/bench_memory.py [--runs 3] [--machines 1000] [--components 5]
                                           [--baseline-src DIR] [--only import|plant] [--restart]

Two scenarios, each with and without OPC UA, each a fresh ``twinbridge serve`` under
``/usr/bin/time -v`` with a fresh SQLite data directory:

- **import**: a flat AAS JSON environment of 20,000 properties (``bench_import.generate``:
  200 submodels × 100 properties) passed with ``--import``. Bytes per property = (RSS when
  the first ``GET /shells`` answers − RSS of an empty server measured the same way) / 20,000.
- **plant**: the 1,000-machine plant of ``bench_plant.description`` (6,111 shells, 113k
  properties) as the plant file. Figures: seconds from launch to the first successful
  ``GET /shells?limit=1`` (wall, and the server's CPU seconds by then: on a loaded machine
  the wall figure mostly measures the wait for a core), RSS at that moment, and the
  process's max RSS (``time -v``). ``--restart``: each plant run serves once unmeasured on its
  data directory (the first start, which stores the plant) and measures the second start.
  ``--reads S``: after the first answer, S seconds of back-to-back ``GET /shells?limit=1``
  (the work deferred past the first answer runs meanwhile: first store write, journal
  baseline); their p50/p99/max latency is printed per run.

``--baseline-src`` runs the same measurements, in the same invocation and interleaved, with
another source tree (e.g. ``git archive <commit> | tar -x -C DIR``; its ``src/twinbridge`` is put
first on PYTHONPATH), so the ratio is measured under the same machine load. Figures are the
median of ``--runs``; the issue's previous figures are printed beside them.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import generate
from bench_plant import description

IMPORT_PROPERTIES = 200 * 100
PREVIOUS = {  # issue 8, measured on the landed main before this work
    ("import", False): "5.8 KB/property", ("import", True): "11 KB/property",
    ("plant", False): "-", ("plant", True): "3.3 GiB, 74 s",
}


@dataclass
class Run:
    seconds: float
    cpu: float
    rss: int
    max_rss: int
    reads: list[float] | None = None
    """Latencies (s) of the reads made after the first answer (``--reads``)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) * 1024 if match else 0


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process so far: on a shared machine the steadier figure."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _python_child(pid: int) -> int:
    """The server process: ``time`` forks it, so it is the child of the launched pid."""
    for _ in range(200):
        children = Path(f"/proc/{pid}/task/{pid}/children")
        text = children.read_text().split() if children.exists() else []
        if text:
            return int(text[0])
        time.sleep(0.01)
    raise RuntimeError("the server process did not start")


def serve_once(workdir: Path, args: list[str], opcua: bool, source: Path | None, timeout_s: float = 600,
               data: Path | None = None, reads_s: float = 0.0) -> Run:
    port = _free_port()
    data = data if data is not None else Path(tempfile.mkdtemp(dir=workdir))
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "twinbridge.server.cli", "serve", "--data", str(data),
               "--port", str(port), "--opcua-port", str(_free_port()), "--log-level", "WARNING", *args]
    if not opcua:
        command.append("--no-opcua")
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = _python_child(process.pid)
    url = f"http://127.0.0.1:{port}/api/v3.0/shells?limit=1"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server stopped: {process.stderr.read() if process.stderr else ''}")
            if time.perf_counter() - started > timeout_s:
                raise RuntimeError("no answer before the time limit")
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        rss = _rss_of(server)
        cpu = _cpu_of(server)
        reads: list[float] = []
        with httpx.Client(timeout=30) as client:
            until = time.perf_counter() + reads_s
            while time.perf_counter() < until:
                sent = time.perf_counter()
                client.get(url).raise_for_status()
                reads.append(time.perf_counter() - sent)
    finally:
        os.kill(server, signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return Run(seconds, cpu, rss, int(match.group(1)) * 1024 if match else 0, reads or None)


def _median(runs: list[Run]) -> Run:
    return Run(statistics.median(r.seconds for r in runs), statistics.median(r.cpu for r in runs),
               int(statistics.median(r.rss for r in runs)), int(statistics.median(r.max_rss for r in runs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--baseline-src", type=Path, help="source tree of the baseline (measured in the same run)")
    parser.add_argument("--only", choices=["import", "plant"])
    parser.add_argument("--opcua", choices=["both", "on", "off"], default="both")
    parser.add_argument("--restart", action="store_true", help="measure the plant's second start on its store")
    parser.add_argument("--reads", type=float, default=0.0, help="seconds of GETs after the first answer")
    args = parser.parse_args()
    sources: dict[str, Path | None] = {"this tree": None}
    if args.baseline_src is not None:
        sources = {"baseline": args.baseline_src.resolve(), "this tree": None}
    modes = {"both": (False, True), "on": (True,), "off": (False,)}[args.opcua]
    print(f"load average at start: {os.getloadavg()[0]:.2f}; median of {args.runs} runs; 2-core shared machine")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        environment = workdir / "environment.json"
        environment.write_bytes(generate(200, 100))
        plant_file = workdir / "plant.yaml"
        plant_file.write_text(yaml.safe_dump({"plant": description(args.machines, args.components)}))
        scenarios = {"empty": [], "import": ["--import", str(environment)], "plant": ["--config", str(plant_file)]}
        if args.only:
            scenarios = {"empty": [], args.only: scenarios[args.only]} if args.only == "import" else {
                args.only: scenarios[args.only]}
        results: dict[tuple[str, str, bool], list[Run]] = {}
        for _ in range(args.runs):
            for scenario, extra in scenarios.items():
                for opcua in modes:
                    for label, source in sources.items():
                        data = None
                        if args.restart and scenario == "plant":
                            data = Path(tempfile.mkdtemp(dir=workdir))
                            serve_once(workdir, extra, opcua, source, data=data)
                        run = serve_once(workdir, extra, opcua, source, data=data,
                                         reads_s=args.reads if scenario == "plant" else 0.0)
                        results.setdefault((label, scenario, opcua), []).append(run)
                        print(f"  {label:9s} {scenario:6s} opcua={'on ' if opcua else 'off'} {run.seconds:6.1f} s "
                              f"({run.cpu:5.1f} s CPU) "
                              f"RSS {run.rss / 2**20:7.0f} MiB max {run.max_rss / 2**20:7.0f} MiB", flush=True)
                        if run.reads:
                            ms = sorted(r * 1000 for r in run.reads)
                            print(f"      {len(ms)} reads after it: p50 {ms[len(ms) // 2]:.1f} ms, "
                                  f"p99 {ms[int(len(ms) * 0.99)]:.1f} ms, max {ms[-1]:.1f} ms", flush=True)
    print()
    print(f"{'what':44s} {'OPC UA':6s} " + " ".join(f"{label:>38s}" for label in sources) + "   previous (issue 8)")
    for scenario in scenarios:
        if scenario == "empty":
            continue
        for opcua in modes:
            cells = []
            for label in sources:
                run = _median(results[(label, scenario, opcua)])
                if scenario == "import":
                    empty = _median(results[(label, "empty", opcua)])
                    cells.append(f"{(run.rss - empty.rss) / IMPORT_PROPERTIES:,.0f} B/property")
                else:
                    cells.append(f"{run.seconds:.0f} s ({run.cpu:.0f} s CPU), {run.rss / 2**30:.2f} GiB "
                                 f"(max {run.max_rss / 2**30:.2f})")
            what = ("memory per property, 20,000-property import" if scenario == "import"
                    else f"plant {args.machines} machines, {'restart' if args.restart else 'first start'}: "
                         "first answer, RSS")
            print(f"{what:44s} {'on' if opcua else 'off':6s} " + " ".join(f"{c:>38s}" for c in cells)
                  + f"   {PREVIOUS[(scenario, opcua)]}")


if __name__ == "__main__":
    main()
