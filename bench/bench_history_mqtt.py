"""MQTT ingest with everything historized, against the raw paho subscriber in the same run.

``mqtt_flood``'s flood (N JSON messages on 100 topics, QoS 0, our own Mosquitto on a free port):
the paho baseline only decodes each payload; twinbridge runs the MqttAdapter into 100
Properties with a Historian recording every update into DuckDB, and the clock stops when the last
value is durable in the history. Target: ≥ 0.7× the paho baseline.

    .venv/bin/python bench/bench_history_mqtt.py [--messages 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mqtt_flood import SUBMODEL, Rate, against_paho, bench_twin, flood_rate

from twinbridge.history.duckdb_store import DuckDbHistory
from twinbridge.history.historian import Historian, HistorianSettings


async def historized_ingest(port: int, messages: int, directory: Path) -> tuple[Rate, int]:
    twin, bindings = bench_twin()
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

    def ingest(port: int, scratch: Path) -> tuple[Rate, str]:
        rate, written = asyncio.run(historized_ingest(port, args.messages, scratch))
        return rate, f", {written:,} points recorded"

    against_paho(args.messages, args.runs, "twinbridge with everything historized", ingest)


if __name__ == "__main__":
    main()
