"""The MQTT flood that the bench_*mqtt scripts share: our own Mosquitto on a free port, a publisher
process, the raw paho subscriber as the baseline, and the adapter's ingest timed through the flood.

A publisher floods N JSON messages (``{"value": x, "ts": <epoch µs>}`` on 100 topics, QoS 0), then
``bench/end`` (QoS 1), which every twin here binds to an ``End`` element: the clock stops there.
Each script measures what consumes the values (history, analytics, events) against the paho
subscriber that only decodes each payload, in the same run and against the same broker
(``against_paho``).

Not a benchmark of its own; run as a script it is the publisher child (``start_publisher``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import orjson
import paho.mqtt.client as paho
from basyx.aas import model

from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.adapters.config import Binding, ElementTarget
from twinbridge.adapters.mqtt.adapter import MqttAdapter
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource

TOPICS = 100
SUBMODEL = "urn:bench:sm:signals"
END_TOPIC = "bench/end"


@contextlib.contextmanager
def mosquitto(directory: Path) -> Iterator[int]:
    """Our own broker on a free port (never the machine's shared one); yields the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = directory / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n")
    process = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(config)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.01)
        yield port
    finally:
        process.terminate()
        process.wait(5)


# ------------------------------------------------------------------ publisher (child process)
def publish(port: int, messages: int, rate: float) -> None:
    """Publish ``messages`` payloads, flat out (rate 0) or paced at ``rate`` msg/s, then 'bench/end'."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    time.sleep(0.2)
    topics = [f"bench/m{i}/telemetry" for i in range(TOPICS)]
    start = time.perf_counter()
    if rate:  # paced: every payload carries its send time (the latency probe)
        for i in range(messages):
            due = start + i / rate
            while (now := time.perf_counter()) < due:
                time.sleep(min(due - now, 0.0005))
            client.publish(topics[i % TOPICS], orjson.dumps({"value": 20.0 + (i % 97) * 0.1,
                                                             "ts": time.time_ns() // 1000}))
    else:  # flat out; timestamps increase per topic, as a device's do (detectors and RUL refuse going back)
        stamp = time.time_ns() // 1000
        values = [20.0 + i * 0.1 for i in range(97)]
        dumps = orjson.dumps
        for i in range(messages):
            if i % 1000 == 0:
                while len(client._out_packet) > 5000:  # flow control: do not buffer the whole run in RAM
                    time.sleep(0.0005)
            client.publish(topics[i % TOPICS], dumps({"value": values[i % 97], "ts": stamp + i}))
    client.publish(END_TOPIC, b"1", qos=1).wait_for_publish(30)
    client.loop_stop()
    client.disconnect()


def start_publisher(port: int, messages: int, rate: float) -> subprocess.Popen[bytes]:
    """``publish`` in a child process: the publisher must not share a core's GIL with the subscriber."""
    return subprocess.Popen([sys.executable, __file__, str(port), str(messages), str(rate)],
                            cwd=Path(__file__).resolve().parent.parent)


# ------------------------------------------------------------------ baseline: raw paho
class Rate(NamedTuple):
    """Messages per wall-clock second, and per CPU-second of the subscribing process (what one
    core achieves; less sensitive to other load on a shared machine)."""

    wall: float
    cpu: float


def paho_baseline(port: int, messages: int) -> Rate:
    state = {"count": 0, "first": 0.0, "last": 0.0, "cpu_first": 0.0, "cpu_last": 0.0, "done": False}

    def on_message(_client: paho.Client, _data: object, message: paho.MQTTMessage) -> None:
        if message.topic == END_TOPIC:
            state["done"] = True
            return
        if not state["count"]:
            state["first"], state["cpu_first"] = time.perf_counter(), time.process_time()
        orjson.loads(message.payload)
        state["count"] += 1
        state["last"], state["cpu_last"] = time.perf_counter(), time.process_time()

    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe([("bench/#", 0)])
    for _ in range(5):
        client.loop(0.05)
    publisher = start_publisher(port, messages, 0)
    while not state["done"]:
        client.loop(0.1)
    publisher.wait()
    client.disconnect()
    count = state["count"] - 1
    return Rate(count / (state["last"] - state["first"]), count / (state["cpu_last"] - state["cpu_first"]))


# ------------------------------------------------------------------ twinbridge
def end_binding(target: ElementTarget) -> tuple[str, Binding]:
    """The binding of the end marker (``bench/end``, text, QoS 1) to ``target``."""
    return "bindings[end]", Binding(source="broker", target=target,
                                    mqtt=MqttPoint(topic=END_TOPIC, payload="text", qos=1))


def bench_twin() -> tuple[Twin, list[tuple[str, Binding]]]:
    """One submodel of 100 Properties ``m<i>`` fed by ``bench/m<i>/telemetry``, and ``End``."""
    twin = Twin()
    submodel = model.Submodel(SUBMODEL, id_short="Signals", submodel_element=[
        *(model.Property(f"m{i}", model.datatypes.Double) for i in range(TOPICS)),
        model.Property("End", model.datatypes.String),
    ])
    twin.create(submodel)
    twin.create(model.AssetAdministrationShell(
        model.AssetInformation(global_asset_id="urn:bench:asset"), "urn:bench:aas", id_short="Bench",
        submodel={model.ModelReference.from_referable(submodel)},
    ))
    bindings = [
        (f"bindings[{i}]", Binding(
            source="broker",
            target=ElementTarget(shell="Bench", submodel="Signals", path=f"m{i}"),
            mqtt=MqttPoint(topic=f"bench/m{i}/telemetry", value="$.value", timestamp="$.ts"),
        ))
        for i in range(TOPICS)
    ]
    bindings.append(end_binding(ElementTarget(shell="Bench", submodel="Signals", path="End")))
    return twin, bindings


async def flood_rate(port: int, messages: int, twin: Twin, bindings: list[tuple[str, Binding]],
                     finished: LiveElement, settled: Callable[[], Awaitable[object]] | None = None) -> Rate:
    """Run an MqttAdapter on ``bindings`` through one flood; the clock runs from the first value
    to the end marker (``finished``) and, with ``settled``, until that says the consumers are done.
    The bench_*mqtt scripts differ only in what consumes the values."""
    adapter = MqttAdapter(MqttSource(name="broker", url=f"mqtt://127.0.0.1:{port}"), bindings, twin)
    await adapter.start()
    await adapter.wait_connected()
    publisher = start_publisher(port, messages, 0)
    while not adapter.stats.updates:
        await asyncio.sleep(0.0005)
    first, cpu_first, at_first = time.perf_counter(), time.process_time(), adapter.stats.updates
    # Polled every 10 ms, not 0.5: the bench's own wake-ups are not twinbridge's work, yet the CPU
    # clock counted them (2,000 loop wake-ups a second, ~50-90 µs each on the loaded 2-core machine,
    # BENCHMARKS.md issue 14 "ingest"). The end is seen at most 10 ms late: a longer wall time, the
    # conservative side.
    while finished.timestamp is None:
        await asyncio.sleep(0.01)
    if settled is not None:
        await settled()
    elapsed, cpu = time.perf_counter() - first, time.process_time() - cpu_first
    publisher.wait()
    await adapter.stop()
    received = adapter.stats.updates - 1  # the end marker
    if received < messages:
        print(f"  note: {messages - received} of {messages} messages did not arrive")
    return Rate((received - at_first) / elapsed, (received - at_first) / cpu)


async def twin_ingest(port: int, messages: int) -> Rate:
    """The flood into the plain twin of ``bench_twin``: ingest with no consumer."""
    twin, bindings = bench_twin()
    return await flood_rate(port, messages, twin, bindings, twin.live(SUBMODEL, "End"))


def against_paho(messages: int, runs: int, ours: str, ingest: Callable[[int, Path], tuple[Rate, str]],
                 target: str = "≥ 0.7") -> None:
    """Alternate the paho baseline and ``ingest(port, scratch directory)`` (its rate and a note for
    the run's line) ``runs`` times on one broker; print each run and the medians' ratios."""
    baseline: list[Rate] = []
    measured: list[Rate] = []
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as port:
        for run in range(runs):
            baseline.append(paho_baseline(port, messages))
            scratch = Path(directory) / f"run{run}"
            scratch.mkdir()
            rate, note = ingest(port, scratch)
            measured.append(rate)
            print(f"run {run + 1}: paho {baseline[-1].wall:,.0f} msg/s ({baseline[-1].cpu:,.0f} per CPU-s), "
                  f"{ours} {rate.wall:,.0f} msg/s ({rate.cpu:,.0f} per CPU-s){note}; "
                  f"load average {os.getloadavg()[0]:.2f}", flush=True)
    for label, pick in (("wall clock", lambda r: r.wall), ("per CPU-second", lambda r: r.cpu)):
        paho_rate = statistics.median(pick(r) for r in baseline)
        our_rate = statistics.median(pick(r) for r in measured)
        print(f"median of {runs}, {label}: paho baseline {paho_rate:,.0f} msg/s; {ours} {our_rate:,.0f} msg/s; "
              f"ratio {our_rate / paho_rate:.2f} (target {target})")


if __name__ == "__main__":
    publish(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
