"""GeneralModelChangeEvents: a structural change over REST tells subscribed OPC UA clients what to re-browse.

Real peers on both sides: the REST API over a socket (uvicorn, httpx) and an asyncua client
subscribed to the Server object's events.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from asyncua import Client, ua

from tests.opcua.conftest import OPERATIONAL, i4aas_of, ns_of
from twinbridge.server.opcua import OpcUaServer

pytestmark = pytest.mark.asyncio(loop_scope="module")
PREFIX = "/api/v3.0"
NODE_ADDED, NODE_DELETED, REFERENCE_ADDED, REFERENCE_DELETED = 1, 2, 4, 8


def _b64(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


class ModelChanges:
    """asyncua event handler keeping the Changes of each GeneralModelChangeEvent."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[list[ua.ModelChangeStructureDataType]] = asyncio.Queue()
        self.types: dict[str, str] = {}

    def event_notification(self, event: Any) -> None:
        if event.EventType == ua.NodeId(ua.ObjectIds.GeneralModelChangeEventType):
            self.queue.put_nowait(list(event.Changes))

    async def next(self) -> dict[str, int]:
        """The next event's changes as {NodeId string: verb} (their types in ``types``)."""
        changes = await asyncio.wait_for(self.queue.get(), 10)
        self.types = {change.Affected.to_string(): change.AffectedType.to_string() for change in changes}
        return {change.Affected.to_string(): change.Verb for change in changes}


async def test_rest_structure_changes_send_general_model_change_events(
        opcua: OpcUaServer, client: Client, rest: httpx.AsyncClient) -> None:
    ns = await ns_of(client)
    handler = ModelChanges()
    subscription = await client.create_subscription(20, handler)
    event_type = client.get_node(ua.ObjectIds.GeneralModelChangeEventType)
    try:
        await subscription.subscribe_events(client.nodes.server, event_type)
        submodel_node = f"ns={ns};s=sm:{OPERATIONAL}"

        body = {"modelType": "Property", "idShort": "Added", "valueType": "xs:int", "value": "1"}
        response = await rest.post(f"{PREFIX}/submodels/{_b64(OPERATIONAL)}/submodel-elements", json=body)
        assert response.status_code == 201, response.text
        added = await handler.next()
        element_node = f"ns={ns};s=sm:{OPERATIONAL}#Added"
        assert added == {element_node: NODE_ADDED | REFERENCE_ADDED, submodel_node: REFERENCE_ADDED}
        i4aas = await i4aas_of(client)
        assert handler.types[element_node] == f"ns={i4aas};i=1013"  # AASPropertyType
        changes = await _last_changes(client, subscription, handler, rest, body)
        assert changes[element_node] == NODE_ADDED | NODE_DELETED | REFERENCE_ADDED | REFERENCE_DELETED

        url = f"{PREFIX}/submodels/{_b64(OPERATIONAL)}/submodel-elements/Added"
        assert (await rest.delete(url)).status_code == 204
        assert await handler.next() == {element_node: NODE_DELETED | REFERENCE_DELETED,
                                        submodel_node: REFERENCE_DELETED}

        fresh = "urn:twinbridge:test:sm:changes"
        response = await rest.post(f"{PREFIX}/submodels", json={"modelType": "Submodel", "id": fresh,
                                                                "idShort": "Changes"})
        assert response.status_code == 201, response.text
        assert await handler.next() == {f"ns={ns};s=sm:{fresh}": NODE_ADDED | REFERENCE_ADDED,
                                        f"ns={ns};s=AASEnvironment": REFERENCE_ADDED}
        assert (await rest.delete(f"{PREFIX}/submodels/{_b64(fresh)}")).status_code == 204
        assert await handler.next() == {f"ns={ns};s=sm:{fresh}": NODE_DELETED | REFERENCE_DELETED,
                                        f"ns={ns};s=AASEnvironment": REFERENCE_DELETED}

        shell = {"modelType": "AssetAdministrationShell", "id": "urn:twinbridge:test:aas:changes", "idShort": "New",
                 "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:asset:new"}}
        assert (await rest.post(f"{PREFIX}/shells", json=shell)).status_code == 201
        assert await handler.next() == {f"ns={ns};s=aas:urn:twinbridge:test:aas:changes": NODE_ADDED | REFERENCE_ADDED,
                                        f"ns={ns};s=AASEnvironment": REFERENCE_ADDED}
    finally:
        await subscription.delete()


async def _last_changes(client: Client, subscription: Any, handler: ModelChanges, rest: httpx.AsyncClient,
                        body: dict[str, Any]) -> dict[str, int]:
    """PUT the element again with another type: a replaced element, with its new type definition."""
    body = {**body, "valueType": "xs:string", "value": "one"}
    url = f"{PREFIX}/submodels/{_b64(OPERATIONAL)}/submodel-elements/Added"
    response = await rest.put(url, json=body)
    assert response.status_code == 204, response.text
    return await handler.next()
