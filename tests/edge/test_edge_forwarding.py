"""Edge to central over a real Mosquitto: every change arrives once and in order, also when the
link is cut under load and restored (the broker stopped and started again on its port)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from basyx.aas import model
from pydantic import ValidationError

from tests.adapters.mqtt_fixtures import (  # noqa: F401
    SHELL_ID,
    SUBMODEL_ID,
    Mosquitto,
    eventually,
    machine_twin,
    mosquitto_fixture,
)
from twinbridge.aas.bus import DeliveryMode
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.server.config import PlantFile
from twinbridge.server.edge.forwarder import EdgeForwarder
from twinbridge.server.edge.receiver import EdgeReceiver
from twinbridge.server.edge.settings import EdgeSettings

WRITES = 1_200
RATE_HZ = 200


async def test_changes_arrive_once_and_in_order_across_a_link_cut(mosquitto: Mosquitto, tmp_path: Path) -> None:
    edge, central = machine_twin(), Twin()
    receiver = EdgeReceiver(central, EdgeSettings(role="central", url=mosquitto.url))
    forwarder = EdgeForwarder(edge, EdgeSettings(role="edge", url=mosquitto.url, edge_id="line-7",
                                                 resend_after_s=1.0), tmp_path / "edge")
    seen: list[int] = []
    subscription = central.bus.subscribe(mode=DeliveryMode.EVERY)

    async def record_counts() -> None:
        async for batch in subscription:
            seen.extend(int(event.value) for event in batch.values  # type: ignore[arg-type]
                        if event.element.path == "Count")

    collector = asyncio.create_task(record_counts())
    await receiver.start()
    await forwarder.start()
    try:
        await eventually(lambda: SHELL_ID in central.shells and SUBMODEL_ID in central.submodels, 15.0,
                         "the edge's snapshot at the central")
        count = edge.live(SUBMODEL_ID, "Count")
        started = time.monotonic()
        for number in range(1, WRITES + 1):
            edge.update(count, model.datatypes.Long(number), quality=Quality.GOOD)
            if number == WRITES // 4:
                mosquitto.stop()  # the link is cut under load: the edge keeps writing to its outbox
            if number == WRITES // 2:
                edge.add_element(SUBMODEL_ID, None, model.Property("AddedOffline", model.datatypes.Int, 7))
            if number == 3 * WRITES // 4:
                mosquitto.start()  # the link returns on the same port
            await asyncio.sleep(max(0.0, started + number / RATE_HZ - time.monotonic()))
        await asyncio.wait_for(forwarder.delivered(), 60)
        await eventually(lambda: len(seen) >= WRITES, 15.0, "every value at the central")
        assert seen == list(range(1, WRITES + 1))  # nothing lost, nothing twice, in order
        assert central.element(SUBMODEL_ID, "AddedOffline").value == 7  # type: ignore[attr-defined]
        assert central.live(SUBMODEL_ID, "Count").timestamp == count.timestamp  # the source timestamp travels
        assert forwarder.outbox.pending() == 0
        assert receiver.applied["line-7"] == forwarder.outbox.acked
    finally:
        await forwarder.stop()
        await receiver.stop()
        subscription.close()
        collector.cancel()
        central.close()
        edge.close()


async def test_a_restarted_central_applies_nothing_twice(mosquitto: Mosquitto, tmp_path: Path) -> None:
    from twinbridge.aas.store import open_store

    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    edge = machine_twin()
    forwarder = EdgeForwarder(edge, EdgeSettings(role="edge", url=mosquitto.url, edge_id="cell-2",
                                                 resend_after_s=0.5), tmp_path / "edge")
    await forwarder.start()
    count = edge.live(SUBMODEL_ID, "Count")
    try:
        for first, last in ((1, 50), (51, 100)):
            central = Twin(open_store(url))  # the same database: the central's second life
            receiver = EdgeReceiver(central, EdgeSettings(role="central", url=mosquitto.url))
            applied: list[int] = []
            subscription = central.bus.subscribe(mode=DeliveryMode.EVERY)

            async def record(applied: list[int] = applied, subscription: object = subscription) -> None:
                async for batch in subscription:  # type: ignore[attr-defined]
                    applied.extend(int(e.value) for e in batch.values if e.element.path == "Count")

            collector = asyncio.create_task(record())
            if first == 1:
                await receiver.start()
            try:
                for number in range(first, last + 1):
                    edge.update(count, model.datatypes.Long(number))
                if first > 1:  # published while no central listens: the broker drops them after its PUBACK
                    await eventually(lambda: forwarder.sent >= 100, 15.0, "the edge publishing into the void")
                    await receiver.start()
                await asyncio.wait_for(forwarder.delivered(), 30)
                await eventually(lambda last=last, applied=applied: applied[-1:] == [last], 15.0, "the last value")
                assert applied == list(range(first, last + 1))  # the first life's values are not applied again
                assert receiver.applied["cell-2"] == forwarder.outbox.acked
                if first > 1:
                    assert forwarder.resent >= 50  # the outbox, not the broker, had them: sent again
            finally:
                await receiver.stop()
                subscription.close()
                collector.cancel()
                central.close()
    finally:
        await forwarder.stop()
        edge.close()


async def test_the_outbox_outlives_an_edge_restart(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """Changes made while the link is down stay on the edge's disk through a restart of the edge
    process and reach the central when both are back."""
    edge, central = machine_twin(), Twin()
    settings = EdgeSettings(role="edge", url=mosquitto.url, edge_id="press-3", resend_after_s=0.5)
    mosquitto.stop()
    first = EdgeForwarder(edge, settings, tmp_path / "edge")
    await first.start()
    count = edge.live(SUBMODEL_ID, "Count")
    for number in range(1, 101):
        edge.update(count, model.datatypes.Long(number))
    await edge.bus.drained()
    assert first.outbox.pending() == 102  # the snapshot's shell and submodel, and 100 values
    await first.stop()  # the edge process ends with the link still down

    mosquitto.start()
    receiver = EdgeReceiver(central, EdgeSettings(role="central", url=mosquitto.url))
    second = EdgeForwarder(edge, settings, tmp_path / "edge")  # the same outbox file
    await receiver.start()
    await second.start()
    try:
        await asyncio.wait_for(second.delivered(), 30)
        assert central.element(SUBMODEL_ID, "Count").value == 100  # type: ignore[attr-defined]
        assert receiver.applied["press-3"] == 102  # every record once: the position is its sequence
    finally:
        await second.stop()
        await receiver.stop()
        central.close()
        edge.close()


def test_the_plant_file_names_what_an_edge_lacks() -> None:
    with pytest.raises(ValidationError, match="edge_id"):
        PlantFile.model_validate({"server": {"edge": {"role": "edge", "url": "mqtt://broker:1883"}}})
    plant = PlantFile.model_validate({"server": {"edge": {"role": "central", "url": "mqtt://broker:1883"}}})
    assert plant.server.edge is not None and plant.server.edge.role == "central"


async def test_two_applications_edge_to_central_over_rest(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """The plant file's ``server.edge`` wires both sides: a submodel created over the edge's REST API
    and its value written there are served by the central's REST API."""
    import base64

    import httpx

    from tests.ports import free_port
    from tests.serving import serving
    from twinbridge.aas.documents import to_jsonable
    from twinbridge.server.application import Application, Options

    token = "edge-test-token-0123456789abcdef"
    ports = free_port(), free_port()

    def application(port: int, edge: dict[str, object]) -> Application:
        plant = PlantFile.model_validate({"server": {"edge": {"url": mosquitto.url, **edge}}})
        return Application(plant, Options(host="127.0.0.1", port=port, data=tmp_path / str(port), token=token,
                                          opcua=False))

    submodel = model.Submodel("urn:edge:sm:1", id_short="Line7",
                              submodel_element=[model.Property("Speed", model.datatypes.Int, 1)])
    path = f"/submodels/{base64.urlsafe_b64encode(submodel.id.encode()).decode().rstrip('=')}"
    async with serving(application(ports[0], {"role": "central"})), \
            serving(application(ports[1], {"role": "edge", "edge_id": "line-7"})):
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[1]}/api/v3.0", headers=headers) as edge, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}/api/v3.0") as central:
            assert (await edge.post("/submodels", json=to_jsonable(submodel))).status_code == 201
            assert (await edge.patch(f"{path}/submodel-elements/Speed/$value", json=42)).status_code == 204

            async def arrived() -> bool:
                response = await central.get(f"{path}/submodel-elements/Speed/$value")
                return response.status_code == 200 and response.json() == {"Speed": 42}

            deadline = time.monotonic() + 20
            while not await arrived():
                assert time.monotonic() < deadline, "the edge's write never reached the central"
                await asyncio.sleep(0.05)
