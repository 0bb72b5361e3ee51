"""OPC UA HistoryRead with asyncua's client: raw values with timestamps and qualities, continuation
points, and Part 13 Average/Minimum/Maximum/Count equal to numpy's."""

from __future__ import annotations

import asyncio
import datetime
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import orjson
import pytest
from asyncua import Client, ua

from tests.history.conftest import SUBMODEL, press_submodel
from tests.peers import missing_peer
from tests.ports import free_port
from twinbridge.aas.quality import Quality
from twinbridge.aas.store import open_store, store_url_for
from twinbridge.aas.twin import Twin
from twinbridge.history.service import HistoryService
from twinbridge.history.settings import HistorySettings
from twinbridge.server.application import property_of_value_node
from twinbridge.server.opcua import OpcUaServer, OpcUaSettings, ids

UTC = datetime.UTC
_NODE_ID: object = ua.NodeId
NODE_DIR = Path(__file__).parents[1] / "opcua" / "node"  # node-opcua-client, installed for the OPC UA tests


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Twin, OpcUaServer, Client]]:
    twin = Twin(open_store(store_url_for(tmp_path / "data")))
    twin.create(press_submodel())
    history = HistoryService(twin, HistorySettings(flush_interval_s=0.2), tmp_path / "data")
    await history.start()
    opcua = OpcUaServer(twin, OpcUaSettings(host="127.0.0.1", port=free_port()), tmp_path / "opcua")
    await opcua.start()
    assert opcua.server is not None
    history.serve_opcua(opcua.server, property_of_value_node)
    opcua.advertise_history()
    try:
        async with Client(opcua.endpoint_url, timeout=10) as client:
            yield twin, opcua, client
    finally:
        await opcua.stop()
        await history.stop()
        twin.close()


def value_node(opcua: OpcUaServer) -> ua.NodeId:
    """The Temperature Property's Value Variable (NodeIds are derived from ids and paths)."""
    return ids.element_node_id(opcua.namespace_index, SUBMODEL, "Temperature/Value")


async def feed(twin: Twin, values: list[float], start: float, step: float,
               qualities: list[Quality]) -> list[datetime.datetime]:
    handle = twin.live(SUBMODEL, "Temperature")
    for index, value in enumerate(values):
        twin.update(handle, value, start + index * step, qualities[index])
    await twin.bus.drained()
    return [datetime.datetime.fromtimestamp(start + i * step, UTC) for i in range(len(values))]


async def test_raw_history_comes_back_with_timestamps_qualities_and_continuation(
        served: tuple[Twin, OpcUaServer, Client]) -> None:
    twin, opcua, client = served
    qualities = [Quality.GOOD, Quality.UNCERTAIN, Quality.GOOD, Quality.BAD] * 75
    values = [20.0 + i / 4 for i in range(300)]
    # whole seconds plus binary fractions: exact in a float, so no microsecond rounding differs
    stamps = await feed(twin, values, int(time.time()) - 400 + 0.25, 1.0, qualities)
    node = client.get_node(value_node(opcua))

    history = await node.read_raw_history(stamps[0] - datetime.timedelta(seconds=1),
                                          stamps[-1] + datetime.timedelta(seconds=1))
    assert [dv.Value.Value for dv in history] == values
    assert [dv.SourceTimestamp.replace(tzinfo=UTC) for dv in history] == stamps
    codes = {Quality.GOOD: ua.StatusCodes.Good, Quality.UNCERTAIN: ua.StatusCodes.Uncertain,
             Quality.BAD: ua.StatusCodes.Bad}
    assert [dv.StatusCode.value for dv in history] == [codes[q] for q in qualities]

    details = ua.ReadRawModifiedDetails(IsReadModified=False, StartTime=stamps[0], EndTime=stamps[-1]
                                        + datetime.timedelta(seconds=1), NumValuesPerNode=120)
    pages, continuation = [], None
    while True:
        result = await node.history_read(details, continuation)
        pages.append([dv.Value.Value for dv in result.HistoryData.DataValues])
        continuation = result.ContinuationPoint
        if not continuation:
            break
    assert [len(page) for page in pages] == [120, 120, 60]
    assert [value for page in pages for value in page] == values


async def test_processed_history_equals_numpy(served: tuple[Twin, OpcUaServer, Client]) -> None:
    twin, opcua, client = served
    rng = np.random.default_rng(2)
    start = float(int(time.time()) - 600)
    values = [float(v) for v in np.round(rng.normal(60, 3, 240), 2)]
    await feed(twin, values, start, 0.5, [Quality.GOOD] * 240)
    node = client.get_node(value_node(opcua))
    array = np.array(values).reshape(12, 20)  # 10 s buckets of 20 points
    begin = datetime.datetime.fromtimestamp(start, UTC)
    expected = {ua.ObjectIds.AggregateFunction_Average: array.mean(axis=1),
                ua.ObjectIds.AggregateFunction_Minimum: array.min(axis=1),
                ua.ObjectIds.AggregateFunction_Maximum: array.max(axis=1),
                ua.ObjectIds.AggregateFunction_Count: np.full(12, 20)}
    for aggregate, want in expected.items():
        details = ua.ReadProcessedDetails(StartTime=begin, EndTime=begin + datetime.timedelta(seconds=120),
                                          ProcessingInterval=10_000.0, AggregateType=[_NODE_ID(aggregate, 0)])
        result = await node.history_read(details)
        assert result.StatusCode.is_good()
        got = [dv.Value.Value for dv in result.HistoryData.DataValues]
        assert got == pytest.approx(list(want), rel=1e-12)
        stamps = [dv.SourceTimestamp.replace(tzinfo=UTC) for dv in result.HistoryData.DataValues]
        assert stamps == [begin + datetime.timedelta(seconds=10 * k) for k in range(12)]
    details = ua.ReadProcessedDetails(StartTime=begin, EndTime=begin + datetime.timedelta(seconds=10),
                                      ProcessingInterval=10_000.0,
                                      AggregateType=[_NODE_ID(ua.ObjectIds.AggregateFunction_Interpolative, 0)])
    result = await node.history_read(details)
    assert result.StatusCode.value == ua.StatusCodes.BadAggregateNotSupported


@pytest.fixture
def node_history() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing_peer("node and npm are needed for the node-opcua historyRead test")
    if not (NODE_DIR / "node_modules" / "node-opcua-client").is_dir():
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR,
                       check=True, timeout=600)
    return Path(__file__).parent / "node_history.mjs"


async def test_node_opcua_history_read(served: tuple[Twin, OpcUaServer, Client], node_history: Path) -> None:
    twin, opcua, _ = served
    start = float(int(time.time()) - 300)
    values = [float(v) for v in range(40)]
    qualities = [Quality.GOOD] * 39 + [Quality.UNCERTAIN]
    stamps = await feed(twin, values, start, 0.5, qualities)
    node_id = value_node(opcua).to_string()
    begin = stamps[0].isoformat().replace("+00:00", "Z")
    end = (stamps[0] + datetime.timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
    process = await asyncio.create_subprocess_exec(
        "node", str(node_history), opcua.endpoint_url, node_id, begin, end, "10000",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=NODE_DIR)
    out, err = await asyncio.wait_for(process.communicate(), 180)
    lines = [line for line in out.splitlines() if line.startswith(b'{"event"')]
    assert process.returncode == 0 and lines, err.decode(errors="replace")[-2000:]
    answer = orjson.loads(lines[-1])
    assert answer["status"] == "Good"
    assert [row[0] for row in answer["raw"]] == values
    assert [row[1] for row in answer["raw"]] == [s.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                                                for s in stamps]
    assert answer["raw"][-1][2] == "Uncertain"
    assert answer["averages"] == pytest.approx([np.mean(values[:20]), np.mean(values[20:])])


async def test_historized_values_say_so(served: tuple[Twin, OpcUaServer, Client]) -> None:
    """A client decides from Historizing and AccessLevel whether to offer a trend: both must be set."""
    _twin, opcua, client = served
    node = client.get_node(value_node(opcua))
    historizing = (await node.read_attribute(ua.AttributeIds.Historizing)).Value.Value
    access = (await node.read_attribute(ua.AttributeIds.AccessLevel)).Value.Value
    assert historizing is True
    assert access & ua.AccessLevel.HistoryRead.mask
    assert access & ua.AccessLevel.CurrentRead.mask


async def test_server_timestamps_are_refused_and_nothing_is_modified(
        served: tuple[Twin, OpcUaServer, Client]) -> None:
    """Part 11 6.5.3.2: the history keeps source timestamps only; no stored value is ever modified."""
    twin, opcua, client = served
    stamps = await feed(twin, [1.0, 2.0], int(time.time()) - 10, 1.0, [Quality.GOOD] * 2)
    details = ua.ReadRawModifiedDetails(IsReadModified=False, StartTime=stamps[0] - datetime.timedelta(seconds=1),
                                        EndTime=stamps[-1] + datetime.timedelta(seconds=1), NumValuesPerNode=0)
    read = ua.HistoryReadValueId(NodeId=value_node(opcua))
    for timestamps, expected in ((ua.TimestampsToReturn.Server, ua.StatusCodes.BadTimestampNotSupported),
                                 (ua.TimestampsToReturn.Source, ua.StatusCodes.Good)):
        params = ua.HistoryReadParameters(HistoryReadDetails=details, TimestampsToReturn=timestamps,
                                          NodesToRead=[read])
        [result] = await client.uaclient.history_read(params)
        assert result.StatusCode.value == expected
    assert [dv.Value.Value for dv in result.HistoryData.DataValues] == [1.0, 2.0]
    details.IsReadModified = True
    [modified] = await client.uaclient.history_read(ua.HistoryReadParameters(
        HistoryReadDetails=details, TimestampsToReturn=ua.TimestampsToReturn.Both, NodesToRead=[read]))
    assert modified.StatusCode.is_good() and modified.HistoryData.DataValues == []
