"""The hierarchy and SPARQL routes over real HTTP (uvicorn + httpx), next to the Part 2 API."""

from __future__ import annotations

import httpx
from rdflib import Graph

from tests.submodels.conftest import encode, settle, shell_id
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import PlantModel


async def test_the_tree_with_levels_kinds_and_live_status(client: httpx.AsyncClient, twin: Twin,
                                                          plant: PlantModel) -> None:
    response = await client.get("/hierarchy")
    assert response.status_code == 200
    (root,) = response.json()["roots"]
    assert (root["id"], root["idShort"], root["level"], root["assetKind"]) == (
        shell_id("DemoPlant"), "DemoPlant", "plant", "Instance")
    line1 = root["children"][0]
    assert [c["idShort"] for c in line1["children"]] == ["Cell1", "Cell2"]
    filler = line1["children"][0]["children"][0]
    assert filler["globalAssetId"].endswith("asset/DemoPlant/Line1/Cell1/Filler1")
    twin.bind(twin.live(*plant.signal_target(shell_id("DemoPlant/Line1/Cell1/Filler1"), "Power")))
    response = await client.get("/hierarchy")
    filler = response.json()["roots"][0]["children"][0]["children"][0]["children"][0]
    assert filler["status"] == "Uncertain"
    twin.update(twin.live(*plant.signal_target(shell_id("DemoPlant/Line1/Cell1/Filler1"), "Power")), 7.5)
    await settle(twin)
    filler = (await client.get("/hierarchy")).json()["roots"][0]["children"][0]["children"][0]["children"][0]
    assert filler["status"] == "Good" and filler["lastUpdate"].endswith("Z")


async def test_navigation_down_and_up(client: httpx.AsyncClient) -> None:
    line2 = encode(shell_id("DemoPlant/Line2"))
    children = (await client.get(f"/hierarchy/{line2}/children")).json()["result"]
    assert [c["idShort"] for c in children] == ["Cell3"]
    descendants = (await client.get(f"/hierarchy/{line2}/descendants")).json()["result"]
    assert [d["idShort"] for d in descendants][:3] == ["Cell3", "Packer1", "Packer1Motor"]
    assert descendants[1]["parent"] == shell_id("DemoPlant/Line2/Cell3")
    motor = encode(shell_id("DemoPlant/Line2/Cell3/Packer1/Packer1Motor"))
    ancestors = (await client.get(f"/hierarchy/{motor}/ancestors")).json()["result"]
    assert [a["idShort"] for a in ancestors] == ["Packer1", "Cell3", "Line2", "DemoPlant"]
    assert [a["level"] for a in ancestors] == ["machine", "cell", "line", "plant"]
    missing = await client.get(f"/hierarchy/{encode('urn:nowhere')}/children")
    assert missing.status_code == 404 and "urn:nowhere" in missing.json()["messages"][0]["text"]
    assert (await client.get("/hierarchy/%%%/children")).status_code == 400


async def test_sparql_over_http_and_a_rollup_seen_there(client: httpx.AsyncClient, twin: Twin,
                                                        plant: PlantModel) -> None:
    query = """SELECT ?name WHERE { ?m tb:isPartOf ?c . ?c Referable:idShort "Cell2" . ?m Referable:idShort ?name }
               ORDER BY ?name"""
    for request in (
        client.post("/query/sparql", content=query, headers={"Content-Type": "application/sparql-query"}),
        client.post("/query/sparql", data={"query": query}),
        client.post("/query/sparql", json={"query": query}),
        client.get("/query/sparql", params={"query": query}),
    ):
        response = await request
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/sparql-results+json")
        names = [row["name"]["value"] for row in response.json()["results"]["bindings"]]
        assert names == ["Inspector1", "Labeller1"]
    twin.update(twin.live(*plant.signal_target(shell_id("DemoPlant/Line1/Cell2/Labeller1"), "Power")), 4.0)
    twin.update(twin.live(*plant.signal_target(shell_id("DemoPlant/Line1/Cell2/Inspector1"), "Power")), 1.5)
    await settle(twin)
    total = """SELECT ?v WHERE { ?s Referable:idShort "Line1" ; tb:hasSubmodel ?sm .
       ?sm Referable:idShort "OperationalData" ; (Submodel:submodelElements|SubmodelElementCollection:value)+ ?p .
       ?p Referable:idShort "TotalPower" ; Property:value ?v }"""
    rows = (await client.post("/query/sparql", json={"query": total})).json()["results"]["bindings"]
    assert {row["v"]["value"] for row in rows} == {"5.5"}


async def test_sparql_errors_are_results(client: httpx.AsyncClient) -> None:
    cases = [
        ("SELECT ?s WHERE { ?s ", 400, "malformed SPARQL query"),
        ("INSERT DATA { <urn:a> <urn:b> <urn:c> }", 403, "read-only"),
        ("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", 422, "time limit"),
        ("", 400, "empty"),
    ]
    for query, status, text in cases:
        response = await client.post("/query/sparql", content=query,
                                     headers={"Content-Type": "application/sparql-query"})
        assert response.status_code == status, response.text
        message = response.json()["messages"][0]
        assert message["messageType"] == "Error" and text in message["text"]
    response = await client.post("/query/sparql", content=b"x", headers={"Content-Type": "image/png"})
    assert response.status_code == 415


async def test_turtle_serialization(client: httpx.AsyncClient, twin: Twin) -> None:
    response = await client.get("/serialization", headers={"Accept": "text/turtle"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/turtle")
    parsed = Graph().parse(data=response.content, format="turtle")
    assert len(parsed) > 1000
