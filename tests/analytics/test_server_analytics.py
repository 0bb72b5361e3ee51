"""The analytics section on a running server: a planted anomaly raises an alarm that REST lists and
acknowledges; virtual properties follow their inputs; validate names bad analytics by field and line."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from asyncua import Client, ua

from tests.ports import free_port
from tests.serving import serving
from twinbridge.aas.errors import InvalidInput
from twinbridge.aas.quality import Quality
from twinbridge.analytics.virtual import walk_elements
from twinbridge.server.application import Application, Options
from twinbridge.server.config import ConfigError, parse_plant_file
from twinbridge.server.opcua.types import NAMESPACE
from twinbridge.server.plant_check import check_plant_file

TOKEN = "w" * 32
PLANT = """\
plant:
  base_iri: https://example.com/t/
  assets:
    - id_short: Plant
      level: plant
      children:
        - id_short: Press1
          level: machine
          signals:
            - {id_short: Vibration, unit: mm/s}
            - {id_short: Power, unit: kW}
            - {id_short: Throughput, unit: 1/h}
            - {id_short: Mode, value_type: xs:string}
server:
  auth:
    tokens: [{token: TOKEN, role: write, name: operator-anna}]
    read_open: true
analytics:
  signals:
    - asset: Press1
      signal: Vibration
      anomaly: {detector: ewma, raise_at: 0.99, clear_at: 0.3, min_interval_s: 0}
    - asset: Press1
      signal: Power
      filters: [{filter: moving_average, window: 2}, {filter: range, low: 0, high: 100}]
  virtual:
    - {asset: Press1, id_short: SpecificEnergy, expression: "Power / max(Throughput, 1)"}
""".replace("TOKEN", TOKEN)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Application, str]]:
    port = free_port()
    options = Options(host="127.0.0.1", port=port, data=tmp_path, opcua=False)
    async with serving(Application(parse_plant_file(PLANT), options)) as application:
        yield application, f"http://127.0.0.1:{port}/api/v3.0"


OPERATIONAL = "https://example.com/t/Plant/Press1/OperationalData"
LIVE = "Segments.LiveValues.Records.Current"


async def test_planted_anomaly_raises_an_alarm_acknowledged_over_rest(served: tuple[Application, str]) -> None:
    application, base = served
    twin = application.twin
    operational = next(sm.id for sm in twin.submodels.values() if sm.id_short == "OperationalData")
    vibration = twin.live(operational, f"{LIVE}.Vibration")
    values = np.random.default_rng(0).normal(5.0, 0.2, 300)
    values[250] = 9.0  # the bearing knocks once
    for i, value in enumerate(values.tolist()):
        twin.update(vibration, value, timestamp=1_700_000_000.0 + i)
    await twin.bus.drained()
    async with httpx.AsyncClient() as client:
        listed = (await client.get(f"{base}/alarms", params={"state": "all"})).json()["result"]
        assert [a["source"] for a in listed] == ["Press1_Vibration"]
        alarm = listed[0]
        assert alarm["condition"] == "anomaly" and alarm["value"] >= 0.99 and alarm["acknowledgedBy"] is None
        assert alarm["raisedAt"].startswith("2023-11-14T22:17:30")  # the sample's own time (index 250)
        pm = next(sm.id for sm in twin.submodels.values() if sm.id_short == "PredictiveMaintenance")
        score = await client.get(f"{base}/submodels/{_b64(pm)}/submodel-elements/"
                                 "AnomalyDetection.Press1_Vibration.AnomalyScore/$value")
        assert score.status_code == 200 and 0.0 <= score.json()["AnomalyScore"] <= 1.0

        url = f"{base}/alarms/{alarm['id']}/acknowledge"
        refused = await client.post(url)
        assert refused.status_code == 401 and refused.json()["messages"][0]["messageType"] == "Error"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        acked = await client.post(url, headers=headers)
        assert acked.status_code == 200 and acked.json()["acknowledgedBy"] == "operator-anna"
        again = await client.post(url, headers=headers)
        assert again.status_code == 409 and "already acknowledged" in again.json()["messages"][0]["text"]
        missing = await client.post(f"{base}/alarms/999/acknowledge", headers=headers)
        assert missing.status_code == 404
        confirmed = await client.post(f"{base}/alarms/{alarm['id']}/confirm", headers=headers)
        assert confirmed.json()["confirmedBy"] == "operator-anna"
        unacked = (await client.get(f"{base}/alarms", params={"acknowledged": "false"})).json()["result"]
        assert unacked == []
        shelved = await client.post(f"{base}/alarms/{alarm['id']}/shelve", params={"seconds": 60}, headers=headers)
        assert shelved.status_code == 200 and "shelvedUntil" in shelved.json()


async def test_virtual_property_follows_its_inputs(served: tuple[Application, str]) -> None:
    application, _ = served
    twin = application.twin
    operational = next(sm.id for sm in twin.submodels.values() if sm.id_short == "OperationalData")
    twin.update(twin.live(operational, f"{LIVE}.Power"), 20.0, timestamp=1.0)
    twin.update(twin.live(operational, f"{LIVE}.Throughput"), 400.0, timestamp=2.0)
    await twin.bus.drained()
    assert twin.value(twin.live(operational, f"{LIVE}.SpecificEnergy")) == pytest.approx(0.05)


async def test_filters_publish_the_cleaned_value_beside_the_raw_one(served: tuple[Application, str]) -> None:
    application, _ = served
    twin = application.twin
    operational = next(sm.id for sm in twin.submodels.values() if sm.id_short == "OperationalData")
    power = twin.live(operational, f"{LIVE}.Power")
    for i, value in enumerate((10.0, 20.0, 40.0)):
        twin.update(power, value, timestamp=10.0 + i)
    await twin.bus.drained()
    cleaned = twin.live(operational, f"{LIVE}.PowerFiltered")
    assert twin.value(cleaned) == pytest.approx(30.0) and twin.value(power) == 40.0
    twin.update(power, 500.0, timestamp=13.0)  # out of the 0..100 kW range: the mean is Bad
    await twin.bus.drained()
    assert cleaned.quality is Quality.BAD


BAD = PLANT.replace("detector: ewma", "detector: nosuch").replace(
    'expression: "Power / max(Throughput, 1)"', 'expression: "Power / Throughput + Torque"') + """\
    - {asset: Press1, id_short: A, expression: "B + 1"}
    - {asset: Press1, id_short: B, expression: "A * 2"}
"""


def test_schema_errors_name_field_and_line() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_plant_file(BAD)
    (problem,) = raised.value.problems
    assert problem.startswith("analytics.signals[0].anomaly.detector (line 22): unknown detector 'nosuch'")


def test_validate_names_plant_problems_with_lines(tmp_path: Path) -> None:
    text = PLANT.replace("signal: Vibration", "signal: Mode").replace(
        "anomaly: {detector: ewma, raise_at: 0.99, clear_at: 0.3, min_interval_s: 0}",
        "filters: [{filter: ewma, alpha: 0.5}]") + """\
    - {asset: Press1, id_short: Load, expression: "Power / Torque"}
"""
    path = tmp_path / "plant.yaml"
    path.write_text(text)
    _, problems = check_plant_file(path)
    assert problems[0] == "analytics.signals[0].signal (line 21): Press1.Mode is not numeric; filters, anomaly " \
                          "detection and RUL need a number"
    assert problems[1].startswith("analytics.virtual[1].expression (line 28): virtual property 'Load': unknown")
    assert "Torque" in problems[1]
    path.write_text(PLANT + """\
    - {asset: Press1, id_short: A, expression: "B + 1"}
    - {asset: Press1, id_short: B, expression: "A * 2"}
""")
    _, problems = check_plant_file(path)
    assert len(problems) == 1 and "cycle" in problems[0] and "(line 2" in problems[0]


class _Events:
    def __init__(self) -> None:
        self.received: list[Any] = []

    def event_notification(self, event: Any) -> None:
        self.received.append(event)


async def test_alarm_is_an_opcua_condition_acknowledged_and_confirmed(tmp_path: Path) -> None:
    plant_file = parse_plant_file(PLANT.replace("server:\n", """\
server:
  opcua: {users: [{name: anna, password: secret-pass, rights: readwrite}]}
"""))
    port, opcua_port = free_port(), free_port()
    application = Application(plant_file, Options(host="127.0.0.1", port=port, data=tmp_path, opcua_port=opcua_port))
    await application.start()
    try:
        endpoint = f"opc.tcp://127.0.0.1:{opcua_port}/twinbridge"
        reader = Client(endpoint, timeout=10)
        writer = Client(endpoint, timeout=10)
        writer.set_user("anna")
        writer.set_password("secret-pass")
        async with reader, writer:
            events = _Events()
            subscription = await writer.create_subscription(20, events)
            await subscription.subscribe_events(writer.nodes.server, ua.ObjectIds.AlarmConditionType)
            twin = application.twin
            operational = next(sm.id for sm in twin.submodels.values() if sm.id_short == "OperationalData")
            values = np.random.default_rng(0).normal(5.0, 0.2, 300)
            values[250] = 9.0
            for i, value in enumerate(values.tolist()):
                twin.update(twin.live(operational, f"{LIVE}.Vibration"), value, timestamp=1_700_000_000.0 + i)
            await twin.bus.drained()
            for _ in range(100):
                if len(events.received) >= 2:  # raised, then cleared
                    break
                await asyncio.sleep(0.05)
            raised, cleared = events.received[:2]
            assert (raised.ConditionName, raised.SourceName, raised.Severity) == ("anomaly", "Press1_Vibration", 500)
            assert raised.ActiveState.Text == "Active" and cleared.ActiveState.Text == "Inactive"
            assert cleared.Retain is True  # inactive but not yet acknowledged
            ns = await writer.get_namespace_index(NAMESPACE)
            condition = ua.NodeId("Alarms.Press1_Vibration.anomaly", ns)
            acknowledge = ua.NodeId(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge)
            confirm = ua.NodeId(ua.ObjectIds.AcknowledgeableConditionType_Confirm)
            comment = ua.LocalizedText("bearing inspected")
            with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):
                await reader.get_node(condition).call_method(acknowledge, cleared.EventId, comment)
            with pytest.raises(ua.UaStatusCodeError, match="BadEventIdUnknown"):
                await writer.get_node(condition).call_method(acknowledge, b"nope", comment)
            await writer.get_node(condition).call_method(acknowledge, cleared.EventId, comment)
            await writer.get_node(condition).call_method(confirm, cleared.EventId, comment)
            (alarm,) = application.analytics.alarms.alarms.values()  # type: ignore[union-attr]
            assert (alarm.acknowledged_by, alarm.confirmed_by) == ("opcua:anna", "opcua:anna")
            for _ in range(100):
                if len(events.received) >= 4:
                    break
                await asyncio.sleep(0.05)
            assert events.received[-1].ConfirmedState.Text == "Confirmed" and events.received[-1].Retain is False
    finally:
        await application.stop()


async def test_rul_below_its_limit_raises_an_alarm_once_the_machine_has_degraded(tmp_path: Path) -> None:
    text = PLANT.replace("anomaly: {detector: ewma, raise_at: 0.99, clear_at: 0.3, min_interval_s: 0}",
                         "rul: {failure_level: 2.0, healthy_level: 1.0, every: 10, limit_s: 3600}")
    application = Application(parse_plant_file(text), Options(host="127.0.0.1", port=free_port(), data=tmp_path,
                                                              opcua=False))
    await application.start()
    try:
        twin = application.twin
        assert application.analytics is not None
        book = application.analytics.alarms
        operational = next(sm.id for sm in twin.submodels.values() if sm.id_short == "OperationalData")
        vibration = twin.live(operational, f"{LIVE}.Vibration")
        start = 1_700_000_000.0
        for i in range(160):  # 0.005 per minute from 1.0: fails (2.0) at minute 200
            twin.update(vibration, 1.0 + 0.005 * i, timestamp=start + 60.0 * i)
            if i == 89:
                await twin.bus.drained()
                assert book.alarms == {}  # health still above 0.5: no RUL alarm yet
        await twin.bus.drained()
        (alarm,) = book.alarms.values()
        assert alarm.rule.name == "rul" and alarm.source == "Press1_Vibration" and alarm.value < 3600.0
        # what the monitors added (estimates, health, the filtered sibling) is described too
        elements = [element for sm in twin.submodels.values() for _, element in walk_elements(sm, "")]
        assert {"RemainingUsfulLifeDateTime", "HealthIndicator", "PowerFiltered"} <= {e.id_short for e in elements}
        undescribed = {f"{e.id_short}: {e.semantic_id.key[0].value}" for e in elements
                       if e.semantic_id is not None and e.semantic_id.key[0].value not in twin.concept_descriptions}
        assert undescribed == set()
    finally:
        await application.stop()


async def test_a_start_against_a_plant_without_the_signal_names_the_field(tmp_path: Path) -> None:
    text = PLANT.replace("signal: Vibration", "signal: Vibrations")
    application = Application(parse_plant_file(text), Options(host="127.0.0.1", port=free_port(), data=tmp_path,
                                                              opcua=False))
    try:
        with pytest.raises(InvalidInput, match=r"^analytics.signals\[0\].signal: asset 'Press1' has no signal"):
            await application.start()
    finally:
        await application.stop()


def test_a_misspelt_analytics_key_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"analytics.signals\[0\].anomali \(line 22\).*did you mean 'anomaly'"):
        parse_plant_file(PLANT.replace("anomaly: {", "anomali: {"))
