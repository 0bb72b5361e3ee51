"""GET /serialization: JSON, XML and AASX (with files) by Accept, Turtle when a graph exists, 406 otherwise."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import CONCEPT_ID, FILE_PATH, PDF_BYTES, SHELL_ID, SUBMODEL_ID
from tests.api.test_shells import assert_result
from twinbridge.aas.serialization import read_environment
from twinbridge.server.api.ids import encode_id
from twinbridge.server.api.services import app_services

AASX = "application/asset-administration-shell-package+xml"


async def test_json_environment_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/serialization")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert [shell["id"] for shell in body["assetAdministrationShells"]] == [SHELL_ID]
    assert len(body["submodels"]) == 3
    assert [cd["id"] for cd in body["conceptDescriptions"]] == [CONCEPT_ID]


async def test_selection_and_concept_descriptions_flag(client: httpx.AsyncClient) -> None:
    response = await client.get("/serialization", params={
        "submodelIds": encode_id(SUBMODEL_ID), "includeConceptDescriptions": "false"})
    body = response.json()
    assert [sm["id"] for sm in body["submodels"]] == [SUBMODEL_ID]
    assert "conceptDescriptions" not in body and "assetAdministrationShells" not in body


async def test_xml_by_accept(client: httpx.AsyncClient) -> None:
    response = await client.get("/serialization", headers={"Accept": "application/xml"},
                                params={"aasIds": encode_id(SHELL_ID)})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    env = read_environment(response.content, "xml")
    assert [shell.id for shell in env.shells] == [SHELL_ID]


async def test_aasx_carries_the_referenced_files(client: httpx.AsyncClient) -> None:
    response = await client.get("/serialization", headers={"Accept": f"text/html;q=0.5, {AASX}"})
    assert response.status_code == 200
    assert response.headers["content-type"] == AASX
    assert zipfile.is_zipfile(io.BytesIO(response.content))
    env = read_environment(response.content, "aasx")
    assert env.files[FILE_PATH] == ("application/pdf", PDF_BYTES)
    assert {sm.id for sm in env.submodels} >= {SUBMODEL_ID}


async def test_turtle_needs_a_semantic_graph(client: httpx.AsyncClient, app: FastAPI) -> None:
    assert_result(await client.get("/serialization", headers={"Accept": "text/turtle"}), 406, "text/turtle")

    class Graph:
        def turtle(self) -> bytes:
            return b"<urn:a> <urn:b> <urn:c> .\n"

    app_services(app).semantic_graph = Graph()
    response = await client.get("/serialization", headers={"Accept": "text/turtle"})
    assert response.status_code == 200 and response.content == b"<urn:a> <urn:b> <urn:c> .\n"
    assert response.headers["content-type"].startswith("text/turtle")


@pytest.mark.parametrize(("params", "headers", "status", "words"), [
    ({}, {"Accept": "image/png"}, 406, ("image/png",)),
    ({"aasIds": "invalid-base64url====="}, {}, 400, ("aasIds",)),
    ({"aasIds": encode_id("urn:missing")}, {}, 404, ("urn:missing",)),
    ({"includeConceptDescriptions": "invalid-bool"}, {}, 400, ("includeConceptDescriptions",)),
])
async def test_bad_requests(client: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str],
                            status: int, words: tuple[str, ...]) -> None:
    assert_result(await client.get("/serialization", params=params, headers=headers), status, *words)


async def test_single_shell_serialization(client: httpx.AsyncClient) -> None:
    shell = f"/shells/{encode_id(SHELL_ID)}"
    body = (await client.get(f"{shell}/serialization")).json()
    assert [s["id"] for s in body["assetAdministrationShells"]] == [SHELL_ID]
    assert_result(await client.get(f"{shell}/serialization", params={"aasIds": encode_id("urn:other")}), 400,
                  "aasIds")
    description = (await client.get(f"{shell}/description")).json()
    assert description["profiles"] == [
        "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellServiceSpecification/SSP-001",
        "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellServiceSpecification/SSP-002",
    ]


async def test_description_lists_the_profiles(client: httpx.AsyncClient) -> None:
    profiles = (await client.get("/description")).json()["profiles"]
    assert "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellRepositoryServiceSpecification/SSP-002" \
        in profiles
    assert "https://admin-shell.io/aas/API/3/0/AasxFileServerServiceSpecification/SSP-001" in profiles
    assert len(profiles) == len(set(profiles))
