"""Server-Sent Events fan-out: 100 clients, 5,000 value events/s, latency change → client.

The server (this process: uvicorn and the twin on one loop) updates 100 Properties at
``--rate`` events/s in 10 ms steps; every 20 ms one of the updates is a ``Probe`` Property whose
value is the time of the change. The clients (another process: asyncio protocols, 100
connections on ``GET /api/v3.0/events``) find each probe frame in the stream and record
(arrival − change). Two phases of ``--seconds`` each: all clients reading; then the same with
one more client that connects and never reads (a small receive window), which the server
must drop without the others' p99 moving. Target (issue 12): p99 ≤ 50 ms, unchanged by the
stalled client.

    .venv/bin/python bench/bench_sse.py [--clients 100] [--rate 5000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import resource
import socket
import sys
import time

import uvicorn
from basyx.aas import model

from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.server.events.settings import SseConfig
from twinbridge.server.events.sse import event_stats, events_router

SUBMODEL = "urn:bench:sm:sse"
PROPERTIES = 100
PROBE = re.compile(rb'"subject":"Probe".*?"data":([0-9.e+]+)\}')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# ------------------------------------------------------------------ clients (their own process)
class Reader(asyncio.Protocol):
    def __init__(self, latencies: list[float], phase: list[int]) -> None:
        self.latencies = latencies
        self.phase = phase
        self.tail = b""
        self.last = 0.0
        self.bytes = 0

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.bytes += len(data)
        window = self.tail + data
        for match in PROBE.finditer(window):
            sent = float(match.group(1))
            if sent > self.last:
                self.last = sent
                self.latencies.append((self.phase[0], now - sent))
        self.tail = window[-700:]


async def clients(port: int, count: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    latencies: list[tuple[int, float]] = []
    phase = [0]
    request = f"GET /api/v3.0/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    readers = []
    for _ in range(count):
        transport, reader = await loop.create_connection(lambda: Reader(latencies, phase), "127.0.0.1", port)
        transport.write(request)
        readers.append(reader)
    print("connected", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # the server: phase two starts
    phase[0] = 1
    print("phase", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # the server: done
    summary = {}
    for p in (0, 1):
        values = [value for q, value in latencies if q == p]
        summary[str(p)] = [percentile(values, 0.5), percentile(values, 0.99), len(values)]
    print(json.dumps({"latencies": summary, "bytes": sum(r.bytes for r in readers)}), flush=True)


# ------------------------------------------------------------------ server (this process)
async def produce(twin: Twin, rate: float, seconds: float) -> int:
    handles = [twin.live(SUBMODEL, f"P{i}") for i in range(PROPERTIES)]
    probe = twin.live(SUBMODEL, "Probe")
    step, per_step = 0.01, max(1, int(rate * 0.01))
    started = time.perf_counter()
    sent = 0
    while time.perf_counter() - started < seconds:
        due = started + (sent // per_step) * step
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        for i in range(per_step - 1):
            twin.update(handles[(sent + i) % PROPERTIES], float(sent + i))
        if (sent // per_step) % 2 == 0:
            twin.update(probe, time.time())
        else:
            twin.update(handles[sent % PROPERTIES], float(sent))
        sent += per_step
    return sent


async def run(count: int, rate: float, seconds: float) -> None:
    twin = Twin()
    twin.create(model.Submodel(SUBMODEL, id_short="Signals", submodel_element=[
        *(model.Property(f"P{i}", model.datatypes.Double, 0.0) for i in range(PROPERTIES)),
        model.Property("Probe", model.datatypes.Double, 0.0)]))
    app = create_app(twin, extra_routers=[events_router(SseConfig(capacity=10_000, send_timeout_s=2.0))])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-clients", str(port), str(count), str(seconds),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    assert (await process.stdout.readline()).strip() == b"connected"
    stats = event_stats(app.state)
    while stats.sse_clients < count:
        await asyncio.sleep(0.01)
    await produce(twin, rate, 1.0)  # warm-up, not measured
    cpu = time.process_time()
    sent_one = await produce(twin, rate, seconds)
    cpu_one = time.process_time() - cpu
    process.stdin.write(b"next\n")
    assert (await process.stdout.readline()).strip() == b"phase"
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", port))
    stalled.sendall(f"GET /api/v3.0/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    cpu = time.process_time()
    sent_two = await produce(twin, rate, seconds)
    cpu_two = time.process_time() - cpu
    sent = sent_one + sent_two
    process.stdin.write(b"done\n")
    result = json.loads(await process.stdout.readline())
    stalled.close()
    await process.wait()
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    first, second = result["latencies"]["0"], result["latencies"]["1"]
    print(f"SSE: {count} clients, {rate:,.0f} value events/s for {seconds:.0f} s per phase "
          f"({sent:,} events, {result['bytes'] / 1e6:,.0f} MB streamed)")
    for name, (p50, p99, arrivals), used, made in (("all clients reading", first, cpu_one, sent_one),
                                                   ("plus one stalled client", second, cpu_two, sent_two)):
        # on a loaded machine the producer falls short of --rate: the CPU per event says what the
        # target rate costs (change -> every client) independently of the machine's other load
        print(f"  {name}: change -> client p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
              f"({arrivals:,} probe arrivals); {made / seconds:,.0f} events/s produced; server CPU "
              f"{used / seconds:.2f} s per s, {used / made * 1e6:.0f} µs per event to {count} clients "
              f"(at {rate:,.0f}/s: {used / made * rate:.2f} CPU-s per s)")
    print(f"  stalled clients dropped: {stats.clients_dropped}; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--serve-clients", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_clients:
        port, count, seconds = args.serve_clients
        asyncio.run(clients(int(port), int(count), float(seconds)))
        return
    asyncio.run(run(args.clients, args.rate, args.seconds))


if __name__ == "__main__":
    main()
