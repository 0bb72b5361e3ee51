"""Time Series submodels get a LinkedSegment an AAS-only client can follow to the history, and an
InternalSegment with the last N records."""

from __future__ import annotations

import datetime
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from basyx.aas import model

from tests.history.conftest import Served, b64, serve
from twinbridge.aas.store import open_store, store_url_for
from twinbridge.aas.twin import Twin
from twinbridge.history.service import HistoryService
from twinbridge.history.settings import HistorySettings
from twinbridge.history.time_series import INTERNAL_SEGMENT, LINKED_SEGMENT, TIME_SERIES

SERIES = "urn:test:sm:ts"
LIVE = "Segments.LiveValues.Records.Current"


def ref(iri: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def time_series() -> model.Submodel:
    current = model.SubmodelElementCollection("Current", value=[
        model.Property("Time", model.datatypes.DateTime, None),
        model.Property("Temperature", model.datatypes.Double, 0.0),
        model.Property("Count", model.datatypes.Int, 0)])
    live = model.SubmodelElementCollection("LiveValues", semantic_id=ref(INTERNAL_SEGMENT), value=[
        model.SubmodelElementCollection("Records", value=[current])])
    return model.Submodel(SERIES, id_short="OperationalData", semantic_id=ref(TIME_SERIES), submodel_element=[
        model.SubmodelElementCollection("Segments", value=[live])])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async for item in serve(tmp_path / "data", HistorySettings(flush_interval_s=0.2, internal_records=3),
                            extra=(time_series(),)):
        yield item


async def record(served: Served, temperature: float, count: int, stamp: float) -> None:
    """What bindings and the record clock do: variables first, then the record's Time."""
    twin = served.twin
    twin.update(twin.live(SERIES, f"{LIVE}.Temperature"), temperature, stamp)
    twin.update(twin.live(SERIES, f"{LIVE}.Count"), count, stamp)
    twin.update(twin.live(SERIES, f"{LIVE}.Time"), datetime.datetime.fromtimestamp(stamp, datetime.UTC), stamp)
    await twin.bus.drained()


async def test_the_linked_segment_leads_to_the_history(served: Served) -> None:
    start = time.time() - 60
    for index in range(5):
        await record(served, 20.0 + index, index, start + index)
    submodel = (await served.http.get(f"{served.base}/submodels/{b64(SERIES)}/$value")).json()
    linked = submodel["Segments"]["History"]
    assert linked["Endpoint"] == f"{served.base}/history/query"
    query = orjson.loads(linked["Query"])
    assert {e["idShortPath"] for e in query["elements"]} == {f"{LIVE}.Temperature", f"{LIVE}.Count"}
    query["from"] = datetime.datetime.fromtimestamp(start - 5, datetime.UTC).isoformat()
    query.pop("interval"), query.pop("aggregate")
    answer = await served.http.post(linked["Endpoint"], json=query)
    assert answer.status_code == 200, answer.text
    by_path = {result["idShortPath"]: [p["value"] for p in result["result"]] for result in answer.json()["results"]}
    assert by_path[f"{LIVE}.Temperature"] == [20.0, 21.0, 22.0, 23.0, 24.0]
    element = (await served.http.get(
        f"{served.base}/submodels/{b64(SERIES)}/submodel-elements/Segments.History")).json()
    assert element["semanticId"]["keys"][0]["value"] == LINKED_SEGMENT


async def test_the_internal_segment_keeps_the_last_records_in_time_order(served: Served) -> None:
    start = time.time() - 60
    for index in range(5):
        await record(served, 20.0 + index, index, start + index)
    recent = (await served.http.get(
        f"{served.base}/submodels/{b64(SERIES)}/submodel-elements/Segments.Recent/$value")).json()["Recent"]
    assert recent["RecordCount"] == 3
    records = recent["Records"]
    assert [records[f"Record0{i}"]["Temperature"] for i in (1, 2, 3)] == [22.0, 23.0, 24.0]
    assert [records[f"Record0{i}"]["Count"] for i in (1, 2, 3)] == [2, 3, 4]
    # the view is not recorded twice: only the live record's elements have a history
    response = await served.http.get(
        f"{served.base}/history/submodels/{b64(SERIES)}/submodel-elements/Segments.Recent.Records.Record01.Count")
    assert response.status_code == 404


async def test_a_restart_keeps_the_recent_records_and_goes_on(tmp_path: Path) -> None:
    settings = HistorySettings(flush_interval_s=0.2, internal_records=3)
    start = time.time() - 60
    async for served in serve(tmp_path / "data", settings, extra=(time_series(),)):
        for index in range(5):
            await record(served, 20.0 + index, index, start + index)
        served.twin.flush()
        await served.twin.persisted()
    async for served in serve(tmp_path / "data", settings, extra=(time_series(),)):
        url = f"{served.base}/submodels/{b64(SERIES)}/submodel-elements/Segments.Recent/$value"
        recent = (await served.http.get(url)).json()["Recent"]
        assert recent["RecordCount"] == 3
        assert [recent["Records"][f"Record0{i}"]["Count"] for i in (1, 2, 3)] == [2, 3, 4]
        await record(served, 30.0, 5, start + 5)
        recent = (await served.http.get(url)).json()["Recent"]
        assert [recent["Records"][f"Record0{i}"]["Count"] for i in (1, 2, 3)] == [3, 4, 5]


async def test_segments_completed_before_storing_need_no_edit_at_start(tmp_path: Path) -> None:
    twin = Twin(open_store(store_url_for(tmp_path / "data")))
    service = HistoryService(twin, HistorySettings(internal_records=3), tmp_path / "data")
    with twin.completing(service.complete):
        twin.create(time_series())
    revision = twin.revision(SERIES)
    await service.start()
    try:
        assert twin.revision(SERIES) == revision  # the start added nothing: the plant's 6,111 were ~20 s
        segments = twin.element(SERIES, "Segments")
        assert isinstance(segments, model.SubmodelElementCollection)
        assert {e.id_short for e in segments.value} == {"LiveValues", "History", "Recent"}
    finally:
        await service.stop()
        twin.close()
