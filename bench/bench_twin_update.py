"""Throughput of the hot path ``Twin.update`` with 0, 1 LATEST and 1 EVERY bus subscriber.

A 1,000-property submodel; each round writes ``--updates`` values round-robin over the handles
in chunks of 1,000 and yields to the loop after every chunk, where a consumer task takes what
its subscription holds (as the OPC UA mirror or a history writer would). The baseline, measured
in the same run, is a bare ``dict`` assignment loop doing the same number of stores: the ratio
says how many dict stores one twin update costs. Times are process CPU time (the machine is
shared: wall-clock figures swing 2x with other work, CPU time and the ratios much less).

    .venv/bin/python bench/bench_twin_update.py [--updates 200000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import time
import tracemalloc

from basyx.aas import model

from twinbridge.aas import bus as bus_module
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin

CHUNK = 1_000


def _twin(size: int) -> tuple[Twin, list[LiveElement]]:
    twin = Twin()
    twin.create(model.Submodel("urn:bench:sm", submodel_element=[
        model.Property(f"p{n}", model.datatypes.Double, value=0.0) for n in range(size)]))
    return twin, [twin.live("urn:bench:sm", f"p{n}") for n in range(size)]


async def _consume(subscription: bus_module.Subscription) -> None:
    async for _batch in subscription:
        pass


async def _updates_per_s(mode: str | None, updates: int, size: int) -> tuple[float, int]:
    twin, handles = _twin(size)
    consumer: asyncio.Task[None] | None = None
    if mode is not None:
        delivery = getattr(bus_module, "DeliveryMode", None)
        if delivery is None:
            subscription = twin.bus.subscribe()  # before issue 8: LATEST was the only mode
        else:
            subscription = twin.bus.subscribe(mode=delivery[mode], capacity=2 * CHUNK)  # type: ignore[call-arg]
        consumer = asyncio.create_task(_consume(subscription))
    update = twin.update
    values = [float(n) for n in range(CHUNK)]
    chunks = updates // CHUNK
    gc.collect()
    start = time.process_time()
    for chunk in range(chunks):
        base = (chunk * CHUNK) % size
        for i in range(CHUNK):
            update(handles[(base + i) % size], values[i])
        await asyncio.sleep(0)
    elapsed = time.process_time() - start
    dropped = 0
    if consumer is not None:
        await asyncio.sleep(0)
        dropped = getattr(subscription, "dropped", 0)
        subscription.close()
        await consumer
    return chunks * CHUNK / elapsed, dropped


def _dict_per_s(updates: int, size: int) -> float:
    store: dict[int, float] = {}
    values = [float(n) for n in range(CHUNK)]
    chunks = updates // CHUNK
    start = time.process_time()
    for chunk in range(chunks):
        base = (chunk * CHUNK) % size
        for i in range(CHUNK):
            store[(base + i) % size] = values[i]
    return chunks * CHUNK / (time.process_time() - start)


async def _memory_per_update_event(size: int) -> float:
    """Bytes allocated and kept per queued EVERY sample (the event object plus the deque slot)."""
    delivery = getattr(bus_module, "DeliveryMode", None)
    if delivery is None:
        return float("nan")
    twin, handles = _twin(size)
    subscription = twin.bus.subscribe(mode=delivery.EVERY, capacity=10 * size)  # type: ignore[call-arg]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(10 * size):
        twin.update(handles[n % size], float(n))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    subscription.close()
    return (after - before) / (10 * size)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    modes: list[str | None] = [None, "LATEST"]
    if getattr(bus_module, "DeliveryMode", None) is not None:
        modes.append("EVERY")
    figures: dict[str, list[float]] = {"dict": []}
    drops: dict[str, int] = {}
    for _ in range(args.runs):  # interleaved, so machine load hits every variant alike
        figures["dict"].append(_dict_per_s(args.updates, args.size))
        for mode in modes:
            rate, dropped = await _updates_per_s(mode, args.updates, args.size)
            figures.setdefault(str(mode), []).append(rate)
            drops[str(mode)] = dropped
    load = os.getloadavg()[0]
    bare = statistics.median(figures["dict"])
    print(f"Twin.update, {args.size}-property submodel, {args.updates:,} updates x {args.runs} runs, "
          f"load average {load:.1f}")
    print(f"{'subscriber':<12} {'updates/s':>12} {'ns/update':>10} {'x dict store':>13} {'dropped':>8}")
    print(f"{'bare dict':<12} {bare:>12,.0f} {1e9 / bare:>10.0f} {1.0:>13.1f} {'-':>8}")
    for mode in modes:
        rate = statistics.median(figures[str(mode)])
        print(f"{mode or 'none':<12} {rate:>12,.0f} {1e9 / rate:>10.0f} {bare / rate:>13.1f} {drops[str(mode)]:>8}")
    print(f"EVERY: {await _memory_per_update_event(args.size):.0f} bytes per queued sample")


if __name__ == "__main__":
    asyncio.run(main())
