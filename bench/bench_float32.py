"""Cost of decoding Modbus float32 registers as their shortest decimal (adapters.float32).

Decodes the same block of float32 registers with the real codec (shortest decimal) and, in the
same run, with the plain ``struct`` unpack it replaced (baseline). Prints values/s, p50/p99 per
block, peak memory and the ratio. No target: it shows what 24.843904 instead of
24.843904495239258 costs on the poll path.

    .venv/bin/python bench/bench_float32.py [--points 100] [--blocks 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import struct
import time
import tracemalloc
from collections.abc import Callable

from twinbridge.adapters.modbus.config import ModbusPoint
from twinbridge.adapters.modbus.registers import codec_for, registers_to_bytes


def block(points: int) -> bytes:
    values = [random.uniform(-1000.0, 1000.0) for _ in range(points)]
    registers = list(struct.unpack(f">{2 * points}H", struct.pack(f">{points}f", *values)))
    return registers_to_bytes(registers, False)


def run(decode: Callable[[bytes, int], object], image: bytes, points: int, blocks: int) -> tuple[float, list[float]]:
    timings = []
    start = time.perf_counter()
    for _ in range(blocks):
        began = time.perf_counter()
        for index in range(points):
            decode(image, 2 * index)
        timings.append(time.perf_counter() - began)
    return points * blocks / (time.perf_counter() - start), timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    random.seed(7)
    image = block(args.points)
    codec = codec_for(ModbusPoint(address=0, type="float32", order="ABCD"))
    plain = struct.Struct(">f")

    def baseline(data: bytes, offset: int) -> object:
        return plain.unpack_from(data, offset * 2)[0]

    results: dict[str, list[tuple[float, list[float]]]] = {"shortest": [], "baseline": []}
    for _ in range(args.runs):  # interleaved, so both see the same machine load
        results["shortest"].append(run(codec.decode, image, args.points, args.blocks))
        results["baseline"].append(run(baseline, image, args.points, args.blocks))
    tracemalloc.start()  # a separate short run: tracemalloc slows every allocation
    run(codec.decode, image, args.points, 50)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    medians = {}
    for name, runs in results.items():
        rate = statistics.median(r[0] for r in runs)
        timings = sorted(t for r in runs for t in r[1])
        p50, p99 = timings[len(timings) // 2], timings[int(len(timings) * 0.99)]
        medians[name] = rate
        print(f"{name:9s} {rate:12,.0f} values/s   block of {args.points}: p50 {p50 * 1e6:8.1f} us  "
              f"p99 {p99 * 1e6:8.1f} us")
    print(f"peak traced memory {peak / 1024:.0f} KiB")
    print(f"ratio shortest/baseline throughput: {medians['shortest'] / medians['baseline']:.2f}")


if __name__ == "__main__":
    main()
