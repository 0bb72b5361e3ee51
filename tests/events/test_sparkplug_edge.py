"""twinbridge as a Sparkplug B edge node and host application, read by an independent decoder.

The reader is PyPI ``pysparkplug`` (its own protobuf, its own paho client) running as a host
application in a venv of its own (``sparkplug_peer/``, made on first use: it needs
paho-mqtt < 2). It sees STATE, NBIRTH/DBIRTH with typed, aliased metrics, DDATA resolved
through the aliases, a rebirth answered, and NDEATH both as the will and on a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from basyx.aas import model

from tests.adapters.mqtt_fixtures import Mosquitto, mosquitto_fixture  # noqa: F401
from tests.peers import missing_peer
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.server.events.hub import EventHub
from twinbridge.server.events.settings import SparkplugEdgeNode as EdgeSettings
from twinbridge.server.events.settings import SparkplugEvents
from twinbridge.server.events.sparkplug import SparkplugEdgeNode, SparkplugHostState
from twinbridge.server.events.stats import EventStats

PEER = Path(__file__).parent / "sparkplug_peer"
GROUP, NODE = "Plant1", "twin"


def plant_twin() -> Twin:
    twin = Twin()
    for asset, speed in (("Press", 1200), ("Robot", 30)):
        submodel = model.Submodel(f"urn:test:sm:{asset}", id_short="OperationalData", submodel_element=[
            model.Property("Speed", model.datatypes.Int, speed),
            model.Property("Running", model.datatypes.Boolean, True),
            model.SubmodelElementCollection("Motor", [model.Property("Current", model.datatypes.Double, 1.5),
                                                      model.Property("Mode", model.datatypes.String, "auto")]),
        ])
        twin.create(submodel)
        twin.create(model.AssetAdministrationShell(
            model.AssetInformation(global_asset_id=f"urn:test:asset:{asset}"), f"urn:test:aas:{asset}",
            id_short=asset, submodel={model.ModelReference.from_referable(submodel)}))
    return twin


def peer_python() -> Path:
    python = PEER / ".venv" / "bin" / "python"
    if not python.exists():
        made = subprocess.run(f"{sys.executable} -m venv .venv && .venv/bin/pip install --quiet "
                              "-r requirements.txt", shell=True, cwd=PEER, capture_output=True, text=True)
        if made.returncode != 0 or not python.exists():
            missing_peer(f"could not install pysparkplug for the Sparkplug tests: {made.stderr[-500:]}")
    return python


class Host:
    """The pysparkplug host application process: decoded messages as dicts, commands in."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[dict[str, Any]] = []
        self.early: list[dict[str, Any]] = []  # decoded before the host said it was ready (retained)

    async def next(self, kind: str, timeout: float = 10.0, **match: object) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            assert self.process.stdout is not None
            while True:
                if self.early:
                    message = self.early.pop(0)
                else:
                    line = await self.process.stdout.readline()
                    if not line:
                        raise EOFError("the pysparkplug host ended")
                    message = orjson.loads(line)
                self.seen.append(message)
                if message.get("type") == kind and all(message.get(k) == v for k, v in match.items()):
                    return message
        return await asyncio.wait_for(find(), timeout)

    async def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()


@contextlib.asynccontextmanager
async def pysparkplug_host(port: int) -> AsyncIterator[Host]:
    process = await asyncio.create_subprocess_exec(
        str(peer_python()), str(PEER / "host.py"), str(port), GROUP,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    host = Host(process)
    try:
        assert process.stdout is not None
        while (line := orjson.loads(await asyncio.wait_for(process.stdout.readline(), 20))) != {"ready": True}:
            host.early.append(line)
        yield host
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


@pytest.fixture
def twin() -> Twin:
    return plant_twin()


async def test_an_independent_host_reads_state_births_data_and_gets_a_rebirth(mosquitto: Mosquitto,
                                                                              twin: Twin) -> None:
    settings = SparkplugEvents(url=mosquitto.url, host_id="twinbridge-host",
                               edge_node=EdgeSettings(group_id=GROUP, node_id=NODE))
    stats = EventStats()
    hub = EventHub(twin, "http://twin.example/api/v3.0", stats, 1000)
    await hub.start()
    state = SparkplugHostState(settings, "twinbridge-host")
    edge = SparkplugEdgeNode(twin, settings, hub, stats)
    async with pysparkplug_host(mosquitto.port) as host:
        await state.start()
        await edge.start()
        try:
            online = await host.next("STATE")
            assert online["online"] is True
            assert online["topic"] == "spBv1.0/STATE/twinbridge-host"

            nbirth = await host.next("NBIRTH", node=NODE)
            assert nbirth["seq"] == 0
            node_metrics = {metric["name"]: metric for metric in nbirth["metrics"]}
            assert node_metrics["bdSeq"]["value"] == 0 and node_metrics["bdSeq"]["datatype"] == "INT64"
            assert node_metrics["Node Control/Rebirth"]["value"] is False
            births = {message["device"]: message for message in [await host.next("DBIRTH"), await host.next("DBIRTH")]}
            assert set(births) == {"Press", "Robot"}
            press = {metric["name"]: metric for metric in births["Press"]["metrics"]}
            assert {name: (metric["datatype"], metric["value"]) for name, metric in press.items()} == {
                "OperationalData/Speed": ("INT32", 1200), "OperationalData/Running": ("BOOLEAN", True),
                "OperationalData/Motor/Current": ("DOUBLE", 1.5), "OperationalData/Motor/Mode": ("STRING", "auto")}
            aliases = [metric["alias"] for message in births.values() for metric in message["metrics"]]
            assert len(set(aliases)) == len(aliases) == 8  # unique in the node
            assert sorted(message["seq"] for message in births.values()) == [1, 2]

            twin.update(twin.live("urn:test:sm:Press", "Motor.Current"), 2.25, timestamp=1_700_000_000.5)
            twin.update(twin.live("urn:test:sm:Press", "Speed"), 1250)
            ddata = await host.next("DDATA", device="Press")
            changed = {metric["name"]: metric for metric in ddata["metrics"]}  # names from the aliases
            assert changed["OperationalData/Motor/Current"]["value"] == 2.25
            assert changed["OperationalData/Motor/Current"]["timestamp"] == 1_700_000_000_500
            assert changed["OperationalData/Speed"]["value"] == 1250
            assert ddata["seq"] == 3

            await host.send(f"rebirth {NODE}")
            reborn = await host.next("NBIRTH", node=NODE)
            assert reborn["seq"] == 0
            assert {metric["name"]: metric["value"] for metric in reborn["metrics"]}["bdSeq"] == 0  # same session
            dbirth = await host.next("DBIRTH", device="Press")
            assert {metric["name"]: metric["value"] for metric in dbirth["metrics"]}["OperationalData/Speed"] == 1250

            assert edge._wire is not None
            edge._wire.abort()  # a crash: the broker publishes the will
            death = await host.next("NDEATH", node=NODE)
            assert death["bdSeq"] == 0
            again = await host.next("NBIRTH", node=NODE, timeout=15)  # the next session
            assert {metric["name"]: metric["value"] for metric in again["metrics"]}["bdSeq"] == 1
        finally:
            await edge.stop()
            await state.stop()
            await hub.stop()
        clean = await host.next("NDEATH", node=NODE)
        assert clean["bdSeq"] == 1
        offline = await host.next("STATE")
        assert offline["online"] is False
    async with pysparkplug_host(mosquitto.port) as late:  # retained: a host starting later learns it
        retained = await late.next("STATE")
        assert retained["retain"] is True and retained["online"] is False


async def test_a_new_asset_gets_a_device_birth_and_a_removed_one_a_device_death(mosquitto: Mosquitto,
                                                                                twin: Twin) -> None:
    settings = SparkplugEvents(url=mosquitto.url, edge_node=EdgeSettings(group_id=GROUP, node_id=NODE))
    stats = EventStats()
    hub = EventHub(twin, "http://twin.example/api/v3.0", stats, 1000)
    await hub.start()
    edge = SparkplugEdgeNode(twin, settings, hub, stats)
    async with pysparkplug_host(mosquitto.port) as host:
        await edge.start()
        try:
            await host.next("DBIRTH", device="Robot")
            twin.delete(ObjectKind.SHELL, "urn:test:aas:Robot")
            await host.next("DDEATH", device="Robot")
            twin.update(twin.live("urn:test:sm:Press", "Speed"), 7)
            ddata = await host.next("DDATA", device="Press")
            assert ddata["metrics"][0]["value"] == 7
        finally:
            await edge.stop()
            await hub.stop()



async def test_a_metric_carries_the_sparkplug_quality_property_while_its_value_is_not_good(
        mosquitto: Mosquitto, twin: Twin) -> None:
    settings = SparkplugEvents(url=mosquitto.url, edge_node=EdgeSettings(group_id=GROUP, node_id=NODE))
    stats = EventStats()
    hub = EventHub(twin, "http://twin.example/api/v3.0", stats, 1000)
    await hub.start()
    edge = SparkplugEdgeNode(twin, settings, hub, stats)
    speed = twin.live("urn:test:sm:Press", "Speed")
    async with pysparkplug_host(mosquitto.port) as host:
        await edge.start()
        try:
            birth = await host.next("DBIRTH", device="Press")
            assert all(metric["quality"] is None for metric in birth["metrics"])  # all Good: no property
            seen = []
            for value, quality in ((1, Quality.BAD), (2, Quality.UNCERTAIN), (3, Quality.GOOD), (4, Quality.GOOD)):
                twin.update(speed, value, quality=quality)
                (metric,) = (await host.next("DDATA", device="Press"))["metrics"]
                assert metric["value"] == value
                seen.append(metric["quality"])
            # Sparkplug 3.0: type 3 (Int32); 0 BAD, 500 STALE, 192 GOOD once when it is Good again
            assert seen == [{"type": 3, "value": 0}, {"type": 3, "value": 500}, {"type": 3, "value": 192}, None]

            twin.update(speed, 5, quality=Quality.BAD)
            await host.next("DDATA", device="Press")
            await host.send(f"rebirth {NODE}")
            reborn = await host.next("DBIRTH", device="Press")
            metrics = {metric["name"]: metric for metric in reborn["metrics"]}
            assert metrics["OperationalData/Speed"]["quality"] == {"type": 3, "value": 0}  # the birth says so too
            assert metrics["OperationalData/Running"]["quality"] is None
        finally:
            await edge.stop()
            await hub.stop()
