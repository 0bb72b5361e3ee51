"""MQTT event publishing: value events from ``Twin.update`` to our own Mosquitto, as CloudEvents.

Measured in the same run against the same broker (QoS 0, async-aas layout, 100 Properties):
1. publishing: N ``Twin.update`` calls; the hub logs them, the MqttEventPublisher encodes and
   publishes each (its log holds all N, so nothing is dropped). Rate = N / (first update → last
   publish), in wall-clock time and per CPU-second of this process (one thread: one core; the
   broker runs in its own process). Baseline: aiomqtt publishing N pre-encoded CloudEvents.
2. MQTT ingest with events on: mqtt_flood's flood (N JSON messages on 100 topics) into the
   MqttAdapter (``mqtt_flood.flood_rate``) while the same twin's hub and publisher send every
   resulting value event back to the broker (the clock stops when the last one is published),
   against mqtt_flood's raw paho subscriber (decode only) and its ingest without events,
   in the same run.
Targets (issue 12): ≥ 50,000 value events/s published on one core; ingest ≥ 0.7× raw paho.

    .venv/bin/python bench/bench_events.py [--events 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
from pathlib import Path

import aiomqtt
import mqtt_flood  # the script's folder is on sys.path
from basyx.aas import model
from mqtt_flood import Rate, mosquitto

from twinbridge.aas.events import ValueChanged
from twinbridge.aas.twin import Twin
from twinbridge.server.events.hub import EventHub
from twinbridge.server.events.model import value_event
from twinbridge.server.events.mqtt import MqttEventPublisher
from twinbridge.server.events.settings import MqttEvents
from twinbridge.server.events.stats import EventStats

SUBMODEL = "urn:bench:sm:events"
PROPERTIES = 100
BASE = "http://twin.example/api/v3.0"


def bench_twin() -> Twin:
    twin = Twin()
    twin.create(model.Submodel(SUBMODEL, id_short="Signals", submodel_element=[
        model.Property(f"P{i}", model.datatypes.Double, 0.0) for i in range(PROPERTIES)]))
    return twin


async def baseline(port: int, events: int) -> float:
    twin = bench_twin()
    handle = twin.live(SUBMODEL, "P0")
    change = ValueChanged(handle, 1.5, time.time(), handle.quality)
    payloads = [value_event(change).json(f"boot-{i}", BASE) for i in range(events)]
    async with aiomqtt.Client("127.0.0.1", port) as client:
        started = time.perf_counter()
        for payload in payloads:
            await client.publish("noauth", payload, qos=0)
        return events / (time.perf_counter() - started)


async def twinbridge(port: int, events: int) -> tuple[float, float]:
    """(events/s published in wall-clock time, events per CPU-second of this process)."""
    twin = bench_twin()
    handles = [twin.live(SUBMODEL, f"P{i}") for i in range(PROPERTIES)]
    stats = EventStats()
    hub = EventHub(twin, BASE, stats, events + 10)
    await hub.start()
    publisher = MqttEventPublisher(twin, MqttEvents(url=f"mqtt://127.0.0.1:{port}", capacity=events + 10), hub, stats)
    await publisher.start()
    while not publisher.connected:
        await asyncio.sleep(0.01)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(events):
        twin.update(handles[i % PROPERTIES], float(i))
        if i % 1000 == 999:
            await asyncio.sleep(0)  # a device source yields to the loop between reads
    while stats.published.get("mqtt", 0) + stats.total_dropped("mqtt") < events:
        await asyncio.sleep(0.001)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert stats.total_dropped("mqtt") == 0
    await publisher.stop()
    await hub.stop()
    return events / elapsed, events / cpu


async def ingest_with_events(port: int, messages: int) -> Rate:
    """mqtt_flood's flood (``flood_rate``) with the event hub and the MQTT publisher on the same
    twin; the clock runs until every value event of the flood is published, not only ingested."""
    twin, bindings = mqtt_flood.bench_twin()
    stats = EventStats()
    hub = EventHub(twin, BASE, stats, messages + 10)
    await hub.start()
    publisher = MqttEventPublisher(twin, MqttEvents(url=f"mqtt://127.0.0.1:{port}", topic="events",
                                                    capacity=messages + 10), hub, stats)
    await publisher.start()
    while not publisher.connected:
        await asyncio.sleep(0.01)

    async def published() -> None:
        await twin.bus.drained()  # the hub holds every value of the flood
        while stats.published.get("mqtt", 0) + stats.total_dropped("mqtt") < hub.head:
            await asyncio.sleep(0.0005)

    try:
        return await mqtt_flood.flood_rate(port, messages, twin, bindings, twin.live(mqtt_flood.SUBMODEL, "End"),
                                           published)
    finally:
        await publisher.stop()
        await hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as port:
        base_rates, walls, cpus, paho, ours, alone = [], [], [], [], [], []
        for run in range(args.runs):
            base_rates.append(asyncio.run(baseline(port, args.events)))
            wall, cpu = asyncio.run(twinbridge(port, args.events))
            walls.append(wall)
            cpus.append(cpu)
            paho.append(mqtt_flood.paho_baseline(port, args.events))
            ours.append(asyncio.run(ingest_with_events(port, args.events)))
            alone.append(asyncio.run(mqtt_flood.twin_ingest(port, args.events)))
            print(f"run {run + 1}: aiomqtt {base_rates[-1]:,.0f} msg/s; published {wall:,.0f} events/s wall, "
                  f"{cpu:,.0f} per CPU-s; ingest with events {ours[-1].wall:,.0f} msg/s ({ours[-1].cpu:,.0f} per "
                  f"CPU-s), without events {alone[-1].wall:,.0f} ({alone[-1].cpu:,.0f} per CPU-s), "
                  f"raw paho {paho[-1].wall:,.0f} ({paho[-1].cpu:,.0f} per CPU-s)", flush=True)
    median = statistics.median
    base = median(base_rates)
    print(f"events: {args.events} value events, {args.runs} runs (medians), QoS 0, async-aas layout")
    print(f"  baseline aiomqtt publish of pre-encoded CloudEvents: {base:,.0f} msg/s")
    print(f"  twinbridge Twin.update -> hub -> CloudEvent -> Mosquitto: {median(walls):,.0f} events/s wall, "
          f"{median(cpus):,.0f} per CPU-second (ratio {median(walls) / base:.2f} of the baseline)")
    wall_ratio = median(r.wall for r in ours) / median(r.wall for r in paho)
    cpu_ratio = median(r.cpu for r in ours) / median(r.cpu for r in paho)
    print(f"  MQTT ingest with every value published as an event: {median(r.wall for r in ours):,.0f} msg/s "
          f"({median(r.cpu for r in ours):,.0f} per CPU-s); raw paho {median(r.wall for r in paho):,.0f} "
          f"({median(r.cpu for r in paho):,.0f} per CPU-s): ratio {wall_ratio:.2f} wall, {cpu_ratio:.2f} per CPU-s")
    print(f"  MQTT ingest without events (mqtt_flood.twin_ingest): {median(r.wall for r in alone):,.0f} msg/s "
          f"({median(r.cpu for r in alone):,.0f} per CPU-s): ratio "
          f"{median(r.cpu for r in alone) / median(r.cpu for r in paho):.2f} per CPU-s")
    print(f"  peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
