"""Edge to central over a real Mosquitto with the link cut for a while under load.

An edge twin writes a counter at ``rate`` values/s for ``before + cut + after`` seconds; the
broker is stopped for ``cut`` seconds in the middle and started again on its port. Prints how
many values reached the central, whether they arrived once each and in order, how long the
central took to catch up after the link returned, the outbox's peak and the process's CPU per
change (edge and central share this process). Baseline in the same run: the same writes with
the link up throughout (``cut`` = 0).

Usage: python bench/bench_edge.py [rate] [cut_s] [before_s] [after_s]   (defaults 500 60 5 10)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from basyx.aas import model

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test suite's Mosquitto peer
from tests.adapters.mqtt_fixtures import SUBMODEL_ID, Mosquitto, machine_twin
from twinbridge.aas.bus import DeliveryMode
from twinbridge.aas.twin import Twin
from twinbridge.server.edge.forwarder import EdgeForwarder
from twinbridge.server.edge.receiver import EdgeReceiver
from twinbridge.server.edge.settings import EdgeSettings


async def scenario(directory: Path, rate: int, cut_s: float, before_s: float, after_s: float) -> None:
    broker = Mosquitto(directory)
    broker.start()
    edge, central = machine_twin(), Twin()
    receiver = EdgeReceiver(central, EdgeSettings(role="central", url=broker.url))
    forwarder = EdgeForwarder(edge, EdgeSettings(role="edge", url=broker.url, edge_id="bench"), directory / "edge")
    seen: list[int] = []
    subscription = central.bus.subscribe(mode=DeliveryMode.EVERY, capacity=10_000_000)

    async def collect() -> None:
        async for batch in subscription:
            seen.extend(int(e.value) for e in batch.values if e.element.path == "Count")  # type: ignore[arg-type]

    collector = asyncio.create_task(collect())
    await receiver.start()
    await forwarder.start()
    while SUBMODEL_ID not in central.submodels:
        await asyncio.sleep(0.05)
    count = edge.live(SUBMODEL_ID, "Count")
    total = int(rate * (before_s + cut_s + after_s))
    peak = 0
    cpu, started = time.process_time(), time.monotonic()
    restored_at = None
    for number in range(1, total + 1):
        edge.update(count, model.datatypes.Long(number))
        elapsed = number / rate
        if cut_s and number == int(rate * before_s):
            broker.stop()
        if cut_s and number == int(rate * (before_s + cut_s)):
            broker.start()
            restored_at = time.monotonic()
        if number % 100 == 0:
            peak = max(peak, forwarder.outbox.pending())
            await asyncio.sleep(max(0.0, started + elapsed - time.monotonic()))
    await asyncio.wait_for(forwarder.delivered(), 600)
    while len(seen) < total and time.monotonic() - started < 900:
        await asyncio.sleep(0.05)
    done = time.monotonic()
    cpu_us = (time.process_time() - cpu) / total * 1e6
    ok = seen == list(range(1, total + 1))
    catch_up = f"{done - restored_at:.1f} s after the link returned" if restored_at else "link never cut"
    print(f"cut {cut_s:>4.0f} s, {rate} values/s, {total:,} values: {len(seen):,} at the central, "
          f"{'all once and in order' if ok else 'LOST, DUPLICATED OR REORDERED'}; "
          f"done {catch_up}; outbox peak {peak:,}; sent {forwarder.sent:,} (resent {forwarder.resent:,}, "
          f"central skipped {receiver.duplicates:,} duplicates, {receiver.out_of_order:,} out of order); "
          f"CPU {cpu_us:.0f} µs/value (edge + central)")
    await forwarder.stop()
    await receiver.stop()
    subscription.close()
    collector.cancel()
    edge.close()
    central.close()
    broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rate", type=int, nargs="?", default=500)
    parser.add_argument("cut_s", type=float, nargs="?", default=60.0)
    parser.add_argument("before_s", type=float, nargs="?", default=5.0)
    parser.add_argument("after_s", type=float, nargs="?", default=10.0)
    args = parser.parse_args()
    for cut in (0.0, args.cut_s):  # baseline first: the same writes with the link up throughout
        with tempfile.TemporaryDirectory(prefix="bench-edge-") as directory:
            asyncio.run(scenario(Path(directory), args.rate, cut, args.before_s, args.after_s))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
