"""The hot routes (``server.api.hot``): value writes stay value writes, caches keep what a write
did not touch, tokens name the writer, ``$`` paths still reach their own routes, and the error
vocabulary maps every twin error once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from basyx.aas import model
from fastapi import APIRouter, FastAPI
from pydantic import SecretStr

from tests.api.conftest import PREFIX
from tests.api.test_shells import assert_result
from twinbridge.aas.bus import DeliveryMode
from twinbridge.aas.errors import LimitExceeded, NotFound, StorageError, StorageFull
from twinbridge.aas.events import ChangeKind, StructureChanged, ValueChanged
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity, ApiToken
from twinbridge.server.api.ids import encode_id
from twinbridge.server.api.services import app_services

BIG = "urn:hot:big"
ELEMENTS = f"/submodels/{encode_id(BIG)}/submodel-elements"


def big_submodel() -> model.Submodel:
    """1,000 elements: one Range and ten collections of 99 Properties and one Property."""
    elements: list[model.SubmodelElement] = [model.Range("Limits", model.datatypes.Int, 0, 10)]
    for group in range(10):
        children = [model.Property(f"P{index}", model.datatypes.Int, index,
                                   description=model.MultiLanguageTextType({"en": f"point {index}"}))
                    for index in range(99)]
        elements.append(model.SubmodelElementCollection(f"Group{group}", value=children))
    return model.Submodel(BIG, id_short="Big", submodel_element=elements)


@pytest.fixture
def big_twin() -> Twin:
    twin = Twin()
    twin.create(big_submodel())
    return twin


@pytest.fixture
def big_app(big_twin: Twin) -> FastAPI:
    tokens = [ApiToken(token=SecretStr("w-token"), role="write", name="line-gateway")]
    return create_app(big_twin, prefix=PREFIX, security=ApiSecurity(mode="token", tokens=tokens))


@pytest.fixture
async def http(big_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=big_app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://t{PREFIX}",
                                 headers={"Authorization": "Bearer w-token"}) as client:
        yield client


async def test_value_patch_rerenders_only_the_written_element(http: httpx.AsyncClient, big_app: FastAPI,
                                                              big_twin: Twin) -> None:
    services = app_services(big_app)
    events = big_twin.bus.subscribe(mode=DeliveryMode.EVERY)
    sibling = (await http.get(f"{ELEMENTS}/Group3.P8")).content
    assert (await http.get(f"{ELEMENTS}/Group3.P7")).json()["value"] == "7"
    assert (await http.patch(f"{ELEMENTS}/Group3.P7/$value", json=70)).status_code == 204

    renders: list[str] = []

    def render(element: model.SubmodelElement) -> Any:
        renders.append(element.id_short or "")
        return {"rendered": "again"}

    structure = services.catalogs.current().structure_revision(BIG)
    for path in ("Group3.P8", "Group3.P7"):
        services.renders.element(big_twin, structure, BIG, path, "full/deep/withBlobValue", render)
    assert renders == ["P7"]  # the sibling's cached bytes are still valid; only P7 re-renders
    assert (await http.get(f"{ELEMENTS}/Group3.P8")).content == sibling
    assert (await http.get(f"{ELEMENTS}/Group3.P7/$value")).json() == {"P7": 70}
    batch = events.drain()
    assert batch.structure == []  # a value write is not a structural change
    assert [(event.element.path, event.value, event.origin.who if event.origin else None)
            for event in batch.values] == [("Group3.P7", 70, "line-gateway")]
    events.close()


async def test_put_of_a_new_value_is_a_value_write_and_other_puts_replace(http: httpx.AsyncClient,
                                                                          big_twin: Twin) -> None:
    events = big_twin.bus.subscribe(mode=DeliveryMode.EVERY)
    body = (await http.get(f"{ELEMENTS}/Group1.P5")).json()
    body["value"] = "55"
    assert (await http.put(f"{ELEMENTS}/Group1.P5", json=body)).status_code == 204
    limits = (await http.get(f"{ELEMENTS}/Limits")).json()
    limits["max"] = "20"
    assert (await http.put(f"{ELEMENTS}/Limits", json=limits)).status_code == 204
    batch = events.drain()
    assert batch.structure == []
    assert [type(event) for event in batch.values] == [ValueChanged, ValueChanged]
    assert big_twin.element(BIG, "Group1.P5").value == 55  # type: ignore[attr-defined]
    assert big_twin.element(BIG, "Limits").max == 20  # type: ignore[attr-defined]

    body["description"] = [{"language": "en", "text": "renamed point"}]
    assert (await http.put(f"{ELEMENTS}/Group1.P5", json=body)).status_code == 204
    body["valueType"] = "xs:string"
    body["value"] = "text now"
    assert (await http.put(f"{ELEMENTS}/Group1.P5", json=body)).status_code == 204
    batch = events.drain()
    assert [(type(event), event.kind, event.path) for event in batch.structure if isinstance(event, StructureChanged)
            ] == [(StructureChanged, ChangeKind.REPLACED, "Group1.P5")] * 2
    assert (await http.get(f"{ELEMENTS}/Group1.P5/$value")).json() == {"P5": "text now"}
    bad = body | {"valueType": "xs:int", "value": "not a number"}
    assert_result(await http.put(f"{ELEMENTS}/Group1.P5", json=bad), 400, "not a number")
    events.close()


async def test_structural_writes_name_the_token_holder(http: httpx.AsyncClient, big_twin: Twin) -> None:
    events = big_twin.bus.subscribe(structure_only=True)
    shell = {"modelType": "AssetAdministrationShell", "id": "urn:hot:shell", "idShort": "Hot",
             "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:hot:asset"}}
    assert (await http.post("/shells", json=shell)).status_code == 201
    assert (await http.delete(f"{ELEMENTS}/Group9.P98")).status_code == 204
    origins = [(event.kind, event.origin) for event in events.drain().structure]
    assert [(kind, origin.who, origin.channel) for kind, origin in origins if origin is not None] == [
        (ChangeKind.CREATED, "line-gateway", "rest"), (ChangeKind.DELETED, "line-gateway", "rest")]
    events.close()


async def test_value_writes_need_the_write_role_and_refuse_bad_values(big_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=big_app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://t{PREFIX}") as anonymous:
        assert (await anonymous.get(f"{ELEMENTS}/Group0.P1/$value")).status_code == 200  # reads are open
        assert_result(await anonymous.patch(f"{ELEMENTS}/Group0.P1/$value", json=3), 401, "write")
        rejected = await anonymous.patch(f"{ELEMENTS}/Group0.P1/$value", json="x",
                                         headers={"Authorization": "Bearer w-token"})
        assert_result(rejected, 400, "Group0.P1")
        assert rejected.json()["messages"][0]["code"] == "BadRequest"


async def test_dollar_paths_reach_their_own_routes_and_the_schema_lists_hot_routes(
        http: httpx.AsyncClient) -> None:
    metadata = await http.get(f"{ELEMENTS}/Group0.P1/$metadata")
    assert metadata.status_code == 200 and "value" not in metadata.json()
    assert (await http.get(f"/submodels/{encode_id(BIG)}/$metadata")).json()["idShort"] == "Big"
    assert (await http.get("/shells/$reference")).json()["result"] == []
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert "get" in paths[f"{PREFIX}/shells/{{aasIdentifier}}"]
    value = paths[f"{PREFIX}/submodels/{{submodelIdentifier}}/submodel-elements/{{idShortPath}}/$value"]
    assert {"get", "patch"} <= set(value)
    missing = await http.get(f"{ELEMENTS}/Group0.P100")
    assert_result(missing, 404, "P100")
    assert missing.json()["messages"][0]["code"] == "NotFound"


def failing_router() -> APIRouter:
    router = APIRouter()
    errors = {"full": StorageFull("disk full"), "storage": StorageError("the store is read-only"),
              "limit": LimitExceeded("more than 10 MiB"), "missing": NotFound("no such thing")}

    @router.get("/fail/{name}")
    async def fail(name: str) -> None:
        raise errors[name]

    return router


@pytest.mark.parametrize(("name", "status", "code"), [
    ("full", 507, "InsufficientStorage"), ("storage", 503, "ServiceUnavailable"),
    ("limit", 413, "PayloadTooLarge"), ("missing", 404, "NotFound"),
])
async def test_every_twin_error_has_one_status_and_code(name: str, status: int, code: str) -> None:
    app = create_app(Twin(), prefix=PREFIX, extra_routers=[failing_router()])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://t{PREFIX}") as client:
        response = await client.get(f"/fail/{name}")
    assert_result(response, status)
    assert response.json()["messages"][0]["code"] == code
