"""Concept Description Repository: /concept-descriptions with its filters."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from tests.api.conftest import CONCEPT_ID
from tests.api.test_shells import assert_result
from twinbridge.aas.twin import Twin
from twinbridge.server.api.ids import encode_id

IEC61360 = "https://admin-shell.io/DataSpecificationTemplates/DataSpecificationIEC61360/3/0"
EXAMPLE_CASE = "http://example.org/DataSpecifications/ConceptDescriptions/TestConceptDescription"


def external(value: str) -> dict[str, Any]:
    return {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": value}]}


def encoded(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def temperature_concept() -> dict[str, Any]:
    return {
        "modelType": "ConceptDescription",
        "id": "urn:test:cd:temperature",
        "idShort": "Temperature",
        "isCaseOf": [external("urn:eclass:0173-1#02-AAA123#001")],
        "embeddedDataSpecifications": [{
            "dataSpecification": external(IEC61360),
            "dataSpecificationContent": {
                "modelType": "DataSpecificationIec61360",
                "preferredName": [{"language": "en", "text": "Temperature"}],
                "unit": "degC",
            },
        }],
    }


async def test_crud_round_trip(client: httpx.AsyncClient, full_twin: Twin) -> None:
    posted = await client.post("/concept-descriptions", json=temperature_concept())
    assert posted.status_code == 201
    assert posted.json()["embeddedDataSpecifications"][0]["dataSpecificationContent"]["unit"] == "degC"
    path = f"/concept-descriptions/{encode_id('urn:test:cd:temperature')}"
    assert (await client.get(path)).json()["idShort"] == "Temperature"

    changed = {**temperature_concept(), "idShort": "Temp"}
    assert (await client.put(path, json=changed)).status_code == 204
    assert full_twin.concept_description("urn:test:cd:temperature").id_short == "Temp"
    assert_result(await client.put(f"/concept-descriptions/{encode_id(CONCEPT_ID)}", json=changed), 400,
                  "urn:test:cd:temperature", CONCEPT_ID)

    assert (await client.delete(path)).status_code == 204
    assert_result(await client.get(path), 404, "urn:test:cd:temperature")


async def test_filters(client: httpx.AsyncClient) -> None:
    await client.post("/concept-descriptions", json=temperature_concept())

    async def ids(**params: str) -> list[str]:
        response = await client.get("/concept-descriptions", params=params)
        assert response.status_code == 200, response.text
        return [cd["id"] for cd in response.json()["result"]]

    assert await ids() == [CONCEPT_ID, "urn:test:cd:temperature"]
    assert await ids(idShort="Temperature") == ["urn:test:cd:temperature"]
    assert await ids(isCaseOf=encoded(external(EXAMPLE_CASE))) == [CONCEPT_ID]
    assert await ids(dataSpecificationRef=encoded(external(IEC61360))) == ["urn:test:cd:temperature"]
    assert await ids(dataSpecificationRef=encoded(external("urn:other"))) == []
    assert await ids(limit="1") == [CONCEPT_ID]


async def test_bad_inputs(client: httpx.AsyncClient, full_twin: Twin) -> None:
    assert_result(await client.get("/concept-descriptions", params={"isCaseOf": "%%%"}), 400, "isCaseOf")
    assert_result(await client.get("/concept-descriptions", params={"isCaseOf": encoded({"keys": []})}), 400,
                  "isCaseOf", "Reference")
    assert_result(await client.get("/concept-descriptions", params={"limit": "-5"}), 400, "limit")
    assert_result(await client.post("/concept-descriptions", json={**temperature_concept(), "id": CONCEPT_ID}),
                  409, CONCEPT_ID)
    wrong_type = {**temperature_concept(), "modelType": "Property"}
    assert_result(await client.post("/concept-descriptions", json=wrong_type), 400)
    bad_id_short = {**temperature_concept(), "idShort": "has space"}
    assert_result(await client.post("/concept-descriptions", json=bad_id_short), 400, "has space")
    assert list(full_twin.concept_descriptions) == [CONCEPT_ID]
