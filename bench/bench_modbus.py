"""Modbus ingest benchmark: register points per second from pymodbus device servers on loopback.

The device servers run in their own processes (as real devices would not share our CPU
budget... on a 2-core machine they still do, which makes these figures conservative). Every
read bumps the registers it returns, so every point changes every cycle and each one takes
the full path: decode → convert → ``Twin.update`` → change bus.

Phases, all in one run:
1. baseline: bare pymodbus clients reading the same coalesced requests back to back, no decoding;
2. target: ``--points`` uint16 points polled every ``--interval-ms`` — reports points/s, cycle p50/p99
   and overruns (the goal: 10,000 points per 100 ms without overruns);
3. ceiling: the same points polled as fast as possible (10 ms interval: cycles run back to back).

Each phase also reports the client process's CPU time per point (decode, convert, update, bus and
pymodbus' own work), which depends far less on a loaded machine than the wall-clock figures.

    .venv/bin/python bench/bench_modbus.py [--points 10000] [--servers 4] [--interval-ms 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basyx.aas import model
from pymodbus.client import AsyncModbusTcpClient

from twinbridge.aas.twin import Twin
from twinbridge.adapters.config import Binding, ElementTarget
from twinbridge.adapters.modbus.adapter import ModbusAdapter
from twinbridge.adapters.modbus.config import ModbusPoint, ModbusPollGroup, ModbusSource


# ----------------------------------------------------------------------------- device servers
def serve(registers: int, conn: Any) -> None:
    """Child process: one pymodbus device whose holding registers tick on every read."""
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    logging.disable(logging.CRITICAL)  # pymodbus dumps frames at ERROR when a client goes away

    async def bump(function_code: int, start: int, address: int, count: int, current: list[int],
                   values: Any) -> None:
        if function_code == 3 and values is None:
            first = address - start
            for i in range(first, first + count):
                current[i] = (current[i] + 1) & 0xFFFF

    async def main() -> None:
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]
        regs = [SimData(0, count=registers, values=0, datatype=DataType.REGISTERS)]
        device = SimDevice(id=1, simdata=(bits, bits, regs, regs), action=bump)
        server = ModbusTcpServer([device], address=("127.0.0.1", 0))
        await server.serve_forever(background=True)
        conn.send(server.transport.sockets[0].getsockname()[1])  # type: ignore[union-attr,attr-defined]
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
        await server.shutdown()

    asyncio.run(main())


def start_servers(count: int, registers: int) -> list[tuple[Any, Any, int]]:
    context = multiprocessing.get_context("spawn")
    servers = []
    for _ in range(count):
        parent, child = context.Pipe()
        process = context.Process(target=serve, args=(registers, child), daemon=True)
        process.start()
        servers.append((process, parent, parent.recv()))
    return servers


def stop_servers(servers: list[tuple[Any, Any, int]]) -> None:
    for process, conn, _ in servers:
        conn.send("stop")
        process.join(5)


# ----------------------------------------------------------------------------- the twin side
def build(points: int, ports: list[int], interval_ms: int) -> tuple[Twin, list[ModbusAdapter]]:
    twin = Twin()
    per_source = points // len(ports)
    elements = [model.Property(f"p{i}", model.datatypes.Int) for i in range(per_source * len(ports))]
    submodel = model.Submodel("urn:bench:sm", id_short="Registers", submodel_element=elements)
    shell = model.AssetAdministrationShell(
        model.AssetInformation(global_asset_id="urn:bench:asset"), "urn:bench:shell", id_short="Bench",
        submodel={model.ModelReference.from_referable(submodel)},
    )
    twin.create(submodel)
    twin.create(shell)
    adapters = []
    for s, port in enumerate(ports):
        source = ModbusSource(name=f"device{s}", port=port, timeout_s=2.0,
                              poll_groups={"default": ModbusPollGroup(interval_ms=interval_ms)})
        bindings = [
            (f"bindings[{i}]", Binding(source=source.name, modbus=ModbusPoint(address=i - s * per_source),
                                       target=ElementTarget(shell="Bench", submodel="Registers", path=f"p{i}")))
            for i in range(s * per_source, (s + 1) * per_source)
        ]
        adapters.append(ModbusAdapter(source, bindings, twin))
    return twin, adapters


async def phase(points: int, ports: list[int], interval_ms: int, seconds: float) -> dict[str, Any]:
    _, adapters = build(points, ports, interval_ms)
    for adapter in adapters:
        await adapter.start()
    for adapter in adapters:
        await adapter.wait_connected(10)
    await asyncio.sleep(1.0)  # warm up
    groups = [a.stats.groups["default"] for a in adapters]
    cycles0 = [g.cycles for g in groups]
    overruns0 = [g.overruns for g in groups]
    for g in groups:
        g.recent_cycles_s.clear()
    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    cycles = [g.cycles - c for g, c in zip(groups, cycles0, strict=True)]
    overruns = sum(g.overruns - o for g, o in zip(groups, overruns0, strict=True))
    durations = sorted(d for g in groups for d in g.recent_cycles_s)
    per_source = points // len(ports)
    requests_per_cycle = adapters[0].stats.groups["default"].requests_per_cycle
    for adapter in adapters:
        await adapter.stop()
    return {
        "points_per_s": sum(cycles) * per_source / elapsed,
        "cpu_us_per_point": 1e6 * cpu / max(1, sum(cycles) * per_source),
        "cycles": sum(cycles),
        "overruns": overruns,
        "p50_ms": 1000 * statistics.median(durations) if durations else float("nan"),
        "p99_ms": 1000 * durations[int(0.99 * (len(durations) - 1))] if durations else float("nan"),
        "requests_per_cycle": requests_per_cycle,
    }


async def baseline(points: int, ports: list[int], seconds: float) -> float:
    """Registers/s read by bare clients (one per device) with the same 125-register requests."""
    per_source = points // len(ports)
    total = 0

    async def reader(port: int) -> None:
        nonlocal total
        client = AsyncModbusTcpClient("127.0.0.1", port=port, retries=0, reconnect_delay=0)
        await client.connect()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            for address in range(0, per_source, 125):
                count = min(125, per_source - address)
                response = await client.read_holding_registers(address, count=count, device_id=1)
                total += len(response.registers)
        client.close()

    started = time.perf_counter()
    await asyncio.gather(*(reader(port) for port in ports))
    return total / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # late replies under load dump whole frames
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    servers = start_servers(args.servers, args.points // args.servers + 16)
    ports = [port for _, _, port in servers]
    try:
        raw = await baseline(args.points, ports, args.seconds)
        target = await phase(args.points, ports, args.interval_ms, args.seconds)
        ceiling = await phase(args.points, ports, 10, args.seconds)
    finally:
        stop_servers(servers)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"modbus bench: {args.points} uint16 points on {args.servers} device servers (loopback, separate "
          f"processes), {target['requests_per_cycle']} coalesced requests per source per cycle")
    print(f"  baseline  bare pymodbus reads          {raw:12,.0f} registers/s")
    print(f"  target    every {args.interval_ms} ms               {target['points_per_s']:12,.0f} points/s  "
          f"cycle p50 {target['p50_ms']:.1f} ms p99 {target['p99_ms']:.1f} ms  overruns {target['overruns']} "
          f"in {target['cycles']} cycles  client CPU {target['cpu_us_per_point']:.2f} µs/point")
    print(f"  ceiling   back-to-back cycles          {ceiling['points_per_s']:12,.0f} points/s  "
          f"cycle p50 {ceiling['p50_ms']:.1f} ms p99 {ceiling['p99_ms']:.1f} ms  "
          f"client CPU {ceiling['cpu_us_per_point']:.2f} µs/point")
    print(f"  machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"  max RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--interval-ms", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args()))
