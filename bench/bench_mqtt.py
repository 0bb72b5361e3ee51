"""MQTT ingest into the twin, against our own Mosquitto on a free port.

1. Throughput: a publisher process floods N JSON messages (``{"value": x, "ts": <epoch µs>}``
   on 100 topics, QoS 0; the flood is ``mqtt_flood``'s). Measured in the same run against the same broker:
   - baseline: a raw paho subscriber that only decodes each payload (orjson.loads);
   - twinbridge: MqttAdapter with 100 JSON bindings ($.value, $.ts) into 100 Properties.
   Target: ≥ 25,000 msg/s into the twin; the ratio to the baseline is printed.
2. Latency publish → element updated, the publisher pacing 5,000 msg/s: the payload carries
   its send time, the element's source timestamp is that time, the bench reads the clock right
   after the adapter's update. Target: p99 ≤ 20 ms.

    .venv/bin/python bench/bench_mqtt.py [--messages 100000] [--runs 3] [--rate 5000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mqtt_flood import SUBMODEL, TOPICS, Rate, bench_twin, mosquitto, paho_baseline, start_publisher, twin_ingest

from twinbridge.adapters.mqtt.adapter import MqttAdapter
from twinbridge.adapters.mqtt.config import MqttSource


class TimedAdapter(MqttAdapter):
    """Reads the clock right after each update: the element's source timestamp is the send time."""

    latencies: list[float]
    handles: dict[str, object]

    def handle_message(self, topic: str, payload: bytes) -> None:
        super().handle_message(topic, payload)
        handle = self.handles.get(topic)
        if handle is not None:
            self.latencies.append(time.time() - handle.timestamp)  # type: ignore[attr-defined]


async def twin_latency(port: int, rate: float, seconds: float) -> list[float]:
    twin, bindings = bench_twin()
    adapter = TimedAdapter(MqttSource(name="broker", url=f"mqtt://127.0.0.1:{port}"), bindings, twin)
    adapter.latencies = []
    adapter.handles = {f"bench/m{i}/telemetry": twin.live(SUBMODEL, f"m{i}") for i in range(TOPICS)}
    await adapter.start()
    await adapter.wait_connected()
    publisher = start_publisher(port, int(rate * seconds), rate)
    while publisher.poll() is None:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    await adapter.stop()
    warm = int(rate * 0.5)  # drop the first half second (connection warm-up)
    return adapter.latencies[warm:]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as port:
        baseline: list[Rate] = []
        ours: list[Rate] = []
        p50s: list[float] = []
        p99s: list[float] = []
        for run in range(args.runs):
            baseline.append(paho_baseline(port, args.messages))
            ours.append(asyncio.run(twin_ingest(port, args.messages)))
            latencies = asyncio.run(twin_latency(port, args.rate, args.seconds))
            p50s.append(percentile(latencies, 0.5) * 1000)
            p99s.append(percentile(latencies, 0.99) * 1000)
            print(f"run {run + 1}: paho baseline {baseline[-1].wall:,.0f} msg/s ({baseline[-1].cpu:,.0f} per CPU-s), "
                  f"twinbridge {ours[-1].wall:,.0f} msg/s ({ours[-1].cpu:,.0f} per CPU-s); "
                  f"latency at {args.rate:,.0f} msg/s: p50 {p50s[-1]:.2f} ms, p99 {p99s[-1]:.2f} ms "
                  f"({len(latencies)} samples)")
    median = statistics.median
    for label, pick in (("wall clock", lambda rate: rate.wall), ("per CPU-second", lambda rate: rate.cpu)):
        paho_rate, our_rate = median(pick(r) for r in baseline), median(pick(r) for r in ours)
        print(f"median of {args.runs}, {label}: paho baseline {paho_rate:,.0f} msg/s; twinbridge ingest "
              f"{our_rate:,.0f} msg/s (target >= 25,000), ratio {our_rate / paho_rate:.2f}")
    print(f"median of {args.runs}: latency publish -> element at {args.rate:,.0f} msg/s: p50 {median(p50s):.2f} ms, "
          f"p99 {median(p99s):.2f} ms (target p99 <= 20 ms)")
    print(f"peak RSS of the bench process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
