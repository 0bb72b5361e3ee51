"""Part 2 v3.1 beside v3.0: ``/api/v3.1`` answers, every document checked with aas-core3.1."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aas_core3_1 import jsonization, verification, xmlization
from basyx.aas import model
from fastapi import FastAPI

from tests.api.conftest import CONCEPT_ID, SHELL_ID, SUBMODEL_ID
from twinbridge.aas.operations import OperationRegistry
from twinbridge.aas.twin import Twin
from twinbridge.server.api.ids import encode_id
from twinbridge.server.api.services import app_services

V31 = "/api/v3.1"


BOM_ID = "http://example.org/Submodels/Assets/TestAsset/BillOfMaterial"


@pytest.fixture
def full_twin(full_twin: Twin) -> Twin:
    """basyx's example is a valid 3.0 model; 3.1 made AASd-014 an either-or (aas-core3.1 checks
    it), so its self-managed entity keeps the global asset id only. Served as stored otherwise."""
    def either_or(entity: model.SubmodelElement) -> None:
        assert isinstance(entity, model.Entity)
        entity.specific_asset_id.clear()
    full_twin.modify_element(BOM_ID, "ExampleEntity", either_or)
    return full_twin


@pytest.fixture
async def v31(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://twin{V31}") as http:
        yield http


def verified(data: Any, parse: Any) -> list[str]:
    return [f"{error.path}: {error.cause}" for error in verification.verify(parse(data))]


def _page(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["result"]
    return result


async def test_every_document_on_v31_passes_aas_core31(v31: httpx.AsyncClient) -> None:
    shells = _page(await v31.get("/shells"))
    submodels = _page(await v31.get("/submodels"))
    concepts = _page(await v31.get("/concept-descriptions"))
    assert shells and submodels and concepts
    shell_parse = jsonization.asset_administration_shell_from_jsonable
    errors = [error for shell in shells for error in verified(shell, shell_parse)]
    errors += [error for sm in submodels for error in verified(sm, jsonization.submodel_from_jsonable)]
    errors += [error for cd in concepts for error in verified(cd, jsonization.concept_description_from_jsonable)]
    single = (await v31.get(f"/submodels/{encode_id(SUBMODEL_ID)}")).json()
    errors += verified(single, jsonization.submodel_from_jsonable)
    environment = (await v31.get("/serialization", headers={"Accept": "application/json"})).json()
    errors += verified(environment, jsonization.environment_from_jsonable)
    assert errors == []


async def test_serialization_writes_metamodel_31_xml(v31: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    xml = await v31.get("/serialization", headers={"Accept": "application/xml"})
    assert xml.status_code == 200
    assert b"https://admin-shell.io/aas/3/1" in xml.content
    environment = xmlization.environment_from_str(xml.text)
    assert [f"{e.path}: {e.cause}" for e in verification.verify(environment)] == []
    old = await client.get("/serialization", headers={"Accept": "application/xml"})
    assert b"https://admin-shell.io/aas/3/0" in old.content and b"aas/3/1" not in old.content
    aasx = await v31.get("/serialization", headers={"Accept": "application/asset-administration-shell-package+xml"})
    with zipfile.ZipFile(io.BytesIO(aasx.content)) as package:
        assert b"https://admin-shell.io/aas/3/1" in package.read("aasx/data.xml")


async def test_description_lists_v31_profiles(v31: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    profiles = (await v31.get("/description")).json()["profiles"]
    assert "https://admin-shell.io/aas/API/3/1/SubmodelRepositoryServiceSpecification/SSP-005" in profiles
    assert all(profile.startswith("https://admin-shell.io/aas/API/3/1/") for profile in profiles)
    assert all("/3/0/" in profile for profile in (await client.get("/description")).json()["profiles"])
    shell = (await v31.get(f"/shells/{encode_id(SHELL_ID)}/description")).json()["profiles"]
    submodel = (await v31.get(f"/submodels/{encode_id(SUBMODEL_ID)}/description")).json()["profiles"]
    assert shell[0].endswith("3/1/AssetAdministrationShellServiceSpecification/SSP-001")
    assert submodel[0].endswith("3/1/SubmodelServiceSpecification/SSP-001")


async def test_put_creates_on_v31_only(v31: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    shell = {"modelType": "AssetAdministrationShell", "id": "urn:v31:shell", "idShort": "Motor-1",
             "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:v31:asset"}}
    path = f"/shells/{encode_id('urn:v31:shell')}"
    assert (await client.put(path, json=shell)).status_code == 404  # v3.0 as it was
    created = await v31.put(path, json=shell)
    assert created.status_code == 201, created.text
    assert created.headers["location"].endswith(f"{V31}{path}")
    assert created.json()["idShort"] == "Motor-1"  # the 3.1 idShort rule allows '-'
    assert (await v31.put(path, json=shell)).status_code == 204
    submodel = {"modelType": "Submodel", "id": "urn:v31:sm", "idShort": "Data"}
    assert (await v31.put(f"/submodels/{encode_id('urn:v31:sm')}", json=submodel)).status_code == 201
    concept = {"modelType": "ConceptDescription", "id": CONCEPT_ID}
    assert (await v31.put(f"/concept-descriptions/{encode_id(CONCEPT_ID)}", json=concept)).status_code == 204


async def test_identifiers_up_to_2048_characters(v31: httpx.AsyncClient) -> None:
    longest = "urn:" + "x" * 2044
    body = {"modelType": "Submodel", "id": longest}
    assert (await v31.post("/submodels", json=body)).status_code == 201
    assert (await v31.get(f"/submodels/{encode_id(longest)}")).json()["id"] == longest
    too_long = await v31.post("/submodels", json={"modelType": "Submodel", "id": longest + "y"})
    assert too_long.status_code == 400


async def test_operation_value_only_request_and_result(v31: httpx.AsyncClient, app: FastAPI) -> None:
    registry: OperationRegistry = app_services(app).operations

    async def implementation(inputs: dict[str, Any]) -> dict[str, Any]:
        return {"ExamplePropertyOutput": inputs["ExamplePropertyInput"].upper(),
                "ExamplePropertyInOutput": inputs["ExamplePropertyInOutput"] + "!"}

    registry.register(implementation, submodel_id=SUBMODEL_ID, path="ExampleOperation")
    request = {"inputArguments": {"ExamplePropertyInput": "mill"},
               "inoutputArguments": {"ExamplePropertyInOutput": "x"}, "clientTimeoutDuration": "PT5S"}
    response = await v31.post(f"/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements/ExampleOperation/invoke/$value",
                              json=request)
    result = response.json()
    assert result["outputArguments"] == {"ExamplePropertyOutput": "MILL"}
    assert result["inoutputArguments"] == {"ExamplePropertyInOutput": "x!"}
    assert result["executionState"] == "Completed" and result["success"] is True


async def test_query_and_openapi_on_v31(v31: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    query = {"$select": "id", "$condition": {"$eq": [{"$field": "$sm#id"}, {"$strVal": SUBMODEL_ID}]}}
    assert (await v31.post("/query/submodels", json=query)).json()["result"] == [SUBMODEL_ID]
    document = (await v31.get("/openapi.json")).json()
    assert document["info"]["version"] == "3.1"
    assert f"{V31}/query/submodels" in document["paths"] and f"{V31}/shells" in document["paths"]
    assert not any(path.startswith(V31) for path in (await client.get("/openapi.json")).json()["paths"])
    docs = await v31.get("/docs")
    assert docs.status_code == 200 and f"{V31}/openapi.json" in docs.text


async def test_reads_metamodel_31_documents(v31: httpx.AsyncClient) -> None:
    """A 3.1 document (aas-core3.1's own serialization) is read as it is."""
    document = jsonization.to_jsonable(jsonization.submodel_from_jsonable(
        {"modelType": "Submodel", "id": "urn:v31:read", "idShort": "Read-It", "submodelElements": [
            {"modelType": "Property", "idShort": "Width", "valueType": "xs:double", "value": "45.5"}]}))
    assert (await v31.post("/submodels", json=document)).status_code == 201
    served = (await v31.get(f"/submodels/{encode_id('urn:v31:read')}")).json()
    assert verified(served, jsonization.submodel_from_jsonable) == []
    assert served["idShort"] == "Read-It"
