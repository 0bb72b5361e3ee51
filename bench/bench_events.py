"""MQTT event publishing: value events from ``Twin.update`` to our own Mosquitto, as CloudEvents.

Measured in the same run against the same broker (QoS 0, async-aas layout, 100 Properties):
- baseline: aiomqtt publishing N pre-encoded CloudEvents of the same size (the transport's ceiling);
- twinbridge: N ``Twin.update`` calls; the MqttEventPublisher encodes and publishes each event
  (its queue holds all N, so nothing is dropped); the rate is N / (first update → last publish).
- ingest cost: the same N updates with the publisher subscribed vs without a subscriber.
Target (issue 12): ≥ 50,000 value events/s published on one core.

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
import orjson
from basyx.aas import model
from bench_mqtt import mosquitto  # the script's folder is on sys.path

from twinbridge.aas.events import ValueChanged
from twinbridge.aas.twin import Twin
from twinbridge.server.events.model import EventIds, value_event
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
    ids = EventIds()
    payloads = [orjson.dumps(value_event(change).encode(ids.next(), BASE)) for _ in range(events)]
    async with aiomqtt.Client("127.0.0.1", port) as client:
        started = time.perf_counter()
        for payload in payloads:
            await client.publish("noauth", payload, qos=0)
        return events / (time.perf_counter() - started)


async def twinbridge(port: int, events: int) -> tuple[float, float]:
    """(events/s published, seconds spent in the update loop)."""
    twin = bench_twin()
    handles = [twin.live(SUBMODEL, f"P{i}") for i in range(PROPERTIES)]
    stats = EventStats()
    publisher = MqttEventPublisher(twin, MqttEvents(url=f"mqtt://127.0.0.1:{port}", capacity=events + 10), BASE, stats)
    await publisher.start()
    while not publisher.connected:
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    for i in range(events):
        twin.update(handles[i % PROPERTIES], float(i))
    ingest = time.perf_counter() - started
    while stats.published.get("mqtt", 0) + stats.total_dropped("mqtt") < events:
        await asyncio.sleep(0.001)
    rate = events / (time.perf_counter() - started)
    assert stats.total_dropped("mqtt") == 0
    await publisher.stop()
    return rate, ingest


def ingest_alone(events: int) -> float:
    twin = bench_twin()
    handles = [twin.live(SUBMODEL, f"P{i}") for i in range(PROPERTIES)]
    started = time.perf_counter()
    for i in range(events):
        twin.update(handles[i % PROPERTIES], float(i))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as port:
        base_rates, rates, ingests, alone = [], [], [], []
        for _ in range(args.runs):
            base_rates.append(asyncio.run(baseline(port, args.events)))
            rate, ingest = asyncio.run(twinbridge(port, args.events))
            rates.append(rate)
            ingests.append(ingest)
            alone.append(ingest_alone(args.events))
    base, ours = statistics.median(base_rates), statistics.median(rates)
    print(f"events: {args.events} value events, {args.runs} runs (medians), QoS 0, async-aas layout")
    print(f"  baseline aiomqtt publish of pre-encoded CloudEvents: {base:,.0f} msg/s")
    print(f"  twinbridge Twin.update -> CloudEvent -> Mosquitto:   {ours:,.0f} events/s  "
          f"(ratio {ours / base:.2f} of baseline)")
    with_sub, without = statistics.median(ingests), statistics.median(alone)
    print(f"  ingest: {args.events / with_sub:,.0f} updates/s with the publisher subscribed, "
          f"{args.events / without:,.0f} without (ratio {without / with_sub:.2f})")
    print(f"  peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
