"""``Last-Event-ID`` across a restart, over real HTTP: the composed application (with its history
journal) is stopped and started again on the same data directory, and a client reconnecting with
an id of the first run is replayed exactly the structural changes and client writes it missed,
then this run's events, then the live stream."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.events.conftest import Frame, SseReader, stream
from tests.ports import free_port
from tests.serving import serving
from twinbridge.server.api.ids import encode_id
from twinbridge.server.application import Application, Options
from twinbridge.server.config import parse_plant_file
from twinbridge.server.events.model import TYPE_PREFIX

SUBMODEL_ID = "urn:twinbridge:test:sm:resume"
SUBMODEL = {"modelType": "Submodel", "id": SUBMODEL_ID, "idShort": "Resume", "submodelElements": [
    {"modelType": "Property", "idShort": "Level", "valueType": "xs:int", "value": "1"},
    {"modelType": "Property", "idShort": "Speed", "valueType": "xs:double", "value": "0.5"}]}
PLANT = """
server:
  auth: none
  semantic: "off"
  opcua: {enabled: false}
  events:
    sse: {heartbeat_s: 0.2}
"""


def application(data: Path) -> tuple[Application, str]:
    port = free_port()
    options = Options(host="127.0.0.1", port=port, data=data, opcua=False)
    return Application(parse_plant_file(PLANT), options), f"http://127.0.0.1:{port}/api/v3.0"


def summary(frame: Frame) -> tuple[str | None, object, object]:
    assert frame.data is not None
    return frame.event, frame.data.get("subject"), frame.data.get("data")


async def test_an_id_of_the_earlier_run_replays_what_the_client_missed_from_the_journal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    elements = f"/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements"
    first, base = application(data)
    async with serving(first), httpx.AsyncClient(timeout=10) as http:
        async with stream(http, f"{base}/events") as events:
            assert (await http.post(f"{base}/submodels", json=SUBMODEL)).status_code == 201
            assert (await events.event()).event == "created"
            first.twin.update(first.twin.live(SUBMODEL_ID, "Speed"), 2.5)  # a device value
            seen = await events.event()
            assert summary(seen) == ("valueChanged", "Speed", 2.5)
        # the client is gone: a client write and a structural change it misses, then the server stops
        assert (await http.patch(f"{base}{elements}/Level/$value", json=5)).status_code == 204
        torque = {"modelType": "Property", "idShort": "Torque", "valueType": "xs:double", "value": "3.5"}
        assert (await http.post(f"{base}{elements}", json=torque)).status_code == 201
        first.twin.update(first.twin.live(SUBMODEL_ID, "Speed"), 3.5)  # a device value: not journaled
    assert seen.id is not None

    second, base = application(data)
    async with serving(second), httpx.AsyncClient(timeout=10) as http:
        assert (await http.patch(f"{base}{elements}/Level/$value", json=7)).status_code == 204  # this run
        await second.twin.bus.drained()
        http.headers["Last-Event-ID"] = seen.id
        async with http.stream("GET", f"{base}/events") as response:
            resumed = SseReader(response)
            greeting = await resumed.frame()
            assert any("replayed 2 structural changes and client writes" in line for line in greeting.comments)
            assert any("device values" in line for line in greeting.comments)  # what it cannot replay
            missed = [await resumed.event() for _ in range(3)]
            assert [summary(frame) for frame in missed] == [
                ("valueChanged", "Level", 5), ("created", "Torque", torque), ("valueChanged", "Level", 7)]
            write, created = (frame.data for frame in missed[:2])
            assert write is not None and created is not None
            assert write["type"] == TYPE_PREFIX + "valueChanged" and write["quality"] == "Good"
            assert write["source"] == f"{base}{elements}/Level" and write["origin"] == "rest:anonymous"
            assert created["type"] == TYPE_PREFIX + "created" and str(created["dataschema"]).endswith("/Property")
            assert all(frame.id == (frame.data or {}).get("id") for frame in missed)
            assert (await http.delete(f"{base}{elements}/Torque")).status_code == 204
            live = await resumed.event()  # then the live stream: nothing repeated, nothing else
            assert summary(live) == ("deleted", "Torque", None)

        # a client that dropped in the middle of the replay resumes from the replayed event's id
        assert missed[0].id is not None and missed[0].id.startswith("r-")
        http.headers["Last-Event-ID"] = missed[0].id
        async with stream(http, f"{base}/events") as again:
            assert [summary(await again.event()) for _ in range(3)] == [
                ("created", "Torque", torque), ("valueChanged", "Level", 7), ("deleted", "Torque", None)]

        http.headers["Last-Event-ID"] = "0badc0de-4-3.ffffffff"  # no such journal entry
        async with http.stream("GET", f"{base}/events") as response:
            greeting = await SseReader(response).frame()
            assert any("names no entry of this server's journal" in line for line in greeting.comments)
