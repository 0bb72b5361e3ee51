"""The live mirror and write-back, against a real uvicorn REST server and real asyncua clients."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from asyncua import Client, Node, ua
from basyx.aas import model
from basyx.aas.model import datatypes as xs

from tests.opcua.conftest import OPERATIONAL, i4aas_of, ns_of
from twinbridge.aas.errors import WriteRejected
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua import OpcUaServer

pytestmark = pytest.mark.asyncio(loop_scope="module")
PREFIX = "/api/v3.0"


def _b64(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def _value_url(submodel_id: str, path: str) -> str:
    return f"{PREFIX}/submodels/{_b64(submodel_id)}/submodel-elements/{path}/$value"


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def _value_node(client: Client, *path: str) -> Node:
    ns, i4aas = await ns_of(client), await i4aas_of(client)
    names = ["AASEnvironment", "Machine1", "OperationalData", *path]
    return await client.nodes.objects.get_child([*(f"{ns}:{name}" for name in names), f"{i4aas}:Value"])


class Notifications:
    """asyncua subscription handler that queues (value, DataValue) pairs."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[Any, ua.DataValue]] = asyncio.Queue()

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        self.queue.put_nowait((value, data.monitored_item.Value))

    async def until(self, expected: Any, timeout: float = 10.0) -> ua.DataValue:
        deadline = time.monotonic() + timeout
        while True:
            value, data_value = await asyncio.wait_for(self.queue.get(), max(0.1, deadline - time.monotonic()))
            if value == expected:
                return data_value


async def test_a_rest_change_reaches_an_opc_ua_subscription(client: Client, rest: httpx.AsyncClient) -> None:
    speed = await _value_node(client, "Speed")
    handler = Notifications()
    subscription = await client.create_subscription(20, handler)
    try:
        await subscription.subscribe_data_change(speed)
        await handler.until(12.5)
        response = await rest.patch(_value_url(OPERATIONAL, "Speed"), json=99.25)
        assert response.status_code == 204, response.text
        data_value = await handler.until(99.25)
        assert data_value.StatusCode.is_good()
        assert data_value.SourceTimestamp is not None
    finally:
        await subscription.delete()


async def test_device_values_carry_source_timestamp_and_quality(twin: Twin, client: Client) -> None:
    handle = twin.live(OPERATIONAL, "Count")
    twin.bind(handle)
    stamp = 1_767_225_600.25  # 2026-01-01T00:00:00.25Z
    twin.update(handle, xs.Int(42), stamp, Quality.GOOD)
    count = await _value_node(client, "Count")

    async def shows(value: int, status: int) -> bool:
        data_value = (await client.uaclient.read_attributes([count.nodeid], ua.AttributeIds.Value))[0]
        return data_value.StatusCode.value == status and (
            data_value.Value.Value == value if value is not None else True)

    await eventually(lambda: shows(42, ua.StatusCodes.Good))
    data_value = await count.read_data_value()
    assert abs(data_value.SourceTimestamp.timestamp() - stamp) < 1e-3
    twin.set_quality(handle, Quality.UNCERTAIN)
    await eventually(lambda: shows(42, ua.StatusCodes.Uncertain))
    twin.set_quality(handle, Quality.BAD)
    await eventually(lambda: shows(None, ua.StatusCodes.Bad))  # type: ignore[arg-type]


async def test_an_opc_ua_write_goes_through_the_twin_and_rest_sees_it(
        twin: Twin, operator: Client, rest: httpx.AsyncClient) -> None:
    label = await _value_node(operator, "Label")
    await label.write_value(ua.DataValue(ua.Variant("stamping", ua.VariantType.String)))
    response = await rest.get(_value_url(OPERATIONAL, "Label"))
    assert response.json() == {"Label": "stamping"}
    assert await label.read_value() == "stamping"
    assert twin.element(OPERATIONAL, "Label").value == "stamping"  # type: ignore[attr-defined]


async def _write_status(client: Client, node: Node, variant: ua.Variant) -> int:
    item = ua.WriteValue()
    item.NodeId = node.nodeid
    item.AttributeId = ua.AttributeIds.Value
    item.Value = ua.DataValue(variant)
    params = ua.WriteParameters()
    params.NodesToWrite = [item]
    return int((await client.uaclient.write(params))[0].value)


async def test_anonymous_and_read_only_users_get_bad_user_access_denied(
        twin: Twin, opcua: OpcUaServer, client: Client) -> None:
    running = await _value_node(client, "Running")
    assert await _write_status(client, running, ua.Variant(False, ua.VariantType.Boolean)) \
        == ua.StatusCodes.BadUserAccessDenied
    viewer = Client(opcua.endpoint_url, timeout=10)
    viewer.set_user("viewer")
    viewer.set_password("view-secret")
    async with viewer:
        node = viewer.get_node(running.nodeid)
        assert await _write_status(viewer, node, ua.Variant(False, ua.VariantType.Boolean)) \
            == ua.StatusCodes.BadUserAccessDenied
        assert await node.read_value() is True
    assert twin.element(OPERATIONAL, "Running").value is True  # type: ignore[attr-defined]


async def test_wrong_types_and_read_only_elements_are_refused_and_the_twin_is_unchanged(
        twin: Twin, operator: Client) -> None:
    running = await _value_node(operator, "Running")
    assert await _write_status(operator, running, ua.Variant(1, ua.VariantType.Int32)) \
        == ua.StatusCodes.BadTypeMismatch
    assert await _write_status(operator, running, ua.Variant([True], ua.VariantType.Boolean)) \
        == ua.StatusCodes.BadTypeMismatch
    assert twin.element(OPERATIONAL, "Running").value is True  # type: ignore[attr-defined]
    day = await _value_node(operator, "Day")
    assert await _write_status(operator, day, ua.Variant("17th of May", ua.VariantType.String)) \
        == ua.StatusCodes.BadOutOfRange
    assert await _write_status(operator, day, ua.Variant("2026-06-01", ua.VariantType.String)) \
        == ua.StatusCodes.Good
    assert twin.element(OPERATIONAL, "Day").value == xs.Date(2026, 6, 1)  # type: ignore[attr-defined]
    ns = await ns_of(operator)
    window_min = await operator.nodes.objects.get_child(
        [*(f"{ns}:{name}" for name in ("AASEnvironment", "Machine1", "OperationalData", "Window")),
         f"{await i4aas_of(operator)}:Min"])
    assert await _write_status(operator, window_min, ua.Variant(0.5, ua.VariantType.Double)) \
        == ua.StatusCodes.BadNotWritable
    fed = twin.live(OPERATIONAL, "Spindle.Torque")
    twin.bind(fed)  # a device feeds it, without write-back
    torque = await _value_node(operator, "Spindle", "Torque")
    assert await _write_status(operator, torque, ua.Variant(1.0, ua.VariantType.Float)) \
        == ua.StatusCodes.BadNotWritable
    level = await torque.read_attribute(ua.AttributeIds.AccessLevel)
    assert not level.Value.Value & ua.AccessLevel.CurrentWrite.mask
    assert twin.element(OPERATIONAL, "Spindle.Torque").value == xs.Float(3.5)  # type: ignore[attr-defined]


async def test_write_back_reaches_the_device_writer_and_a_refusal_leaves_the_node(
        twin: Twin, operator: Client) -> None:
    twin.add_element(OPERATIONAL, None, model.Property("Setpoint", xs.Double, 1.0))
    ns, i4aas = await ns_of(operator), await i4aas_of(operator)
    path = [*(f"{ns}:{name}" for name in ("AASEnvironment", "Machine1", "OperationalData", "Setpoint")),
            f"{i4aas}:Value"]

    async def appeared() -> bool:
        try:
            await operator.nodes.objects.get_child(path)
        except ua.UaError:
            return False
        return True

    await eventually(appeared)
    sent: list[float] = []

    async def device(value: Any) -> None:
        if value > 100:
            raise WriteRejected("Setpoint: above the device's limit of 100")
        sent.append(value)

    twin.bind(twin.live(OPERATIONAL, "Setpoint"), device)
    setpoint = await operator.nodes.objects.get_child(path)
    assert await _write_status(operator, setpoint, ua.Variant(55.5, ua.VariantType.Double)) == ua.StatusCodes.Good
    assert sent == [55.5]
    assert await setpoint.read_value() == 55.5
    assert await _write_status(operator, setpoint, ua.Variant(500.0, ua.VariantType.Double)) \
        == ua.StatusCodes.BadTypeMismatch
    assert sent == [55.5]
    assert await setpoint.read_value() == 55.5
    assert twin.element(OPERATIONAL, "Setpoint").value == 55.5  # type: ignore[attr-defined]


async def test_structure_changes_over_rest_add_and_remove_nodes(client: Client, rest: httpx.AsyncClient) -> None:
    ns = await ns_of(client)
    body = {"modelType": "Submodel", "id": "urn:twinbridge:test:sm:new", "idShort": "Fresh",
            "submodelElements": [{"modelType": "Property", "idShort": "Level", "valueType": "xs:int",
                                  "value": "3"}]}
    response = await rest.post(f"{PREFIX}/submodels", json=body)
    assert response.status_code == 201, response.text
    level_path = [f"{ns}:AASEnvironment", f"{ns}:Fresh", f"{ns}:Level", f"{await i4aas_of(client)}:Value"]

    async def level_reads(expected: int) -> bool:
        try:
            return bool(await (await client.nodes.objects.get_child(level_path)).read_value() == expected)
        except ua.UaError:
            return False

    await eventually(lambda: level_reads(3))
    url = f"{PREFIX}/submodels/{_b64('urn:twinbridge:test:sm:new')}/submodel-elements/Level"
    assert (await rest.delete(url)).status_code == 204

    async def gone() -> bool:
        try:
            await client.nodes.objects.get_child(level_path)
        except ua.UaError:
            return True
        return False

    await eventually(gone)
    assert (await rest.delete(f"{PREFIX}/submodels/{_b64('urn:twinbridge:test:sm:new')}")).status_code == 204

    async def submodel_gone() -> bool:
        names = {(await node.read_browse_name()).Name
                 for node in await (await client.nodes.objects.get_child(f"{ns}:AASEnvironment")).get_children()}
        return "Fresh" not in names

    await eventually(submodel_gone)


async def test_operations_are_callable_methods_for_users_with_write_rights(
        client: Client, operator: Client) -> None:
    ns = await ns_of(operator)
    path = [f"{ns}:{name}" for name in ("AASEnvironment", "Machine1", "OperationalData", "Scale")]
    scale = await operator.nodes.objects.get_child(path)
    assert await scale.call_method(f"{ns}:Invoke", ua.Variant(4.0, ua.VariantType.Double)) == 8.0
    with pytest.raises(ua.UaStatusCodeError) as refused:
        await scale.call_method(f"{ns}:Invoke", ua.Variant("four", ua.VariantType.String))
    assert refused.value.code == ua.StatusCodes.BadInvalidArgument
    anonymous = await client.nodes.objects.get_child(path)
    with pytest.raises(ua.UaStatusCodeError) as denied:
        await anonymous.call_method(f"{ns}:Invoke", ua.Variant(4.0, ua.VariantType.Double))
    assert denied.value.code == ua.StatusCodes.BadUserAccessDenied


async def test_a_flood_of_bad_requests_gets_status_codes_and_the_server_stays_up(client: Client) -> None:
    ns = await ns_of(client)
    unknown = [ua.NodeId(f"sm:nothing#{index}", ns) for index in range(200)]
    results = await client.uaclient.read_attributes(unknown, ua.AttributeIds.Value)
    assert {result.StatusCode.value for result in results} == {ua.StatusCodes.BadNodeIdUnknown}
    speed = await _value_node(client, "Speed")
    reads = await asyncio.gather(*(speed.read_value() for _ in range(300)))
    assert len(reads) == 300
    assert await _write_status(client, client.get_node(unknown[0]), ua.Variant(1.0)) \
        in (ua.StatusCodes.BadNodeIdUnknown, ua.StatusCodes.BadUserAccessDenied)
    assert isinstance(await speed.read_value(), float)


async def test_thousands_of_siblings_are_mirrored_and_browsable(twin: Twin, client: Client) -> None:
    count = 5000
    twin.create(model.Submodel("urn:twinbridge:test:sm:wide", id_short="Wide", submodel_element=[
        model.Property(f"P{index}", xs.Double, float(index)) for index in range(count)]))
    ns = await ns_of(client)

    async def built() -> bool:
        try:
            await client.nodes.objects.get_child([f"{ns}:AASEnvironment", f"{ns}:Wide", f"{ns}:P4999"])
        except ua.UaError:
            return False
        return True

    await eventually(built)
    wide = await client.nodes.objects.get_child([f"{ns}:AASEnvironment", f"{ns}:Wide"])
    children = await wide.get_children(refs=ua.ObjectIds.HasComponent)
    assert len([child for child in children if "#P" in str(child.nodeid.Identifier)]) == count
    middle = await wide.get_child([f"{ns}:P2500", f"{await i4aas_of(client)}:Value"])
    assert await middle.read_value() == 2500.0


async def test_a_shell_posted_over_rest_shares_the_submodel_node(client: Client, rest: httpx.AsyncClient) -> None:
    ns = await ns_of(client)
    body = {"modelType": "AssetAdministrationShell", "id": "urn:twinbridge:test:aas:twin2", "idShort": "Twin2",
            "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:asset:twin2"},
            "submodels": [{"type": "ModelReference",
                           "keys": [{"type": "Submodel", "value": OPERATIONAL}]}]}
    response = await rest.post(f"{PREFIX}/shells", json=body)
    assert response.status_code == 201, response.text

    async def shared() -> bool:
        try:
            via_twin2 = await client.nodes.objects.get_child(
                [f"{ns}:AASEnvironment", f"{ns}:Twin2", f"{ns}:OperationalData"])
        except ua.UaError:
            return False
        via_machine = await client.nodes.objects.get_child(
            [f"{ns}:AASEnvironment", f"{ns}:Machine1", f"{ns}:OperationalData"])
        return bool(via_twin2.nodeid == via_machine.nodeid)

    await eventually(shared)
    assert (await rest.delete(f"{PREFIX}/shells/{_b64('urn:twinbridge:test:aas:twin2')}")).status_code == 204

    async def gone() -> bool:
        environment = await client.nodes.objects.get_child(f"{ns}:AASEnvironment")
        names = {(await node.read_browse_name()).Name for node in await environment.get_children()}
        return "Twin2" not in names and "Machine1" in names

    await eventually(gone)
    speed = await _value_node(client, "Speed")
    assert isinstance(await speed.read_value(), float)


async def test_browse_names_are_unique_among_siblings_only(twin: Twin, client: Client) -> None:
    ns = await ns_of(client)
    first, second = "urn:twinbridge:test:sm:m2:operational", "urn:twinbridge:test:sm:m2:operational-b"
    twin.create(model.Submodel(first, id_short="OperationalData",
                               submodel_element=[model.Property("Speed", xs.Double, 1.0)]))
    twin.create(model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id="urn:asset:m2"),
        "urn:twinbridge:test:aas:m2", id_short="Machine2",
        submodel={model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, first),), model.Submodel)}))

    async def names_of(shell: str) -> set[str]:
        try:
            node = await client.nodes.objects.get_child([f"{ns}:AASEnvironment", f"{ns}:{shell}"])
        except ua.UaError:
            return set()
        return {name.Name for child in await node.get_children(refs=ua.ObjectIds.HasComponent)
                if (name := await child.read_browse_name()).NamespaceIndex == ns}  # not OPC 30270's fixed children

    async def has(shell: str, expected: set[str]) -> bool:
        return await names_of(shell) == expected

    # the same idShort as Machine1's submodel: no suffix, they are not siblings
    await eventually(lambda: has("Machine2", {"OperationalData"}))
    twin.create(model.Submodel(second, id_short="OperationalData"))
    twin.modify(ObjectKind.SHELL, "urn:twinbridge:test:aas:m2", lambda shell: shell.submodel.add(
        model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, second),), model.Submodel)))
    await eventually(lambda: has("Machine2", {"OperationalData", "OperationalData~"
                                              + hashlib.sha1(second.encode()).hexdigest()[:8]}))
    assert "OperationalData" in await names_of("Machine1")
