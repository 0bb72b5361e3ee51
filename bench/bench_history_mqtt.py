"""MQTT ingest with everything historized, against the raw paho subscriber in the same run.

The same flood as bench_mqtt.py (N JSON messages on 100 topics, QoS 0, our own Mosquitto on a free
port): the paho baseline only decodes each payload; twinbridge runs the MqttAdapter into 100
Properties with a Historian recording every update into DuckDB, and the clock stops when the last
value is durable in the history. Target: ≥ 0.7× the paho baseline.

    .venv/bin/python bench/bench_history_mqtt.py [--messages 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_mqtt import SUBMODEL, Rate, bench_twin, flood_rate, mosquitto, paho_baseline

from twinbridge.adapters.config import Binding, ElementTarget
from twinbridge.adapters.mqtt.config import MqttPoint
from twinbridge.history.duckdb_store import DuckDbHistory
from twinbridge.history.historian import Historian, HistorianSettings


async def historized_ingest(port: int, messages: int, directory: Path) -> tuple[Rate, int]:
    twin, bindings = bench_twin()
    end = ElementTarget(shell="Bench", submodel="Signals", path="End")
    bindings.append(("bindings[end]", Binding(source="broker", target=end,
                                              mqtt=MqttPoint(topic="bench/end", payload="text", qos=1))))
    historian = Historian(twin, DuckDbHistory(directory / "history.duckdb"), HistorianSettings(flush_interval_s=1.0))
    await historian.start()
    # the clock stops when every value is durable in the history
    rate = await flood_rate(port, messages, twin, bindings, twin.live(SUBMODEL, "End"), historian.flushed)
    written = historian.written
    await historian.stop()
    return rate, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    baseline: list[Rate] = []
    ours: list[Rate] = []
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as port:
        for run in range(args.runs):
            baseline.append(paho_baseline(port, args.messages))
            history_dir = Path(directory) / f"run{run}"
            history_dir.mkdir()
            rate, written = asyncio.run(historized_ingest(port, args.messages, history_dir))
            ours.append(rate)
            print(f"run {run + 1}: paho {baseline[-1].wall:,.0f} msg/s, twinbridge + history {rate.wall:,.0f} msg/s "
                  f"({written:,} points recorded); load average {os.getloadavg()[0]:.2f}")
    for label, pick in (("wall clock", lambda r: r.wall), ("per CPU-second", lambda r: r.cpu)):
        paho_rate = statistics.median(pick(r) for r in baseline)
        our_rate = statistics.median(pick(r) for r in ours)
        print(f"median of {args.runs}, {label}: paho baseline {paho_rate:,.0f} msg/s; twinbridge with everything "
              f"historized {our_rate:,.0f} msg/s; ratio {our_rate / paho_rate:.2f} (target ≥ 0.7)")


if __name__ == "__main__":
    main()
