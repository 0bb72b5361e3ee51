"""``POST /query/shells|submodels|concept-descriptions`` over the REST app (v3.0 prefix)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from basyx.aas import model
from fastapi import FastAPI

from tests.query.spec_data import SHELL_ID, example_shell, handover_documentation, technical_data
from tests.query.test_spec_examples import HANDOVER_QUERY, TECHNICAL_QUERY, field
from tests.serving import serving_in_thread
from twinbridge.aas.twin import Twin
from twinbridge.server.api import query as query_api
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity

PREFIX = "/api/v3.0"
STARTERS = ["urn:sm:narrow-starter", "urn:sm:wide-starter", "urn:sm:narrow-other"]


def _reference(identifier: str) -> model.ModelReference[model.Submodel]:
    return model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, identifier),), model.Submodel)


@pytest.fixture
def twin() -> Twin:
    twin = Twin()
    shell = example_shell()
    shell.submodel.add(_reference("urn:sm:narrow-starter"))
    twin.create(shell)
    twin.create(model.AssetAdministrationShell(model.AssetInformation(global_asset_id="urn:asset:2"), "urn:aas:2",
                                               id_short="Second", submodel={_reference("urn:sm:wide-starter")}))
    for identifier, class_id, width in [(STARTERS[0], "27-37-09-05", 45.0), (STARTERS[1], "27-37-09-05", 120.0),
                                        (STARTERS[2], "27-37-09-01", 45.0)]:
        twin.create(technical_data(identifier, class_id, width))
    twin.create(handover_documentation("urn:sm:docs", [("03-01", ["en", "nl"])]))
    twin.create(model.ConceptDescription("urn:cd:width", id_short="Width"))
    return twin


@pytest.fixture
def app(twin: Twin) -> FastAPI:
    return create_app(twin, prefix=PREFIX, security=ApiSecurity(mode="none"))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://twin{PREFIX}") as http:
        yield http


@pytest.fixture
def live(app: FastAPI) -> Iterator[str]:
    with serving_in_thread(app) as base:
        yield base + PREFIX


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] if isinstance(item, dict) else item for item in body["result"]]


async def test_submodels_query_answers_the_spec_example_with_whole_submodels(client: httpx.AsyncClient) -> None:
    response = await client.post("/query/submodels", json=TECHNICAL_QUERY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["paging_metadata"] == {"resultType": "Submodel"}
    assert ids(body) == ["urn:sm:narrow-starter"]
    assert body["result"][0]["modelType"] == "Submodel"
    assert ids((await client.post("/query/submodels", json=HANDOVER_QUERY)).json()) == ["urn:sm:docs"]


async def test_paging_with_cursor_keeps_the_repository_order(client: httpx.AsyncClient) -> None:
    query = {"$condition": {"$eq": [field("$sm#idShort"), {"$strVal": "TechnicalData"}]}}
    first = (await client.post("/query/submodels?limit=2", json=query)).json()
    assert ids(first) == STARTERS[:2]
    cursor = first["paging_metadata"]["cursor"]
    second = (await client.post("/query/submodels", params={"limit": 2, "cursor": cursor}, json=query)).json()
    assert ids(second) == STARTERS[2:]
    assert "cursor" not in second["paging_metadata"]


async def test_select_id_returns_identifiers(client: httpx.AsyncClient) -> None:
    query = {"$select": "id", "$condition": {"$lt": [field("$sme.TechnicalProperties.Width#value"), {"$numVal": 100}]}}
    body = (await client.post("/query/submodels", json=query)).json()
    assert body == {"paging_metadata": {"resultType": "Identifier"}, "result": [STARTERS[0], STARTERS[2]]}
    paged = (await client.post("/query/submodels?limit=1", json=query)).json()
    assert paged["result"] == [STARTERS[0]] and "cursor" in paged["paging_metadata"]


async def test_shell_query_reaches_the_shells_submodels(client: httpx.AsyncClient) -> None:
    """``$sm``/``$sme`` in a shell query: a shell whose referenced submodel holds."""
    query = {"$condition": {"$match": [
        {"$eq": [field("$sm#idShort"), {"$strVal": "TechnicalData"}]},
        {"$gt": [field("$sme.TechnicalProperties.Width#value"), {"$numVal": 100}]},
    ]}}
    body = (await client.post("/query/shells", json=query)).json()
    assert body["paging_metadata"]["resultType"] == "AssetAdministrationShell"
    assert ids(body) == ["urn:aas:2"]
    back = {"$condition": {"$eq": [field("$aas#idShort"), {"$strVal": "Second"}]}}
    assert ids((await client.post("/query/submodels", json=back)).json()) == [STARTERS[1]]


async def test_concept_description_query(client: httpx.AsyncClient) -> None:
    query = {"$condition": {"$starts-with": [field("$cd#id"), {"$strVal": "urn:cd:"}]}}
    assert ids((await client.post("/query/concept-descriptions", json=query)).json()) == ["urn:cd:width"]


async def test_text_form_is_accepted_as_text_plain(client: httpx.AsyncClient) -> None:
    text = '$match($sm#idShort $eq "TechnicalData", $sme#semanticId $eq "0173-1#02-BAF016#006", $sme#value $lt 100)'
    response = await client.post("/query/submodels", content=text, headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    assert ids(response.json()) == [STARTERS[0], STARTERS[2]]
    selected = await client.post("/query/shells", content=f'$select id $where $aas#id $eq "{SHELL_ID}"',
                                 headers={"Content-Type": "text/plain"})
    assert selected.json()["result"] == [SHELL_ID]


def _nested_not(depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"$boolean": True}
    for _ in range(depth):
        condition = {"$not": condition}
    return {"$condition": condition}


@pytest.mark.parametrize(("query", "position"), [
    ({"$condition": {"$foo": []}}, "$condition.$foo"),
    ({"$condition": {"$eq": [{"$field": "$sm#idShrt"}, {"$strVal": "x"}]}}, "$condition.$eq[0].$field, character 5"),
    ({"$condition": {"$eq": [{"$field": "$shell#id"}, {"$strVal": "x"}]}}, "$condition.$eq[0].$field, character 1"),
    ({"$condition": {"$eq": [{"$numVal": 1}, {"$strVal": "x"}]}}, "$condition.$eq: type mismatch"),
    ({"$condition": {"$regex": [{"$field": "$sm#id"}, {"$strVal": "(a)\\1"}]}}, "$condition.$regex[1].$strVal"),
    ({"$condition": {"$regex": [{"$field": "$sm#id"}, {"$strVal": "(x{100}){100}"}]}}, "$condition.$regex[1]"),
    ({"$condition": {"$contains": [{"$field": "$sm#id"}, {"$numVal": 3}]}}, "$condition.$contains[1]"),
    ({"$condition": {"$eq": [{"$field": "$cd#id"}, {"$strVal": "x"}]}}, "$condition.$eq[0].$field"),
    ({"$condition": {"$eq": [{"$field": "$aasdesc#id"}, {"$strVal": "x"}]}}, "$condition.$eq[0].$field"),
    ({"$select": "idShort", "$condition": {"$boolean": True}}, "$select"),
    (_nested_not(40), "nests deeper than 32"),
])
async def test_bad_queries_are_400_naming_the_position(client: httpx.AsyncClient, query: dict[str, Any],
                                                       position: str) -> None:
    response = await client.post("/query/submodels", json=query)
    assert response.status_code == 400, response.text
    message = response.json()["messages"][0]
    assert message["code"] == "BadRequest"
    assert position in message["text"]


async def test_text_form_errors_name_the_character(client: httpx.AsyncClient) -> None:
    response = await client.post("/query/submodels", content='$sm#idShort $eq 5 $and',
                                 headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert "character 19" in response.json()["messages"][0]["text"]
    mismatch = await client.post("/query/submodels", content='$and($sm#id $eq "x", 13 $eq "13")',
                                 headers={"Content-Type": "text/plain"})
    assert "character 22" in mismatch.json()["messages"][0]["text"]
    assert "type mismatch" in mismatch.json()["messages"][0]["text"]


async def test_a_query_over_its_time_limit_is_stopped(client: httpx.AsyncClient, twin: Twin,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(2000):
        twin.create(technical_data(f"urn:sm:bulk:{n}", "27-37-09-05", float(n)))
    monkeypatch.setattr(query_api, "QUERY_TIME_LIMIT_S", 0.005)
    query = {"$condition": {"$regex": [field("$sme#value"), {"$strVal": "^4[0-9]*$"}]}}
    response = await client.post("/query/submodels", json=query)
    assert response.status_code == 503, response.text
    assert "ran longer than its limit of 0.005 s" in response.json()["messages"][0]["text"]


async def test_value_index_follows_changes(client: httpx.AsyncClient, twin: Twin) -> None:
    query = {"$select": "id", "$condition": {"$lt": [field("$sme.TechnicalProperties.Width#value"), {"$numVal": 50}]}}
    for _ in range(3):  # the second use builds the index, the third reads it
        assert (await client.post("/query/submodels", json=query)).json()["result"] == [STARTERS[0], STARTERS[2]]
    response = await client.patch(
        "/submodels/dXJuOnNtOndpZGUtc3RhcnRlcg/submodel-elements/TechnicalProperties.Width/$value", json=30.0)
    assert response.status_code == 204, response.text
    twin.delete_element(STARTERS[0], "TechnicalProperties.Width")
    twin.create(technical_data("urn:sm:new", "27-37-09-05", 10.0))
    assert (await client.post("/query/submodels", json=query)).json()["result"] == [
        STARTERS[1], STARTERS[2], "urn:sm:new"]


def test_over_real_http_streams_identifiers(live: str) -> None:
    query = {"$select": "id", "$condition": {"$boolean": True}}
    with httpx.Client() as http:
        response = http.post(f"{live}/query/submodels", json=query)
    assert response.status_code == 200
    assert response.json()["result"] == [*STARTERS, "urn:sm:docs"]
