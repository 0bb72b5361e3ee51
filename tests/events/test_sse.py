"""``GET /events`` over real HTTP: CloudEvents for REST writes and device updates, filters,
heartbeats, and a stalled client that neither blocks nor slows the others."""

from __future__ import annotations

import asyncio
import base64
import socket
import time

import httpx
from pydantic import SecretStr

from tests.events.conftest import OTHER_ID, SPEED_SEMANTIC, SUBMODEL_ID, Served, events_twin, serve, stream
from twinbridge.aas.quality import Quality
from twinbridge.server.api.auth import ApiSecurity, ApiToken
from twinbridge.server.api.ids import encode_id
from twinbridge.server.events.settings import SseConfig
from twinbridge.server.events.sse import event_stats

REQUIRED = ("specversion", "id", "source", "type")


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def test_a_rest_patch_and_a_device_update_each_arrive_as_a_cloudevent(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as http, stream(http, f"{served.base}/events") as events:
        response = await http.patch(
            f"{served.base}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements/Setpoint/$value", json=2.5)
        assert response.status_code == 204, response.text
        frame = await events.event()
        assert frame.event == "valueChanged"
        cloud = frame.data
        assert cloud is not None
        assert all(cloud[name] for name in REQUIRED)
        assert cloud["specversion"] == "1.0"
        assert cloud["type"] == "io.admin-shell.events.v1.valueChanged"
        assert cloud["source"] == f"{served.base}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements/Setpoint"
        assert cloud["subject"] == "Setpoint"
        assert cloud["data"] == 2.5
        assert cloud["quality"] == "Good"
        assert cloud["datacontenttype"] == "application/json"
        assert str(cloud["dataschema"]).endswith("/Property")
        assert frame.id == cloud["id"]

        handle = served.twin.live(SUBMODEL_ID, "Motor.Speed")
        served.twin.update(handle, 1450, timestamp=1_700_000_000.25, quality=Quality.UNCERTAIN)
        frame = await events.event()
        cloud = frame.data
        assert cloud is not None
        assert cloud["subject"] == "Motor.Speed"
        assert cloud["data"] == 1450
        assert cloud["time"] == "2023-11-14T22:13:20.250000Z"  # the source timestamp
        assert cloud["quality"] == "Uncertain"
        assert cloud["semanticid"] == SPEED_SEMANTIC
        assert frame.id != cloud["id"] or frame.id is not None


async def test_structure_changes_are_created_updated_deleted(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as http, stream(http, f"{served.base}/events") as events:
        element = {"modelType": "Property", "idShort": "Torque", "valueType": "xs:double", "value": "3.5"}
        base = f"{served.base}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements"
        assert (await http.post(base, json=element)).status_code == 201
        frame = await events.event()
        assert frame.event == "created" and frame.data is not None
        assert frame.data["type"] == "io.admin-shell.events.v1.created"
        assert frame.data["data"] == element
        assert (await http.delete(f"{base}/Torque")).status_code == 204
        frame = await events.event()
        assert frame.event == "deleted" and frame.data is not None
        assert "data" not in frame.data  # async-aas: the source names what was deleted
        assert frame.data["source"] == f"{base}/Torque"
        assert (await http.delete(f"{served.base}/submodels/{encode_id(OTHER_ID)}")).status_code == 204
        frame = await events.event()
        assert frame.event == "deleted" and frame.data is not None
        assert frame.data["source"] == f"{served.base}/submodels/{encode_id(OTHER_ID)}"


async def test_filters_narrow_the_stream(served: Served) -> None:
    twin = served.twin
    speed, current = twin.live(SUBMODEL_ID, "Motor.Speed"), twin.live(SUBMODEL_ID, "Motor.Current")
    setpoint, level = twin.live(SUBMODEL_ID, "Setpoint"), twin.live(OTHER_ID, "Level")
    async with httpx.AsyncClient(timeout=10) as http, \
            stream(http, f"{served.base}/events", submodel=b64(OTHER_ID)) as by_submodel, \
            stream(http, f"{served.base}/events", semanticId=b64(SPEED_SEMANTIC)) as by_semantic, \
            stream(http, f"{served.base}/events", idShortPath="Motor") as by_path, \
            stream(http, f"{served.base}/events", types="deleted") as by_type:
        twin.update(setpoint, 3.0)
        twin.update(current, 1.5)
        twin.update(speed, 7)
        twin.update(level, 9)
        twin.delete_element(SUBMODEL_ID, "Setpoint")
        assert _subject(await by_submodel.event()) == "Level"
        assert _subject(await by_semantic.event()) == "Motor.Speed"
        assert [_subject(await by_path.event()), _subject(await by_path.event())] == ["Motor.Current", "Motor.Speed"]
        frame = await by_type.event()
        assert frame.event == "deleted" and _subject(frame) == "Setpoint"
        # nothing else was queued for the narrowed streams: the next thing each sees is the next change
        twin.update(level, 10)
        frame = await by_submodel.event()
        assert frame.data is not None and frame.data["data"] == 10


async def test_bad_filters_are_rejected_with_a_result_body(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{served.base}/events", params={"types": "valueChanged,exploded"})
        assert response.status_code == 400
        assert "exploded" in response.json()["messages"][0]["text"]
        response = await http.get(f"{served.base}/events", params={"submodel": "not base64!"})
        assert response.status_code == 400


async def test_an_idle_stream_carries_heartbeats(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as http, stream(http, f"{served.base}/events") as events:
        frame = await events.frame(timeout=2)
        assert frame.comments == ["heartbeat"] and frame.event is None


async def test_last_event_id_resumes_with_exactly_the_missed_events(served: Served) -> None:
    twin = served.twin
    setpoint = f"{served.base}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements/Setpoint/$value"
    async with httpx.AsyncClient(timeout=10) as http:
        async with stream(http, f"{served.base}/events") as events, \
                stream(http, f"{served.base}/events") as other:
            assert (await http.patch(setpoint, json=2.0)).status_code == 204
            seen = await events.event()
            assert seen.id == (await other.event()).id  # one id per event, whoever reads it
        # disconnected: three changes happen meanwhile
        assert (await http.patch(setpoint, json=3.0)).status_code == 204
        twin.update(twin.live(SUBMODEL_ID, "Motor.Speed"), 99)
        element = {"modelType": "Property", "idShort": "Torque", "valueType": "xs:double", "value": "1.5"}
        assert (await http.post(f"{served.base}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements",
                                json=element)).status_code == 201
        await twin.bus.drained()
        assert seen.id is not None
        http.headers["Last-Event-ID"] = seen.id
        async with stream(http, f"{served.base}/events") as resumed:
            missed = [await resumed.event() for _ in range(3)]
            # the bus hands structure before values within one batch; the log keeps the bus's order
            assert sorted((str(frame.event), str(_subject(frame))) for frame in missed) == [
                ("created", "Torque"), ("valueChanged", "Motor.Speed"), ("valueChanged", "Setpoint")]
            assert {_subject(frame): frame.data["data"] for frame in missed if frame.data}["Setpoint"] == 3.0
            ids = [seen.id] + [frame.id for frame in missed]
            assert [int(str(event_id).rsplit("-", 1)[1]) for event_id in ids] == sorted(
                int(str(event_id).rsplit("-", 1)[1]) for event_id in ids)  # ordered
            twin.update(twin.live(SUBMODEL_ID, "Motor.Speed"), 100)
            live = await resumed.event()  # then the live stream, nothing repeated
            assert _subject(live) == "Motor.Speed" and live.data is not None and live.data["data"] == 100
        http.headers["Last-Event-ID"] = str(live.id)  # resuming at the head: nothing to replay
        async with stream(http, f"{served.base}/events") as again:
            twin.update(twin.live(SUBMODEL_ID, "Motor.Speed"), 101)
            frame = await again.event()
            assert frame.data is not None and frame.data["data"] == 101


async def test_a_last_event_id_of_another_run_continues_from_now_and_says_so(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10, headers={"Last-Event-ID": "abc-12"}) as http, \
            http.stream("GET", f"{served.base}/events") as response:
        lines = response.aiter_lines()
        seen = [await asyncio.wait_for(anext(lines), 5) for _ in range(4)]
        assert any("not from this run" in line for line in seen)


async def test_a_stalled_client_is_dropped_and_does_not_delay_the_others(served: Served) -> None:
    host, port = served.base.removeprefix("http://").split("/")[0].split(":")
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
    stalled.connect((host, int(port)))
    stalled.sendall(f"GET /api/v3.0/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    twin = served.twin
    handle = twin.live(SUBMODEL_ID, "Motor.Current")
    stats = event_stats(served.app.state)
    try:
        async with httpx.AsyncClient(timeout=10) as http, stream(http, f"{served.base}/events") as healthy:
            while stats.sse_clients < 2:  # the stalled client is subscribed (it never reads a byte)
                await asyncio.sleep(0.01)
            started = time.monotonic()
            rounds = 0
            while stats.clients_dropped == 0:
                assert time.monotonic() - started < 20, "the stalled client was never dropped"
                for i in range(40):  # bursts within the queue of 50 a client may fall behind
                    twin.update(handle, float(rounds * 40 + i))
                for i in range(40):
                    frame = await healthy.event()
                    assert frame.data is not None and frame.data["data"] == float(rounds * 40 + i)
                rounds += 1
            assert stats.sse_clients == 1  # only the healthy one is left
            twin.update(handle, -1.0)
            frame = await healthy.event()
            assert frame.data is not None and frame.data["data"] == -1.0
    finally:
        stalled.close()


def _subject(frame: object) -> object:
    data = getattr(frame, "data", None)
    assert isinstance(data, dict)
    return data.get("subject")


async def test_the_stream_needs_the_read_role_when_reads_are_closed() -> None:
    security = ApiSecurity(mode="token", read_open=False,
                           tokens=[ApiToken(token=SecretStr("r" * 32), role="read", name="reader")])
    running = await serve(events_twin(), SseConfig(heartbeat_s=0.2), security)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{running.base}/events")
            assert response.status_code == 401
            assert response.json()["messages"][0]["messageType"] == "Error"
            http.headers["Authorization"] = "Bearer " + "r" * 32
            async with stream(http, f"{running.base}/events") as events:
                assert (await events.frame(timeout=2)).comments == ["heartbeat"]
    finally:
        running.server.should_exit = True
        for task in running.tasks:
            await task
