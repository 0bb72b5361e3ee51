"""Submodel elements over HTTP: reads with every modifier, writes, bad input, live headers, device write-back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from aas_core3 import jsonization, verification
from basyx.aas import model

from tests.api.conftest import SHELL_ID, SUBMODEL_ID, load_full_example
from tests.api.test_submodels import aas_core_clean
from twinbridge.aas.errors import WriteRejected
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.server.api.ids import encode_id

SM = f"/submodels/{encode_id(SUBMODEL_ID)}"
VIA_SHELL = f"/shells/{encode_id(SHELL_ID)}/submodels/{encode_id(SUBMODEL_ID)}"
COLLECTION = "ExampleSubmodelCollection"
IDENTIFICATION_ID = "http://example.org/Submodels/Assets/TestAsset/Identification"
IDENTIFICATION = f"/submodels/{encode_id(IDENTIFICATION_ID)}"


@pytest.fixture
def full_twin() -> Twin:
    return aas_core_clean(load_full_example(Twin()))


def _error_text(response: httpx.Response) -> str:
    return str(response.json()["messages"][0]["text"])


def _verified_element(data: Any) -> None:
    element = jsonization.submodel_element_from_jsonable(data)
    assert [f"{error.path}: {error.cause}" for error in verification.verify(element)] == []


async def _all_paths(client: httpx.AsyncClient) -> list[str]:
    paths: list[str] = []
    for submodel in (await client.get("/submodels")).json()["result"]:
        base = f"/submodels/{encode_id(submodel['id'])}"
        paths.extend(f"{base}/submodel-elements/{path}" for path in (await client.get(f"{base}/$path")).json())
    return paths


async def test_every_element_response_passes_aas_core(client: httpx.AsyncClient) -> None:
    element_urls = await _all_paths(client)
    assert len(element_urls) > 20
    for url in element_urls:
        for params in ({}, {"level": "core"}, {"extent": "withoutBlobValue"}):
            response = await client.get(url, params=params)
            assert response.status_code == 200, url
            _verified_element(response.json())
        reference = (await client.get(f"{url}/$reference")).json()
        assert list(verification.verify(jsonization.reference_from_jsonable(reference))) == []
        metadata = await client.get(f"{url}/$metadata")
        if metadata.status_code == 200:
            _verified_element(metadata.json())
        else:
            assert metadata.status_code == 400 and "defines no $metadata" in _error_text(metadata)
    for listing in ("/submodel-elements", "/submodel-elements/$metadata"):
        for item in (await client.get(SM + listing)).json()["result"]:
            _verified_element(item)


async def test_value_reads(client: httpx.AsyncClient) -> None:
    prop = await client.get(f"{IDENTIFICATION}/submodel-elements/ManufacturerName/$value")
    assert prop.json() == {"ManufacturerName": "ACPLT"}
    assert "X-Twinbridge-Quality" not in prop.headers
    rng = await client.get(f"{SM}/submodel-elements/{COLLECTION}.ExampleRange/$value")
    assert rng.json() == {"ExampleRange": {"min": 0, "max": 100}}
    item = await client.get(f"{SM}/submodel-elements/{COLLECTION}.ExampleSubmodelList[0]/$value")
    assert item.json() == "exampleValue"
    blob = await client.get(f"{VIA_SHELL}/submodel-elements/{COLLECTION}.ExampleBlob/$value",
                            params={"extent": "withoutBlobValue"})
    assert blob.json() == {"ExampleBlob": {"contentType": "application/pdf"}}
    listing = (await client.get(f"{SM}/submodel-elements/$value")).json()["result"]
    assert {"ExampleRelationshipElement"} <= {name for item in listing for name in item}
    bad_level = await client.get(f"{SM}/submodel-elements/{COLLECTION}/$value", params={"level": "all"})
    assert bad_level.status_code == 400 and "level" in _error_text(bad_level)
    core = (await client.get(f"{SM}/submodel-elements/{COLLECTION}/$value", params={"level": "core"})).json()
    assert core[COLLECTION]["ExampleSubmodelList"] == [] and core[COLLECTION]["ExampleRange"]["max"] == 100
    operation = await client.get(f"{SM}/submodel-elements/ExampleOperation/$value")
    assert operation.status_code == 400 and "has no value" in _error_text(operation)


async def test_reference_and_path(client: httpx.AsyncClient) -> None:
    reference = (await client.get(f"{SM}/submodel-elements/{COLLECTION}.ExampleRange/$reference")).json()
    assert [key["value"] for key in reference["keys"]] == [SUBMODEL_ID, COLLECTION, "ExampleRange"]
    paths = (await client.get(f"{SM}/submodel-elements/{COLLECTION}/$path")).json()
    assert paths[0] == COLLECTION and f"{COLLECTION}.ExampleSubmodelList[1]" in paths
    leaf = await client.get(f"{SM}/submodel-elements/{COLLECTION}.ExampleRange/$path")
    assert leaf.status_code == 400
    page = (await client.get(f"{SM}/submodel-elements/$path", params={"limit": 2})).json()
    assert len(page["result"]) == 2 and page["paging_metadata"]["cursor"]


async def test_element_crud(client: httpx.AsyncClient, full_twin: Twin) -> None:
    new = {"modelType": "Property", "idShort": "Temperature", "valueType": "xs:double", "value": "21.5"}
    created = await client.post(f"{SM}/submodel-elements/{COLLECTION}", json=new)
    assert created.status_code == 201 and created.json()["idShort"] == "Temperature"
    duplicate = await client.post(f"{SM}/submodel-elements/{COLLECTION}", json=new)
    assert duplicate.status_code == 409
    top = await client.post(f"{SM}/submodel-elements", json={**new, "idShort": "Top"})
    assert top.status_code == 201
    path = f"{SM}/submodel-elements/{COLLECTION}.Temperature"
    assert (await client.put(path, json={**new, "value": "30"})).status_code == 204
    assert full_twin.element(SUBMODEL_ID, f"{COLLECTION}.Temperature").value == 30.0  # type: ignore[attr-defined]
    wrong_kind = await client.patch(path, json={"modelType": "Range", "idShort": "Temperature",
                                                "valueType": "xs:double"})
    assert wrong_kind.status_code == 400 and "Property" in _error_text(wrong_kind)
    assert (await client.patch(path, json={**new, "value": "31"})).status_code == 204
    assert (await client.delete(path)).status_code == 204
    missing = await client.get(path)
    assert missing.status_code == 404 and "Temperature" in _error_text(missing)


async def test_bad_input(client: httpx.AsyncClient, full_twin: Twin) -> None:
    url = f"{SM}/submodel-elements"
    malformed = await client.post(url, content=b"{not json")
    assert malformed.status_code == 400 and "malformed JSON" in _error_text(malformed)
    wrong_type = await client.post(url, json={"modelType": "Submodel", "id": "urn:x"})
    assert wrong_type.status_code == 400 and "SubmodelElement" in _error_text(wrong_type)
    bad_id_short = await client.post(url, json={"modelType": "Property", "idShort": "has space",
                                                "valueType": "xs:int"})
    assert bad_id_short.status_code == 400 and "idShort" in _error_text(bad_id_short)
    bad_path = await client.get(f"{url}/{COLLECTION}.Nope.Deeper")
    assert bad_path.status_code == 404 and "'Nope'" in _error_text(bad_path)
    bad_index = await client.get(f"{url}/{COLLECTION}.ExampleSubmodelList[7]")
    assert bad_index.status_code == 404 and "[7]" in _error_text(bad_index)
    bad_id = await client.get("/submodels/invalid-base64url=====/submodel-elements")
    assert bad_id.status_code == 400 and "submodelIdentifier" in _error_text(bad_id)
    assert len(full_twin.submodel(SUBMODEL_ID).submodel_element) == 6


async def test_patch_value(client: httpx.AsyncClient, full_twin: Twin) -> None:
    url = f"{SM}/submodel-elements/{COLLECTION}.ExampleRange/$value"
    assert (await client.patch(url, json={"ExampleRange": {"min": 5, "max": 50}})).status_code == 204
    assert (await client.get(url)).json() == {"ExampleRange": {"min": 5, "max": 50}}
    bad_type = await client.patch(url, json={"ExampleRange": {"min": "five"}})
    assert bad_type.status_code == 400 and "ExampleRange.min" in _error_text(bad_type)
    unwrapped = await client.patch(url, json={"min": 1})
    assert unwrapped.status_code == 400 and "ExampleRange" in _error_text(unwrapped)
    prop_url = f"{IDENTIFICATION}/submodel-elements/ManufacturerName/$value"
    assert (await client.patch(prop_url, json="Bare Value AG")).status_code == 204
    assert full_twin.element(IDENTIFICATION_ID, "ManufacturerName").value == "Bare Value AG"  # type: ignore[attr-defined]


async def test_patch_metadata_keeps_the_value(client: httpx.AsyncClient, full_twin: Twin) -> None:
    url = f"{SM}/submodel-elements/{COLLECTION}.ExampleRange/$metadata"
    metadata = (await client.get(url)).json()
    assert "min" not in metadata and "max" not in metadata
    metadata["category"] = "VARIABLE"
    metadata["qualifiers"] = [{"type": "Unit", "valueType": "xs:string", "value": "mm"}]
    assert (await client.patch(url, json=metadata)).status_code == 204
    element = full_twin.element(SUBMODEL_ID, f"{COLLECTION}.ExampleRange")
    assert element.category == "VARIABLE" and element.max == 100  # type: ignore[attr-defined]
    assert [qualifier.type for qualifier in element.qualifier] == ["Unit"]
    broken = {**metadata, "category": "CONSTANT"}
    broken.pop("semanticId", None)
    broken["supplementalSemanticIds"] = [{"type": "ExternalReference",
                                          "keys": [{"type": "GlobalReference", "value": "urn:x"}]}]
    refused = await client.patch(url, json=broken)
    assert refused.status_code == 400 and "AASd-118" in _error_text(refused)
    assert element.category == "VARIABLE" and element.semantic_id is not None


async def test_live_headers_and_device_write_back(client: httpx.AsyncClient, full_twin: Twin) -> None:
    handle = full_twin.live(IDENTIFICATION_ID, "InstanceId")
    written: list[Any] = []

    async def device(value: Any) -> None:
        if value == "refuse":
            raise WriteRejected("the device refused 'refuse'")
        written.append(value)

    full_twin.bind(handle, device)
    url = f"{IDENTIFICATION}/submodel-elements/InstanceId/$value"
    uncertain = await client.get(url)
    assert uncertain.headers["X-Twinbridge-Quality"] == "Uncertain"
    full_twin.update(handle, "SN-1", timestamp=1_700_000_000.25, quality=Quality.BAD)
    bad = await client.get(f"{IDENTIFICATION}/submodel-elements/InstanceId")
    assert bad.headers["X-Twinbridge-Quality"] == "Bad"
    assert bad.headers["X-Twinbridge-Timestamp"] == "2023-11-14T22:13:20.250Z"
    assert (await client.patch(url, json={"InstanceId": "SN-2"})).status_code == 204
    assert written == ["SN-2"] and handle.element.value == "SN-2"  # type: ignore[union-attr]
    refused = await client.patch(url, json={"InstanceId": "refuse"})
    assert refused.status_code == 422 and "refused" in _error_text(refused)
    whole = await client.patch(f"{IDENTIFICATION}/$value", json={"InstanceId": "SN-3"})
    assert whole.status_code == 403 and "fed by a device" in _error_text(whole)
    assert handle.element.value == "SN-2"  # type: ignore[union-attr]


async def test_read_only_bound_element_refuses_writes(client: httpx.AsyncClient, full_twin: Twin) -> None:
    handle = full_twin.live(IDENTIFICATION_ID, "InstanceId")
    full_twin.bind(handle)
    response = await client.patch(f"{IDENTIFICATION}/submodel-elements/InstanceId/$value", json="x")
    assert response.status_code == 403 and "no write-back" in _error_text(response)
    assert isinstance(handle.element, model.Property) and handle.element.value == "978-8234-234-342"


async def test_value_reads_follow_structural_edits(client: httpx.AsyncClient, full_twin: Twin) -> None:
    full_twin.live(IDENTIFICATION_ID, "ManufacturerName")
    element = f"{IDENTIFICATION}/submodel-elements/ManufacturerName"
    assert (await client.get(f"{element}/$value")).json() == {"ManufacturerName": "ACPLT"}
    new = {"modelType": "Property", "idShort": "ManufacturerName", "valueType": "xs:string", "value": "New AG"}
    assert (await client.put(element, json=new)).status_code == 204
    assert (await client.get(f"{element}/$value")).json() == {"ManufacturerName": "New AG"}
    assert (await client.delete(element)).status_code == 204
    gone = await client.get(f"{element}/$value")
    assert gone.status_code == 404 and "'ManufacturerName'" in _error_text(gone)
