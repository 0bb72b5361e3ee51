"""The history API over real HTTP: values a device sent come back with their timestamps and qualities,
buckets equal numpy's aggregates, bad input is a 400/404 Result naming the parameter."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from tests.history.conftest import SUBMODEL, Served
from twinbridge.aas.quality import Quality


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def device(served: Served, path: str, values: list[float], start: float, step: float,
                 qualities: list[Quality] | None = None) -> list[float]:
    """Sends ``values`` like a device adapter (source timestamps start + i·step), paced in real time."""
    handle = served.twin.live(SUBMODEL, path)
    stamps = []
    for index, value in enumerate(values):
        stamp = round(start + index * step, 6)
        served.twin.update(handle, value, stamp, qualities[index] if qualities else Quality.GOOD)
        stamps.append(stamp)
        await asyncio.sleep(0.001)
    return stamps


async def test_values_come_back_with_their_timestamps_and_qualities(served: Served) -> None:
    start = int(time.time()) - 600 + 0.375  # exact in a float: no microsecond rounding can differ
    qualities = [Quality.GOOD, Quality.UNCERTAIN, Quality.BAD] * 20
    values = [20.0 + i / 8 for i in range(60)]
    stamps = await device(served, "Temperature", values, start, 0.5, qualities)
    got: list[dict] = []
    cursor = None
    pages = 0
    while True:
        params = {"from": iso(start - 1), "to": iso(start + 60), "limit": "25"}
        if cursor:
            params["cursor"] = cursor
        response = await served.http.get(served.url("Temperature"), params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["valueType"] == "number" and body["idShortPath"] == "Temperature"
        got += body["result"]
        pages += 1
        cursor = body["paging_metadata"].get("cursor")
        if not cursor:
            break
    assert pages == 3
    assert [point["value"] for point in got] == values
    assert [point["timestamp"] for point in got] == [iso(stamp) for stamp in stamps]
    assert [point["quality"] for point in got] == [quality.value for quality in qualities]


async def test_buckets_equal_numpy_over_the_same_points(served: Served) -> None:
    rng = np.random.default_rng(1)
    start = float(int(time.time()) - 3600)
    values = [float(v) for v in np.round(rng.normal(1500, 40, 300), 3)]
    stamps = np.array(await device(served, "Setpoint", values, start, 0.7))
    response = await served.http.get(served.url("Setpoint"), params={
        "from": iso(start), "to": iso(start + 210), "interval": "PT10S", "aggregate": "avg,min,max,count,first,last"})
    assert response.status_code == 200, response.text
    buckets = response.json()["result"]
    assert len(buckets) == 21 and response.json()["interval"] == "PT10S"
    array = np.array(values)
    for index, bucket in enumerate(buckets):
        inside = (stamps >= start + index * 10) & (stamps < start + (index + 1) * 10)
        chunk = array[inside]
        assert bucket["start"] == iso(start + index * 10) and bucket["end"] == iso(start + index * 10 + 10)
        assert bucket["count"] == len(chunk)
        assert bucket["avg"] == pytest.approx(chunk.mean(), rel=1e-12)
        assert (bucket["min"], bucket["max"]) == (chunk.min(), chunk.max())
        assert (bucket["first"], bucket["last"]) == (chunk[0], chunk[-1])


async def test_csv_and_several_elements_at_once(served: Served) -> None:
    start = time.time() - 100
    await device(served, "Count", [1, 2, 3], start, 1.0)
    await device(served, "State", ["running", "stopped"], start, 1.0)
    response = await served.http.get(served.url("Count"), params={"from": iso(start - 1)},
                                     headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["timestamp", "value", "quality"]
    assert [row[1] for row in rows[1:]] == ["1", "2", "3"]
    query = {"elements": [{"submodelId": SUBMODEL, "idShortPath": "Count"},
                          {"submodelId": SUBMODEL, "idShortPath": "State"}], "from": iso(start - 1)}
    response = await served.http.post(f"{served.base}/history/query", json=query)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [point["value"] for point in results[0]["result"]] == [1, 2, 3]
    assert results[0]["valueType"] == "integer"
    assert [point["value"] for point in results[1]["result"]] == ["running", "stopped"]
    response = await served.http.post(f"{served.base}/history/query", json=query, headers={"Accept": "text/csv"})
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["submodelId", "idShortPath", "timestamp", "value", "quality"]
    assert len(rows) == 6


@pytest.mark.parametrize(("params", "status", "named"), [
    ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 400, "from"),
    ({"to": "yesterday"}, 400, "to"),
    ({"from": "2026-13-01T00:00:00Z"}, 400, "from"),
    ({"interval": "PT0.001S", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}, 400, "interval"),
    ({"interval": "P1M"}, 400, "interval"),
    ({"interval": "PT10S", "aggregate": "median"}, 400, "aggregate"),
    ({"aggregate": "avg"}, 400, "interval"),
    ({"limit": "0"}, 400, "limit"),
    ({"cursor": "%%%"}, 400, "cursor"),
])
async def test_bad_input_is_a_result_naming_the_parameter(served: Served, params: dict[str, str], status: int,
                                                          named: str) -> None:
    await device(served, "Temperature", [1.0], time.time() - 5, 1.0)
    response = await served.http.get(served.url("Temperature"), params=params)
    assert response.status_code == status, response.text
    text = response.json()["messages"][0]["text"]
    assert named in text


async def test_unknown_and_unhistorized_elements_are_404(served: Served) -> None:
    response = await served.http.get(served.url("Nope"))
    assert response.status_code == 404 and "Nope" in response.json()["messages"][0]["text"]
    response = await served.http.get(served.url("Temperature", submodel="urn:no:such"))
    assert response.status_code == 404 and "urn:no:such" in response.json()["messages"][0]["text"]
    response = await served.http.get(served.url("Count"))  # exists, but no value was ever recorded
    assert response.status_code == 404 and "not historized" in response.json()["messages"][0]["text"]
    response = await served.http.post(f"{served.base}/history/query", json={
        "elements": [{"submodelId": SUBMODEL, "idShortPath": "Nope"}]})
    assert response.status_code == 404 and "elements[0]" in response.json()["messages"][0]["text"]


async def test_the_openapi_document_describes_the_history_api(served: Served) -> None:
    document = (await served.http.get(f"{served.base}/openapi.json")).json()
    route = document["paths"]["/api/v3.0/history/submodels/{submodelIdentifier}/submodel-elements/{idShortPath}"]
    names = {parameter["name"] for parameter in route["get"]["parameters"]}
    assert {"from", "to", "limit", "cursor", "interval", "aggregate"} <= names
    assert "text/csv" in route["get"]["responses"]["200"]["content"]
    assert "HistoryResult" in document["components"]["schemas"]
    assert "/api/v3.0/history/query" in document["paths"]
