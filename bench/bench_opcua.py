"""OPC UA mirror benchmark: memory per property, start-up on plants, bus → monitored item rate and latency.

Run: ``.venv/bin/python bench/bench_opcua.py [--machines 1000] [--small-machines 88] [--runs 3]``

1. Memory: bytes per property that the OPC UA mirror adds to a twin of the plant from
   ``bench_plant`` (``--small-machines`` machines, ~10,000 properties), counted with tracemalloc
   around the build of the mirror into a started asyncua server (median of ``--runs``).
2. Start-up: the whole ``OpcUaServer.start`` and the address-space build alone on that plant and
   on ``--machines`` machines (1,000: 6,111 shells, 113,308 properties); baseline: asyncua's
   per-node ``add_variable`` (10,000 variables in a balanced tree, 3,000 siblings under one
   parent), measured in the same run.
3. Update: a client in a separate process monitors 1,000 values; the twin publishes changes on
   its bus as fast as the mirror applies them; baseline: raw ``Server.write_attribute_value``
   on nodes of a bare asyncua server with the same number of monitored items, same run.
4. Latency: 5,000 changes/s paced for a few seconds; the client computes change → notification
   delay from the value itself (the production time, same clock).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from asyncua import Server, ua
from basyx.aas import model
from basyx.aas.model import datatypes as xs
from bench_plant import _count_properties, description

from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua import OpcUaServer, OpcUaSettings
from twinbridge.server.opcua.builder import EnvironmentBuilder, StoredNodes
from twinbridge.server.opcua.element_nodes import ElementNodes
from twinbridge.server.opcua.ids import element_node_id
from twinbridge.server.opcua.nodes import NodeKit, child_id
from twinbridge.server.opcua.plant_view import PlantView
from twinbridge.server.opcua.types import NAMESPACE, define_types
from twinbridge.submodels.builder import build_environment
from twinbridge.submodels.description import PlantDescription
from twinbridge.submodels.hierarchy import PlantHierarchy

MONITORED = 1000


def plant_twin(machines: int) -> tuple[Twin, int, int]:
    """The bench_plant plant as a twin: (twin, shells, properties)."""
    plant = build_environment(PlantDescription.model_validate(description(machines, 5)))
    twin = Twin()
    plant.load_into(twin)
    return twin, len(plant.shells), _count_properties(plant.submodels)


def flat_twin(submodels: int, properties: int) -> Twin:
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


def _settings() -> OpcUaSettings:
    return OpcUaSettings(host="127.0.0.1", port=0, allow_none_security=True)


async def _traced_build(twin: Twin) -> int:
    """Bytes still allocated after building the mirror of ``twin`` into a started asyncua server.

    Everything ``OpcUaServer.start`` allocates per shell, submodel and element is made here
    (stored nodes, the Plant view); asyncua's own start is left out of the trace (it is the
    same for any twin and tracemalloc makes it minutes long on a loaded machine).
    """
    server = Server()
    await server.init()
    ns = await server.register_namespace(NAMESPACE)
    types = await define_types(server, ns)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kit = NodeKit(ns)
    stored = StoredNodes(server.iserver.aspace, kit)
    elements = ElementNodes(twin, kit, types, lambda shell, identifier: None, lambda handle: None)
    builder = EnvironmentBuilder(stored, types, twin, elements)
    builder.build_all()
    PlantView(stored, twin, None).rebuild()
    gc.collect()
    allocated = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del builder
    return allocated


async def memory_per_property(machines: int, runs: int) -> tuple[float, int]:
    twin, _shells, properties = plant_twin(machines)
    samples = [await _traced_build(twin) / properties for _ in range(runs)]
    return statistics.median(samples), properties


async def startup(machines: int) -> dict[str, float]:
    """As the application does: the plant loaded and frozen, its hierarchy given to the server."""
    twin, shells, properties = plant_twin(machines)
    hierarchy = PlantHierarchy.from_twin(twin)
    gc.freeze()
    server = OpcUaServer(twin, _settings(), tempfile.mkdtemp(), hierarchy=hierarchy)
    started = time.perf_counter()
    await server.start()
    total = time.perf_counter() - started
    assert server._builder is not None
    rebuilt = time.perf_counter()
    server._builder.build_all()  # the build alone, again, on the running server's address space
    build = time.perf_counter() - rebuilt
    await server.stop()
    return {"shells": shells, "properties": properties, "start_s": total, "build_s": build}


async def read_rates(count: int) -> tuple[float, float]:
    """(computed, stored) Value reads/s through the attribute service, same loop, same count.

    Computed: a Property Value of the mirror (resolved from its NodeId, read from the twin);
    stored: an asyncua variable of a bare server (a dict lookup and the stored DataValue).
    """
    twin = flat_twin(10, 100)
    server = OpcUaServer(twin, _settings(), tempfile.mkdtemp())
    await server.start()
    assert server.server is not None
    ns = server.namespace_index
    ids = [child_id(element_node_id(ns, f"urn:bench:sm:{index % 10}", f"P{index % 100}"), "Value")
           for index in range(count)]
    service = server.server.iserver.attribute_service
    begin = time.perf_counter()
    for identifier in ids:
        service.read(ua.ReadParameters(NodesToRead=[ua.ReadValueId(identifier, ua.AttributeIds.Value)]))
    computed = count / (time.perf_counter() - begin)
    await server.stop()
    bare = Server()
    await bare.init()
    bare_ns = await bare.register_namespace(NAMESPACE)
    folder = await bare.nodes.objects.add_object(bare_ns, "Raw")
    variables = [(await folder.add_variable(bare_ns, f"V{index}", 0.0)).nodeid for index in range(100)]
    bare_service = bare.iserver.attribute_service
    begin = time.perf_counter()
    for index in range(count):
        bare_service.read(ua.ReadParameters(NodesToRead=[ua.ReadValueId(variables[index % 100],
                                                                        ua.AttributeIds.Value)]))
    return computed, count / (time.perf_counter() - begin)


async def build_per_node(parents: int, children: int) -> float:
    """Seconds for asyncua's add_object/add_variable to build parents x children variables."""
    server = Server()
    await server.init()
    ns = await server.register_namespace(NAMESPACE)
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


async def _client(url: str, node_ids: list[str]) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, url, json.dumps(node_ids),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    assert (await process.stdout.readline()).strip() == b"ready"
    return process


async def _report(process: asyncio.subprocess.Process, window: list[float]) -> dict[str, float]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write((json.dumps(window) + "\n").encode())
    await process.stdin.drain()
    report: dict[str, float] = json.loads((await process.stdout.readline()).decode())
    await process.wait()
    return report


async def raw_rate(rounds: int) -> float:
    """Baseline: write_attribute_value on 1,000 monitored variables of a bare asyncua server."""
    server = Server()
    await server.init()
    server.set_endpoint("opc.tcp://127.0.0.1:0/bench")
    ns = await server.register_namespace(NAMESPACE)
    folder = await server.nodes.objects.add_object(ns, "Raw")
    nodes = [await folder.add_variable(ns, f"V{index}", 0.0) for index in range(MONITORED)]
    async with server:
        port = server.bserver.port if server.bserver is not None else 0
        process = await _client(f"opc.tcp://127.0.0.1:{port}/bench", [node.nodeid.to_string() for node in nodes])
        begin = time.perf_counter()
        for round_index in range(rounds):
            for node in nodes:
                await server.write_attribute_value(
                    node.nodeid, ua.DataValue(ua.Variant(float(round_index), ua.VariantType.Double)))
            await asyncio.sleep(0)
        rate = rounds * MONITORED / (time.perf_counter() - begin)
        await _report(process, [0.0, 0.0])
    return rate


async def updates(submodels: int, properties: int, rounds: int, paced_seconds: float) -> dict[str, float]:
    twin = flat_twin(submodels, properties)
    server = OpcUaServer(twin, _settings(), tempfile.mkdtemp())
    await server.start()
    stride = max(1, submodels * properties // MONITORED)
    targets = [(f"urn:bench:sm:{(index * stride) // properties}", f"P{(index * stride) % properties}")
               for index in range(MONITORED)]
    handles: list[LiveElement] = [twin.live(submodel_id, path) for submodel_id, path in targets]
    ns = server.namespace_index
    node_ids = [child_id(element_node_id(ns, sm, path), "Value").to_string() for sm, path in targets]
    process = await _client(server.endpoint_url, node_ids)
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
    report = await _report(process, window)
    await server.stop()
    return {
        "mirror_rate": mirror_rate,
        "paced_rate": cursor / paced_seconds,
        "notified": report["count"],
        "p50_ms": 1000 * report["p50"],
        "p99_ms": 1000 * report["p99"],
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--machines", type=int, default=1000, help="the large plant (1,000: 113,308 properties)")
    parser.add_argument("--small-machines", type=int, default=88, help="the small plant (88: ~10,000 properties)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--paced-seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared)")

    per_property, properties = await memory_per_property(args.small_machines, args.runs)
    print(f"memory: OPC UA adds {per_property:,.0f} bytes/property to the plant of {args.small_machines} machines "
          f"({properties:,} properties; tracemalloc, median of {args.runs})")
    for machines in (args.small_machines, args.machines):
        result = await startup(machines)
        print(f"start-up, plant of {machines:,} machines ({result['shells']:,.0f} shells, "
              f"{result['properties']:,.0f} properties): OpcUaServer.start {result['start_s']:.2f} s, "
              f"address-space build alone {result['build_s']:.2f} s")
    per_node = await build_per_node(100, 100)
    print(f"baseline add_variable, 100 x 100 tree: 10,000 variables in {per_node:.2f} s "
          f"= {10_000 / per_node:,.0f} variables/s (extrapolated {113_308 * 4 / (10_000 / per_node):.0f} s for "
          f"the 113,308-property plant at 4 nodes per property)")
    siblings = await build_per_node(1, 3000)
    print(f"baseline add_variable, 3,000 siblings under one parent: {siblings:.2f} s "
          f"= {3000 / siblings:,.0f} variables/s")

    computed, stored = await read_rates(20_000)
    print(f"read: {computed:,.0f} computed Property Value reads/s through the attribute service; a stored "
          f"asyncua variable of a bare server: {stored:,.0f} reads/s; ratio {computed / stored:.2f}")

    baseline = await raw_rate(args.rounds)
    result = await updates(1000, 100, args.rounds, args.paced_seconds)
    print(f"update: bus -> {MONITORED} monitored items (100,000-property twin): {result['mirror_rate']:,.0f} "
          f"changes/s; raw write_attribute_value on a bare asyncua server, same items: {baseline:,.0f} writes/s; "
          f"ratio {result['mirror_rate'] / baseline:.2f}")
    print(f"latency at {result['paced_rate']:,.0f} changes/s: {result['notified']:,} notifications, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
