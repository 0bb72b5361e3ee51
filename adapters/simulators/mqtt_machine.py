"""Simulated machines that publish over MQTT, as JSON or as a Sparkplug B edge node, for the
demo plant and the tests.

Each machine runs its own broker session and moves its signals on a timer: the spindle speed
follows a writable set-point while the machine runs (it pauses now and then), the temperature
lags behind the spindle load with noise and a slow drift, power follows the speed, and a part
counter counts cycles. ``topic_map()`` returns every signal with the MqttPoint that reads it.

JSON machine ``M`` (prefix ``plant``), every ``interval_s``, on ``plant/M/telemetry``::

    {"ts": <epoch ms>, "temperature": 41.2, "power": 5.3, "count": 17, "running": true,
     "spindle": {"speed": 1498, "setpoint": 1500.0}}

and it takes a new set-point on ``plant/M/cmd/setpoint`` (``{"value": 1200}`` or ``1200``).

Sparkplug machine ``M`` is edge node ``spBv1.0/<group>/…/M`` with node metrics Temperature
(Double), Power (Float), PartCount (Int64), Running (Boolean) and device ``Spindle`` with Speed
(Int32) and Setpoint (Double, writable by DCMD). Births carry names and aliases, data carries
aliases only; it answers ``Node Control/Rebirth``, and its NDEATH is the session's will.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import aiomqtt
import orjson

from twinbridge.adapters.mqtt.config import MqttPoint
from twinbridge.adapters.sparkplug import payloads
from twinbridge.adapters.sparkplug.payloads import DataType
from twinbridge.adapters.supervisor import stop_task, stop_tasks

log = logging.getLogger(__name__)

Protocol = Literal["json", "sparkplug"]
DEFAULT_MACHINES: Mapping[str, Protocol] = {"Mill1": "json", "Lathe1": "sparkplug"}

_TIMEOUT_S = 2.0
"""How long a machine waits for the broker to confirm a publish. aiomqtt does not fail a pending
publish when the connection drops, so with its default (10 s) a machine sat 10 s on a dead
connection after every broker restart before reconnecting."""


@dataclass(frozen=True, slots=True)
class SimulatedSignal:
    """One published signal and how to bind it (``point``), with the AAS valueType it fits."""

    machine: str
    signal: str
    protocol: Protocol
    value_type: str
    unit: str
    writable: bool
    point: MqttPoint


class MachineState:
    """The physics of one machine tool, stepped by elapsed time (seeded, so runs repeat)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.setpoint = 1500.0
        self.speed = 0.0
        self.temperature = 22.0 + self.random.uniform(-0.5, 0.5)
        self.power = 0.15
        self.count = 0
        self.running = True
        self._phase = self.random.uniform(0, 2 * math.pi)
        self._cycle = 0.0
        self._run_clock = 0.0

    def step(self, dt: float, now: float) -> None:
        noise = self.random.gauss
        self._run_clock += dt
        if self.running and self._run_clock > 120.0:  # a 15 s pause every two minutes
            self.running, self._run_clock = False, 0.0
        elif not self.running and self._run_clock > 15.0:
            self.running, self._run_clock = True, 0.0
        target = self.setpoint if self.running else 0.0
        self.speed += (target - self.speed) * min(1.0, dt / 2.0)
        drift = 1.5 * math.sin(now / 3600 * 2 * math.pi + self._phase)
        heat = 22.0 + 0.012 * self.speed + drift
        self.temperature += (heat - self.temperature) * min(1.0, dt / 60.0) + noise(0, 0.15)
        self.power = (0.4 + 0.0035 * self.speed if self.running else 0.15) + noise(0, 0.05)
        if self.running:
            self._cycle += dt
            while self._cycle >= 12.0:
                self._cycle -= 12.0
                self.count += 1

    @property
    def measured_speed(self) -> int:
        return max(0, round(self.speed + (self.random.gauss(0, 3) if self.speed > 1 else 0)))


class SimulatedMqttMachines:
    """Publishes ``machines`` ({name: "json" | "sparkplug"}) to the broker at ``url``."""

    def __init__(
        self,
        url: str,
        machines: Mapping[str, Protocol] = DEFAULT_MACHINES,
        interval_s: float = 1.0,
        prefix: str = "plant",
        group: str = "Plant1",
        seed: int = 7,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"simulated machines need an mqtt://host:port url, got {url!r}")
        self._host, self._port = parts.hostname, parts.port or 1883
        self._last_error = ""
        self.machines = dict(machines)
        self.interval_s = interval_s
        self.prefix = prefix
        self.group = group
        self._states = {name: MachineState(seed + index) for index, name in enumerate(self.machines)}
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: dict[str, asyncio.Event] = {}
        self._bd_seq: dict[str, int] = {}
        self._stopping = False

    def state(self, machine: str) -> MachineState:
        return self._states[machine]

    # ------------------------------------------------------------ topic map
    def topic_map(self) -> list[SimulatedSignal]:
        """Every signal of every machine with the MqttPoint that reads it (and writes it back)."""
        signals: list[SimulatedSignal] = []
        for machine, protocol in self.machines.items():
            if protocol == "json":
                telemetry = f"{self.prefix}/{machine}/telemetry"
                for signal, selector, value_type, unit in (
                    ("temperature", "$.temperature", "xs:double", "degC"),
                    ("spindle_speed", "$.spindle.speed", "xs:int", "1/min"),
                    ("power", "$.power", "xs:double", "kW"),
                    ("part_count", "$.count", "xs:long", "parts"),
                    ("running", "$.running", "xs:boolean", ""),
                ):
                    point = MqttPoint(topic=telemetry, payload="json", value=selector, timestamp="$.ts")
                    signals.append(SimulatedSignal(machine, signal, protocol, value_type, unit, False, point))
                point = MqttPoint(topic=telemetry, payload="json", value="$.spindle.setpoint", timestamp="$.ts",
                                  command_topic=f"{self.prefix}/{machine}/cmd/setpoint", qos=1)
                signals.append(SimulatedSignal(machine, "speed_setpoint", protocol, "xs:double", "1/min", True, point))
            else:
                node = f"spBv1.0/{self.group}/+/{machine}"
                for signal, metric, topic, value_type, unit, writable in (
                    ("temperature", "Temperature", node, "xs:double", "degC", False),
                    ("power", "Power", node, "xs:float", "kW", False),
                    ("part_count", "PartCount", node, "xs:long", "parts", False),
                    ("running", "Running", node, "xs:boolean", "", False),
                    ("spindle_speed", "Speed", f"{node}/Spindle", "xs:int", "1/min", False),
                    ("speed_setpoint", "Setpoint", f"{node}/Spindle", "xs:double", "1/min", True),
                ):
                    point = MqttPoint(topic=topic, payload="sparkplug", value=metric, qos=1)
                    signals.append(SimulatedSignal(machine, signal, protocol, value_type, unit, writable, point))
        return signals

    # ------------------------------------------------------------ lifecycle
    async def start(self, timeout: float = 10.0) -> None:
        """Start every machine and wait until each has connected (and published its births)."""
        self._stopping = False
        for machine, protocol in self.machines.items():
            self._ready[machine] = asyncio.Event()
            run = self._run_json if protocol == "json" else self._run_sparkplug
            self._tasks.append(asyncio.create_task(self._keep_running(machine, run), name=f"sim:{machine}"))
        try:
            await asyncio.wait_for(asyncio.gather(*(event.wait() for event in self._ready.values())), timeout)
        except TimeoutError:
            why = f": {self._last_error}" if self._last_error else ""
            raise TimeoutError(f"the simulated MQTT machines could not reach the broker mqtt://{self._host}:"
                               f"{self._port} within {timeout:g} s{why}") from None

    async def stop(self) -> None:
        """Stop every machine; a Sparkplug one says goodbye with its NDEATH.

        The machines see ``_stopping`` within one interval and leave by themselves; only one
        that is stuck (reconnecting, or waiting for a confirmation) is cancelled. A single
        cancel-and-wait was not enough on Python 3.11: aiomqtt awaits each publish confirmation
        with ``asyncio.wait_for``, which drops a cancel that arrives with the confirmation, and
        the machine went on publishing while ``stop`` waited for it forever (the broker restart
        test hung that way); ``stop_tasks`` repeats the cancel until the task has ended.
        """
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        if tasks:
            await asyncio.wait(tasks, timeout=self.interval_s + _TIMEOUT_S)
        await stop_tasks(tasks, "simulated MQTT machine")

    async def _keep_running(self, machine: str, run: Any) -> None:
        while not self._stopping:
            try:
                await run(machine)
            except aiomqtt.MqttError as error:
                self._last_error = str(error)
                log.info("simulated machine %s lost the broker (%s); reconnecting", machine, error)
            if not self._stopping:
                await asyncio.sleep(0.5)

    # ------------------------------------------------------------ JSON
    async def _run_json(self, machine: str) -> None:
        state = self._states[machine]
        command = f"{self.prefix}/{machine}/cmd/setpoint"
        async with aiomqtt.Client(self._host, self._port, identifier=f"sim-{machine}", timeout=_TIMEOUT_S) as client:
            await client.subscribe(command, qos=1)
            commands = asyncio.create_task(self._json_commands(client, state))
            try:
                self._ready[machine].set()
                last = time.time()
                while not self._stopping:
                    now = time.time()
                    state.step(now - last, now)
                    last = now
                    await client.publish(f"{self.prefix}/{machine}/telemetry", orjson.dumps({
                        "ts": int(now * 1000),
                        "temperature": round(state.temperature, 3),
                        "power": round(state.power, 3),
                        "count": state.count,
                        "running": state.running,
                        "spindle": {"speed": state.measured_speed, "setpoint": state.setpoint},
                    }))
                    await asyncio.sleep(self.interval_s)
            finally:
                await stop_task(commands, f"simulated machine {machine} commands")

    async def _json_commands(self, client: aiomqtt.Client, state: MachineState) -> None:
        """Take set-points until the broker is lost (quietly: the publishing loop reconnects)."""
        with contextlib.suppress(aiomqtt.MqttError):
            async for message in client.messages:
                try:
                    body = orjson.loads(bytes(message.payload))  # type: ignore[arg-type]
                    state.setpoint = float(body["value"] if isinstance(body, dict) else body)
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                    log.warning("simulated machine ignored command %r: %s", message.payload, error)

    # ------------------------------------------------------------ Sparkplug
    async def _run_sparkplug(self, machine: str) -> None:
        state = self._states[machine]
        bd_seq = self._bd_seq[machine] = (self._bd_seq.get(machine, -1) + 1) % 256
        base = f"spBv1.0/{self.group}"
        death = payloads.Payload(timestamp=payloads.now_ms())
        payloads.set_value(death.metrics.add(name=payloads.BD_SEQ), DataType.INT64, bd_seq)
        will = aiomqtt.Will(f"{base}/NDEATH/{machine}", death.SerializeToString(), qos=1)
        edge = _EdgeNode(base, machine, state, bd_seq)
        async with aiomqtt.Client(self._host, self._port, identifier=f"sim-{machine}", will=will,
                                  timeout=_TIMEOUT_S) as client:
            await client.subscribe([(f"{base}/NCMD/{machine}", 1), (f"{base}/DCMD/{machine}/Spindle", 1)])
            await edge.births(client)
            commands = asyncio.create_task(edge.commands(client))
            try:
                self._ready[machine].set()
                last = time.time()
                while not self._stopping:
                    await asyncio.sleep(self.interval_s)
                    now = time.time()
                    state.step(now - last, now)
                    last = now
                    await edge.data(client)
            finally:
                await stop_task(commands, f"simulated machine {machine} commands")
                if self._stopping:  # a goodbye, whether the stop arrived as a cancel or as the flag
                    with contextlib.suppress(aiomqtt.MqttError):
                        await client.publish(f"{base}/NDEATH/{machine}", death.SerializeToString(), qos=1)


class _EdgeNode:
    """The Sparkplug side of one simulated machine: births, aliased data, commands."""

    NODE = (("Temperature", 1, DataType.DOUBLE), ("Power", 2, DataType.FLOAT),
            ("PartCount", 3, DataType.INT64), ("Running", 4, DataType.BOOLEAN))
    DEVICE = (("Speed", 10, DataType.INT32), ("Setpoint", 11, DataType.DOUBLE))

    def __init__(self, base: str, machine: str, state: MachineState, bd_seq: int) -> None:
        self.base, self.machine, self.state, self.bd_seq = base, machine, state, bd_seq
        self.seq = -1

    def _values(self) -> dict[str, Any]:
        state = self.state
        return {"Temperature": state.temperature, "Power": state.power, "PartCount": state.count,
                "Running": state.running, "Speed": state.measured_speed, "Setpoint": state.setpoint}

    def _payload(self, metrics: tuple[tuple[str, int, DataType], ...], birth: bool) -> bytes:
        self.seq = (self.seq + 1) % 256
        now = payloads.now_ms()
        payload = payloads.Payload(timestamp=now, seq=self.seq)
        values = self._values()
        if birth and metrics is self.NODE:
            payloads.set_value(payload.metrics.add(name=payloads.BD_SEQ, timestamp=now), DataType.INT64, self.bd_seq)
            payloads.set_value(payload.metrics.add(name=payloads.REBIRTH, timestamp=now), DataType.BOOLEAN, False)
        for name, alias, datatype in metrics:
            metric = payload.metrics.add(alias=alias, timestamp=now)
            if birth:
                metric.name = name
            payloads.set_value(metric, datatype, values[name])
            if not birth:
                metric.ClearField("datatype")
        return bytes(payload.SerializeToString())

    async def births(self, client: aiomqtt.Client) -> None:
        self.seq = -1
        await client.publish(f"{self.base}/NBIRTH/{self.machine}", self._payload(self.NODE, True), qos=1)
        await client.publish(f"{self.base}/DBIRTH/{self.machine}/Spindle", self._payload(self.DEVICE, True), qos=1)

    async def data(self, client: aiomqtt.Client) -> None:
        await client.publish(f"{self.base}/NDATA/{self.machine}", self._payload(self.NODE, False))
        await client.publish(f"{self.base}/DDATA/{self.machine}/Spindle", self._payload(self.DEVICE, False))

    async def commands(self, client: aiomqtt.Client) -> None:
        """Answer rebirth requests and take set-points until the broker is lost (quietly)."""
        with contextlib.suppress(aiomqtt.MqttError):
            await self._commands(client)

    async def _commands(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                payload = payloads.decode(bytes(message.payload))  # type: ignore[arg-type]
            except payloads.SparkplugDecodeError as error:
                log.warning("simulated edge node %s ignored a command: %s", self.machine, error)
                continue
            for metric in payload.metrics:
                if metric.name == payloads.REBIRTH and metric.boolean_value:
                    await self.births(client)
                elif metric.name == "Setpoint" or metric.alias == 11:
                    value = payloads.metric_value(metric, metric.datatype)
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        self.state.setpoint = float(value)
                        await client.publish(f"{self.base}/DDATA/{self.machine}/Spindle",
                                             self._payload(self.DEVICE, False))
