"""The standalone registry over real HTTP: every operation of the three SSP-001 profiles, each
response validated against the Part 2 schemas, and its store surviving a restart."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.registry.conformance import answer, postgres_schema
from tests.serving import serving_in_thread
from twinbridge.registry.host import mount, open_service, registry_app, standalone_security
from twinbridge.server.api.results import install_error_handlers

TOKEN = "registry-token-0123456789"
SHELL_ID = "https://example.com/ids/aas/motor-1"
SUBMODEL_ID = "https://example.com/ids/sm/nameplate-1"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def submodel_descriptor(identifier: str = SUBMODEL_ID) -> dict[str, object]:
    return {
        "id": identifier, "idShort": "Nameplate",
        "semanticId": {"type": "ExternalReference",
                       "keys": [{"type": "GlobalReference", "value": "https://admin-shell.io/idta/nameplate/3/0"}]},
        "endpoints": [{"interface": "SUBMODEL-3.0", "protocolInformation": {
            "href": f"http://repo.example.com/api/v3.0/submodels/{b64(identifier)}", "endpointProtocol": "HTTP",
            "endpointProtocolVersion": ["1.1"]}}],
    }


def shell_descriptor(identifier: str = SHELL_ID, serial: str = "4711", kind: str = "Instance") -> dict[str, object]:
    return {
        "id": identifier, "idShort": "Motor1", "assetKind": kind, "assetType": "urn:example:type:motor",
        "globalAssetId": f"urn:example:asset:{serial}",
        "description": [{"language": "en", "text": "a motor"}],
        "displayName": [{"language": "en", "text": "Motor 1"}],
        "administration": {"version": "1", "revision": "0"},
        "specificAssetIds": [{"name": "serialNumber", "value": serial}],
        "endpoints": [{"interface": "AAS-3.0", "protocolInformation": {
            "href": f"http://repo.example.com/api/v3.0/shells/{b64(identifier)}", "endpointProtocol": "HTTP",
            "endpointProtocolVersion": ["1.1"]}}],
        "submodelDescriptors": [submodel_descriptor()],
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each registry test on both stores: SQLite (one process) and PostgreSQL (the machine's
    server, a schema of this test's own, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.sqlite3'}"
        return
    yield from postgres_schema()


@pytest.fixture
def registry(store_url: str) -> Iterator[httpx.Client]:
    service = open_service(store_url)
    try:
        with serving_in_thread(registry_app(service, standalone_security(TOKEN))) as base, \
                httpx.Client(base_url=f"{base}/api/v3.0", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            yield client
    finally:
        service.close()


def test_shell_descriptors_round_trip_as_part2_json(registry: httpx.Client) -> None:
    created = registry.post("/shell-descriptors", json=shell_descriptor())
    body = answer(created, 201, "AssetAdministrationShellDescriptor")
    assert created.headers["Location"].endswith(f"/shell-descriptors/{b64(SHELL_ID)}")
    assert body == shell_descriptor()  # exactly what was registered, in Part 2's field names
    assert answer(registry.get(f"/shell-descriptors/{b64(SHELL_ID)}"), 200,
                  "AssetAdministrationShellDescriptor") == shell_descriptor()
    answer(registry.post("/shell-descriptors", json=shell_descriptor()), 409)

    changed = shell_descriptor(serial="4712", kind="Type")
    answer(registry.put(f"/shell-descriptors/{b64(SHELL_ID)}", json=changed), 204)
    assert registry.get(f"/shell-descriptors/{b64(SHELL_ID)}").json()["assetKind"] == "Type"
    answer(registry.put(f"/shell-descriptors/{b64('urn:other')}", json=shell_descriptor("urn:other")), 404)
    answer(registry.put(f"/shell-descriptors/{b64(SHELL_ID)}", json=shell_descriptor("urn:other")), 400)

    answer(registry.delete(f"/shell-descriptors/{b64(SHELL_ID)}"), 204)
    answer(registry.get(f"/shell-descriptors/{b64(SHELL_ID)}"), 404)
    answer(registry.delete(f"/shell-descriptors/{b64(SHELL_ID)}"), 404)


def test_invalid_descriptors_are_refused_with_the_field_named(registry: httpx.Client) -> None:
    no_href = shell_descriptor()
    no_href["endpoints"] = [{"interface": "AAS-3.0", "protocolInformation": {}}]
    refused = answer(registry.post("/shell-descriptors", json=no_href), 400)
    assert "href" in refused["messages"][0]["text"]
    answer(registry.post("/submodel-descriptors", json={"id": "urn:x"}), 400)  # endpoints are required
    answer(registry.post("/shell-descriptors", content=b"{not json"), 400)
    answer(registry.get("/shell-descriptors/%%%"), 400)


def test_writes_need_the_token_and_reads_do_not(registry: httpx.Client) -> None:
    anonymous = httpx.Client(base_url=str(registry.base_url))
    answer(anonymous.post("/shell-descriptors", json=shell_descriptor()), 401)
    answer(anonymous.get("/shell-descriptors"), 200, "GetAssetAdministrationShellDescriptorsResult")


def test_paging_filters_and_the_superpath(registry: httpx.Client) -> None:
    for index in range(7):
        answer(registry.post("/shell-descriptors", json=shell_descriptor(f"urn:shell:{index}", str(index),
                                                                         "Type" if index % 2 else "Instance")), 201)
    seen, cursor = [], None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = answer(registry.get("/shell-descriptors", params=params), 200,
                      "GetAssetAdministrationShellDescriptorsResult")
        seen += [d["id"] for d in page["result"]]
        cursor = page["paging_metadata"].get("cursor")
        if not cursor:
            break
    assert seen == [f"urn:shell:{index}" for index in range(7)]
    types = answer(registry.get("/shell-descriptors", params={"assetKind": "Type"}), 200,
                   "GetAssetAdministrationShellDescriptorsResult")
    assert [d["id"] for d in types["result"]] == ["urn:shell:1", "urn:shell:3", "urn:shell:5"]
    by_type = registry.get("/shell-descriptors", params={"assetType": b64("urn:example:type:motor"), "limit": 2})
    assert len(answer(by_type, 200, "GetAssetAdministrationShellDescriptorsResult")["result"]) == 2
    answer(registry.get("/shell-descriptors", params={"assetKind": "Robot"}), 400)
    answer(registry.get("/shell-descriptors", params={"limit": "0"}), 400)

    superpath = f"/shell-descriptors/{b64('urn:shell:0')}/submodel-descriptors"
    answer(registry.get(superpath), 200, "GetSubmodelDescriptorsResult")
    extra = submodel_descriptor("urn:sm:extra")
    answer(registry.post(superpath, json=extra), 201, "SubmodelDescriptor")
    answer(registry.post(superpath, json=extra), 409)
    assert answer(registry.get(f"{superpath}/{b64('urn:sm:extra')}"), 200, "SubmodelDescriptor") == extra
    extra["idShort"] = "Renamed"
    answer(registry.put(f"{superpath}/{b64('urn:sm:extra')}", json=extra), 204)
    listed = answer(registry.get(superpath, params={"limit": 1}), 200, "GetSubmodelDescriptorsResult")
    assert len(listed["result"]) == 1 and listed["paging_metadata"]["cursor"]
    answer(registry.delete(f"{superpath}/{b64('urn:sm:extra')}"), 204)
    answer(registry.get(f"{superpath}/{b64('urn:sm:extra')}"), 404)
    answer(registry.get(f"/shell-descriptors/{b64('urn:none')}/submodel-descriptors"), 404)


def test_submodel_registry(registry: httpx.Client) -> None:
    answer(registry.post("/submodel-descriptors", json=submodel_descriptor()), 201, "SubmodelDescriptor")
    answer(registry.post("/submodel-descriptors", json=submodel_descriptor()), 409)
    assert answer(registry.get(f"/submodel-descriptors/{b64(SUBMODEL_ID)}"), 200,
                  "SubmodelDescriptor") == submodel_descriptor()
    answer(registry.get("/submodel-descriptors"), 200, "GetSubmodelDescriptorsResult")
    answer(registry.put(f"/submodel-descriptors/{b64(SUBMODEL_ID)}", json=submodel_descriptor()), 204)
    answer(registry.delete(f"/submodel-descriptors/{b64(SUBMODEL_ID)}"), 204)
    answer(registry.get(f"/submodel-descriptors/{b64(SUBMODEL_ID)}"), 404)


def _asset(name: str, value: str) -> str:
    return b64(json.dumps({"name": name, "value": value}))


def test_discovery_finds_shells_by_every_given_asset_id(registry: httpx.Client) -> None:
    answer(registry.post("/shell-descriptors", json=shell_descriptor("urn:shell:a", "100")), 201)
    answer(registry.post("/shell-descriptors", json=shell_descriptor("urn:shell:b", "200")), 201)

    def lookup(*asset_ids: str) -> list[str]:
        page = answer(registry.get("/lookup/shells", params=[("assetIds", a) for a in asset_ids]), 200,
                      "GetAllAssetAdministrationShellIds")
        return list(page["result"])

    assert lookup(_asset("serialNumber", "100")) == ["urn:shell:a"]
    assert lookup(_asset("globalAssetId", "urn:example:asset:200")) == ["urn:shell:b"]
    assert lookup(b64("urn:example:asset:200")) == ["urn:shell:b"]  # a bare globalAssetId, as clients send it
    assert lookup(_asset("serialNumber", "100"), _asset("globalAssetId", "urn:example:asset:200")) == []
    assert lookup() == ["urn:shell:a", "urn:shell:b"]

    # posted links (Discovery's own) add to the descriptor's; a descriptor change moves its links
    links = [{"name": "customerPartId", "value": "C-9"}]
    assert answer(registry.post(f"/lookup/shells/{b64('urn:shell:a')}", json=links), 201, "AssetLinks") == links
    answer(registry.post(f"/lookup/shells/{b64('urn:shell:a')}", json=links), 409)
    assert lookup(_asset("customerPartId", "C-9")) == ["urn:shell:a"]
    held = answer(registry.get(f"/lookup/shells/{b64('urn:shell:a')}"), 200, "AssetLinks")
    assert {(link["name"], link["value"]) for link in held} == {
        ("customerPartId", "C-9"), ("serialNumber", "100"), ("globalAssetId", "urn:example:asset:100")}
    answer(registry.put(f"/shell-descriptors/{b64('urn:shell:a')}", json=shell_descriptor("urn:shell:a", "101")),
           204)
    assert lookup(_asset("serialNumber", "100")) == []
    assert lookup(_asset("serialNumber", "101")) == ["urn:shell:a"]
    answer(registry.delete(f"/lookup/shells/{b64('urn:shell:a')}"), 204)
    assert lookup(_asset("customerPartId", "C-9")) == []
    answer(registry.delete(f"/lookup/shells/{b64('urn:shell:a')}"), 404)
    answer(registry.delete(f"/shell-descriptors/{b64('urn:shell:b')}"), 204)
    answer(registry.get(f"/lookup/shells/{b64('urn:shell:b')}"), 404)
    answer(registry.get("/lookup/shells", params={"assetIds": b64('{"name": ""}')}), 400)


def test_the_store_survives_a_restart(store_url: str) -> None:
    url = store_url
    for round_ in range(2):
        service = open_service(url)
        try:
            with serving_in_thread(registry_app(service, standalone_security(None))) as base:
                client = httpx.Client(base_url=f"{base}/api/v3.0")
                if round_ == 0:
                    answer(client.post("/shell-descriptors", json=shell_descriptor()), 201)
                else:
                    assert client.get(f"/shell-descriptors/{b64(SHELL_ID)}").json() == shell_descriptor()
                    lookup = client.get("/lookup/shells", params={"assetIds": _asset("serialNumber", "4711")})
                    assert lookup.json()["result"] == [SHELL_ID]
        finally:
            service.close()


def test_description_names_the_three_profiles(registry: httpx.Client) -> None:
    profiles = registry.get("/description").json()["profiles"]
    assert {p.rsplit("/", 2)[-2] for p in profiles} == {
        "AssetAdministrationShellRegistryServiceSpecification", "SubmodelRegistryServiceSpecification",
        "DiscoveryServiceSpecification"}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres_schema()


def test_two_registry_processes_share_one_postgresql_store(postgres_url: str) -> None:
    """Two registries on one schema: what one registers the other serves, and concurrent edits of
    one shell's submodel descriptors through both are all kept (the edit locks the row)."""
    from concurrent.futures import ThreadPoolExecutor

    services = [open_service(postgres_url), open_service(postgres_url)]
    try:
        with serving_in_thread(registry_app(services[0], standalone_security(None))) as first, \
                serving_in_thread(registry_app(services[1], standalone_security(None))) as second:
            a, b = httpx.Client(base_url=f"{first}/api/v3.0"), httpx.Client(base_url=f"{second}/api/v3.0")
            answer(a.post("/shell-descriptors", json=shell_descriptor()), 201)
            assert answer(b.get(f"/shell-descriptors/{b64(SHELL_ID)}"), 200,
                          "AssetAdministrationShellDescriptor") == shell_descriptor()
            answer(b.post("/shell-descriptors", json=shell_descriptor()), 409)
            superpath = f"/shell-descriptors/{b64(SHELL_ID)}/submodel-descriptors"

            def post(index: int) -> int:
                client = a if index % 2 else b
                return client.post(superpath, json=submodel_descriptor(f"urn:sm:{index}")).status_code

            with ThreadPoolExecutor(4) as pool:
                assert list(pool.map(post, range(12))) == [201] * 12
            held = {d["id"] for d in answer(a.get(superpath), 200, "GetSubmodelDescriptorsResult")["result"]}
            assert held == {SUBMODEL_ID} | {f"urn:sm:{index}" for index in range(12)}
            lookup = b.get("/lookup/shells", params={"assetIds": _asset("serialNumber", "4711")})
            assert lookup.json()["result"] == [SHELL_ID]
    finally:
        for service in services:
            service.close()


def test_the_registry_command_serves_alone(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from tests.ports import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "twinbridge.server.cli", "registry", "--port", str(port),
                                "--data", str(tmp_path / "registry"), "--token", TOKEN],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v3.0"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/description", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and process.poll() is None, "twinbridge registry did not start"
                time.sleep(0.1)
        with httpx.Client(base_url=base) as client:
            answer(client.post("/shell-descriptors", json=shell_descriptor()), 401)
            answer(client.post("/shell-descriptors", json=shell_descriptor(),
                               headers={"Authorization": f"Bearer {TOKEN}"}), 201)
            assert client.get("/lookup/shells", params={"assetIds": _asset("serialNumber", "4711")}).json()[
                "result"] == [SHELL_ID]
        assert (tmp_path / "registry" / "registry.sqlite3").is_file()
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert f"http://127.0.0.1:{port}/api/v3.0/shell-descriptors" in output and "writes need the bearer token" in output


def test_v31_search_by_asset_link_posts_the_links_and_pages(registry: httpx.Client) -> None:
    """Part 2 v3.1 ``POST /lookup/shellsByAssetLink``: AssetLinks in the body, all must match,
    cursor paging like ``GET /lookup/shells``; the v3.1 ``/description`` names Discovery v3.1."""
    for identifier, serial in (("urn:shell:a", "100"), ("urn:shell:b", "200"), ("urn:shell:c", "100")):
        answer(registry.post("/shell-descriptors", json=shell_descriptor(identifier, serial)), 201)
    v31 = str(registry.base_url).rstrip("/").replace("/api/v3.0", "/api/v3.1")

    def search(links: object, **params: str) -> Any:
        return answer(registry.post(f"{v31}/lookup/shellsByAssetLink", json=links, params=params), 200,
                      "GetAllAssetAdministrationShellIds")

    assert search([{"name": "serialNumber", "value": "100"}])["result"] == ["urn:shell:a", "urn:shell:c"]
    assert search([{"name": "serialNumber", "value": "100"},
                   {"name": "globalAssetId", "value": "urn:example:asset:200"}])["result"] == []
    assert search([{"name": "globalAssetId", "value": "urn:example:asset:200"}])["result"] == ["urn:shell:b"]
    first = search([], limit="2")
    assert first["result"] == ["urn:shell:a", "urn:shell:b"]
    cursor = first["paging_metadata"]["cursor"]
    assert search([], limit="2", cursor=cursor) == {"paging_metadata": {}, "result": ["urn:shell:c"]}
    # a link both posted to Discovery and carried by the descriptor finds its shell once
    answer(registry.post(f"/lookup/shells/{b64('urn:shell:b')}", json=[{"name": "serialNumber", "value": "200"}]),
           201, "AssetLinks")
    assert search([{"name": "serialNumber", "value": "200"}])["result"] == ["urn:shell:b"]
    # a whole SpecificAssetId is an AssetLink too (its other fields are not matched on)
    assert search([{"name": "serialNumber", "value": "200", "externalSubjectId": {
        "type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:x"}]}}])["result"] == [
        "urn:shell:b"]
    for bad in ({"name": "serialNumber", "value": "100"}, [{"name": "serialNumber"}], [{"name": "", "value": "1"}],
                [{"name": "n", "value": "v" * 2049}]):
        answer(registry.post(f"{v31}/lookup/shellsByAssetLink", json=bad), 400, "Result")
    answer(registry.post(f"{v31}/lookup/shellsByAssetLink", json=[], params={"limit": "0"}), 400)
    # the other Discovery routes answer on v3.1 as on v3.0; the registries' descriptors stay on v3.0
    links = answer(registry.get(f"{v31}/lookup/shells/{b64('urn:shell:b')}"), 200, "AssetLinks")
    assert {link["name"] for link in links} == {"serialNumber", "globalAssetId"}
    answer(registry.get(f"{v31}/shell-descriptors"), 404)
    assert registry.get(f"{v31}/description").json() == {"profiles": [
        "https://admin-shell.io/aas/API/3/1/DiscoveryServiceSpecification/SSP-001",
        "https://admin-shell.io/aas/API/3/1/AssetAdministrationShellRegistryServiceSpecification/SSP-004",
        "https://admin-shell.io/aas/API/3/1/SubmodelRegistryServiceSpecification/SSP-004"]}
    assert httpx.post(f"{v31}/lookup/shellsByAssetLink", json=[]).status_code == 200  # a read: open without a token


async def test_the_hot_reads_answer_as_the_fastapi_routes_do(tmp_path: Path) -> None:
    """``HotReads`` answers lookups and descriptor GETs before FastAPI; the routes behind it must
    give the same status and body for each (here called directly, past the middleware)."""
    service = open_service(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    app = registry_app(service, standalone_security(TOKEN))
    routes_only = FastAPI()  # the same routes and error handlers, without the middleware
    install_error_handlers(routes_only)
    mount(routes_only, service, standalone_security(TOKEN), "/api/v3.0")

    auth = {"Authorization": f"Bearer {TOKEN}"}
    base = "http://registry/api/v3.0"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base, headers=auth) as hot, \
                httpx.AsyncClient(transport=httpx.ASGITransport(routes_only), base_url=base,
                                  headers=auth) as plain:
            for number in range(3):
                shell = shell_descriptor(f"urn:shell:{number}", serial="4711" if number < 2 else "4712")
                answer(await hot.post("/shell-descriptors", json=shell), 201)
            answer(await hot.post("/submodel-descriptors", json=submodel_descriptor()), 201)
            asset = b64(json.dumps({"name": "serialNumber", "value": "4711"}))
            global_id = b64("urn:example:asset:4712")
            requests = [
                ("/lookup/shells", [("assetIds", asset)]),
                ("/lookup/shells", [("assetIds", asset), ("limit", "1")]),
                ("/lookup/shells", [("assetIds", asset), ("limit", "1"), ("cursor", b64("urn:shell:0"))]),
                ("/lookup/shells", [("assetIds", asset), ("assetIds", global_id)]),
                ("/lookup/shells", [("assetIds", global_id)]),
                ("/lookup/shells", []),
                ("/lookup/shells", [("assetIds", "%%%")]),
                ("/lookup/shells", [("assetIds", asset), ("limit", "0")]),
                (f"/shell-descriptors/{b64('urn:shell:1')}", []),
                (f"/shell-descriptors/{b64('urn:missing')}", []),
                ("/shell-descriptors/%%%", []),
                (f"/submodel-descriptors/{b64(SUBMODEL_ID)}", []),
                (f"/submodel-descriptors/{b64('urn:missing')}", []),
            ]
            for path, params in requests:
                fast, routed = await hot.get(path, params=params), await plain.get(path, params=params)
                assert (fast.status_code, _untimed(fast.json())) == (routed.status_code, _untimed(routed.json())), path
            assert (await hot.get("/lookup/shells", params={"assetIds": asset})).json()["result"] == [
                "urn:shell:0", "urn:shell:1"]
    finally:
        service.close()


def _untimed(body: Any) -> Any:
    """A Result without its messages' timestamps (two answers a few ms apart)."""
    if isinstance(body, dict) and "messages" in body:
        return {**body, "messages": [{k: v for k, v in m.items() if k != "timestamp"} for m in body["messages"]]}
    return body
