"""OPC UA mirror benchmark: address-space build, bus → node update rate, change → notification latency.

Run: ``.venv/bin/python bench/bench_opcua.py [--submodels 1000 --properties 100]``

1. Build: 1,000 submodels x 100 xs:double properties (100,000 properties, ~400,000 nodes) mirrored
   into the address space, against asyncua's per-node ``add_variable`` (measured on 10,000
   variables in a balanced tree, and on 3,000 siblings under one parent) in the same run.
2. Update: a client in a separate process monitors 1,000 values; the twin publishes changes on
   its bus as fast as the mirror applies them; baseline: raw ``Server.write_attribute_value``
   calls on the same nodes with the same monitored items.
3. Latency: 5,000 changes/s paced for a few seconds; the client computes change → notification
   delay from the value itself (the production time, same clock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asyncua import Server, ua
from basyx.aas import model
from basyx.aas.model import datatypes as xs

from twinbridge.aas.twin import Twin
from twinbridge.server.opcua import OpcUaServer, OpcUaSettings
from twinbridge.server.opcua.builder import EnvironmentBuilder, element_node_id
from twinbridge.server.opcua.nodes import NodeFactory, child_id
from twinbridge.server.opcua.types import NAMESPACE, define_types

MONITORED = 1000


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_twin(submodels: int, properties: int) -> Twin:
    twin = Twin()
    ids = [f"urn:bench:sm:{index}" for index in range(submodels)]
    for index, identifier in enumerate(ids):
        twin.create(model.Submodel(identifier, id_short=f"Machine{index}", submodel_element=[
            model.Property(f"P{number}", xs.Double, float(number)) for number in range(properties)]))
    twin.create(model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id="urn:bench:asset"), "urn:bench:aas",
        id_short="Plant",
        submodel={model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, sm),), model.Submodel) for sm in ids}))
    return twin


async def bare_server() -> tuple[Server, int]:
    server = Server()
    await server.init()
    return server, await server.register_namespace(NAMESPACE)


async def build_bulk(twin: Twin) -> tuple[float, int, float]:
    server, ns = await bare_server()
    types = await define_types(server, ns)
    before_nodes, before_rss = len(server.iserver.aspace.keys()), rss_mb()
    started = time.perf_counter()
    EnvironmentBuilder(NodeFactory(server.iserver.aspace, ns), types, twin).build_all()
    elapsed = time.perf_counter() - started
    return elapsed, len(server.iserver.aspace.keys()) - before_nodes, rss_mb() - before_rss


async def build_per_node(parents: int, children: int) -> float:
    """Seconds for asyncua's add_object/add_variable to build parents x children variables."""
    server, ns = await bare_server()
    started = time.perf_counter()
    for parent_index in range(parents):
        parent = await server.nodes.objects.add_object(ns, f"O{parent_index}")
        for child_index in range(children):
            await parent.add_variable(ns, f"V{child_index}", float(child_index))
    return time.perf_counter() - started


CLIENT = r"""
import asyncio, json, sys, time
from asyncua import Client, ua

class Handler:
    def __init__(self): self.latencies = []; self.count = 0
    def datachange_notification(self, node, value, data):
        self.count += 1
        if isinstance(value, float) and value > 1e9:
            self.latencies.append((value, time.time() - value))

async def main(url, ids):
    async with Client(url, timeout=30) as client:
        handler = Handler()
        sub = await client.create_subscription(10, handler)
        nodes = [client.get_node(ua.NodeId.from_string(i)) for i in ids]
        for start in range(0, len(nodes), 250):
            await sub.subscribe_data_change(nodes[start:start + 250], queuesize=1)
        print("ready", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        window = json.loads(line)
        await asyncio.sleep(0.5)
        inside = sorted(l for t, l in handler.latencies if window[0] <= t <= window[1])
        p50 = inside[len(inside) // 2] if inside else float("nan")
        p99 = inside[int(0.99 * (len(inside) - 1))] if inside else float("nan")
        print(json.dumps({"notifications": handler.count, "count": len(inside), "p50": p50, "p99": p99}),
              flush=True)

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
"""


async def updates(submodels: int, properties: int, rounds: int, paced_seconds: float) -> dict[str, float]:
    twin = make_twin(submodels, properties)
    settings = OpcUaSettings(host="127.0.0.1", port=0, allow_none_security=True)
    server = OpcUaServer(twin, settings, tempfile.mkdtemp())
    started = time.perf_counter()
    await server.start()
    startup = time.perf_counter() - started
    stride = max(1, submodels * properties // MONITORED)
    targets = [(f"urn:bench:sm:{(index * stride) // properties}", f"P{(index * stride) % properties}")
               for index in range(MONITORED)]
    handles = [twin.live(submodel_id, path) for submodel_id, path in targets]
    ns = server.namespace_index
    node_ids = [child_id(element_node_id(ns, sm, path), "Value").to_string() for sm, path in targets]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, server.endpoint_url, json.dumps(node_ids),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None and process.stdin is not None
    assert (await process.stdout.readline()).strip() == b"ready"
    mirror = server.mirror

    async def drained(target: int) -> None:
        while mirror.applied < target:
            await asyncio.sleep(0)

    # mirror throughput: publish one change per monitored value, wait until applied, repeat
    begin, applied = time.perf_counter(), mirror.applied
    for round_index in range(rounds):
        for handle in handles:
            twin.update(handle, float(round_index))
        await drained(applied + (round_index + 1) * MONITORED)
    mirror_rate = rounds * MONITORED / (time.perf_counter() - begin)

    # baseline: the same number of raw write_attribute_value calls on the same monitored nodes
    assert server.server is not None
    raw_ids = [ua.NodeId.from_string(node_id) for node_id in node_ids]
    begin = time.perf_counter()
    for round_index in range(rounds):
        for node_id in raw_ids:
            await server.server.write_attribute_value(
                node_id, ua.DataValue(ua.Variant(float(round_index), ua.VariantType.Double)))
        await asyncio.sleep(0)
    raw_rate = rounds * MONITORED / (time.perf_counter() - begin)

    # latency at 5,000 changes/s: 50 changes every 10 ms, value = production time
    await asyncio.sleep(0.5)
    window_start = time.time()
    tick, per_tick, cursor = 0.01, 50, 0
    next_tick = time.perf_counter()
    end = next_tick + paced_seconds
    while time.perf_counter() < end:
        for _ in range(per_tick):
            twin.update(handles[cursor % MONITORED], time.time())
            cursor += 1
        next_tick += tick
        await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
    window = [window_start, time.time()]
    await asyncio.sleep(0.3)
    process.stdin.write((json.dumps(window) + "\n").encode())
    await process.stdin.drain()
    report = json.loads((await process.stdout.readline()).decode())
    await process.wait()
    await server.stop()
    return {
        "startup_s": startup,
        "mirror_rate": mirror_rate,
        "raw_rate": raw_rate,
        "paced_rate": cursor / paced_seconds,
        "notified": report["count"],
        "p50_ms": 1000 * report["p50"],
        "p99_ms": 1000 * report["p99"],
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submodels", type=int, default=1000)
    parser.add_argument("--properties", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--paced-seconds", type=float, default=5.0)
    args = parser.parse_args()
    total = args.submodels * args.properties
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared)")

    twin = make_twin(args.submodels, args.properties)
    elapsed, nodes, memory = await build_bulk(twin)
    print(f"build (bulk): {total:,} properties, {nodes:,} nodes in {elapsed:.2f} s "
          f"= {total / elapsed:,.0f} properties/s, {nodes / elapsed:,.0f} nodes/s, +{memory:,.0f} MB RSS")
    per_node = await build_per_node(100, 100)
    print(f"baseline add_variable, 100 x 100 tree: 10,000 variables in {per_node:.2f} s "
          f"= {10_000 / per_node:,.0f} variables/s (extrapolated {total / (10_000 / per_node):.1f} s for "
          f"{total:,}); bulk is {(total / elapsed) / (10_000 / per_node):.1f}x faster")
    siblings = await build_per_node(1, 3000)
    print(f"baseline add_variable, 3,000 siblings under one parent: {siblings:.2f} s "
          f"= {3000 / siblings:,.0f} variables/s")
    del twin

    result = await updates(args.submodels, args.properties, args.rounds, args.paced_seconds)
    print(f"OpcUaServer.start with {total:,} properties: {result['startup_s']:.2f} s")
    print(f"update: bus -> address space with {MONITORED} monitored items: {result['mirror_rate']:,.0f} changes/s; "
          f"raw write_attribute_value: {result['raw_rate']:,.0f} writes/s; "
          f"ratio {result['mirror_rate'] / result['raw_rate']:.2f}")
    print(f"latency at {result['paced_rate']:,.0f} changes/s: {result['notified']:,} notifications, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
