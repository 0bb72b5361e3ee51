"""Repositories keep registries in step, over real HTTP: the registry mounted in the same
process, and a standalone registry fed by a repository instance (down at first, then up)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from basyx.aas import model

from tests.ports import free_port
from tests.postgres import fresh_store_url, require_postgres
from tests.registry.conformance import check
from tests.serving import serving
from twinbridge.aas.documents import to_jsonable
from twinbridge.registry.descriptors import AssetAdministrationShellDescriptor, render
from twinbridge.registry.host import open_service, registry_app, standalone_security
from twinbridge.registry.store import DISCOVERY_LINKS, ShellRow
from twinbridge.server.application import Application, Options
from twinbridge.server.config import PlantFile

TOKEN = "feeder-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SHELL_ID = "urn:twinbridge:test:aas:press-1"
SUBMODEL_ID = "urn:twinbridge:test:sm:press-1:nameplate"
DISCOVERY_31 = "https://admin-shell.io/aas/API/3/1/DiscoveryServiceSpecification/SSP-001"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def submodel_json(id_short: str = "Nameplate") -> Any:
    semantic = model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, "urn:example:nameplate"),))
    return to_jsonable(model.Submodel(SUBMODEL_ID, id_short=id_short, semantic_id=semantic,
                                      submodel_element=[model.Property("Serial", model.datatypes.String, "S-1")]))


def shell_json(kind: model.AssetKind = model.AssetKind.INSTANCE, serial: str = "S-1",
               with_submodel: bool = True) -> Any:
    asset = model.AssetInformation(kind, global_asset_id="urn:example:asset:press-1",
                                   specific_asset_id=[model.SpecificAssetId("serialNumber", serial)])
    refs = {model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, SUBMODEL_ID),), model.Submodel)} \
        if with_submodel else set()
    return to_jsonable(model.AssetAdministrationShell(asset, SHELL_ID, id_short="Press1", submodel=refs))


def application(tmp_path: Path, port: int, registry: dict[str, object]) -> Application:
    plant = PlantFile.model_validate({"server": {"registry": registry}})
    return Application(plant, Options(host="127.0.0.1", port=port, data=tmp_path / f"data-{port}", token=TOKEN,
                                      opcua=False))


async def eventually(probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


async def descriptor(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path)
    return response.json() if response.status_code == 200 else None


async def lookup(client: httpx.AsyncClient, name: str, value: str) -> list[str]:
    asset = b64(json.dumps({"name": name, "value": value}))
    return list((await client.get("/lookup/shells", params={"assetIds": asset})).json()["result"])


async def follow_the_repository(repository: httpx.AsyncClient, registry: httpx.AsyncClient, base: str) -> None:
    """Create, update and delete over the repository's REST API; the registry follows each step."""
    shell_path, submodel_path = f"/shell-descriptors/{b64(SHELL_ID)}", f"/submodel-descriptors/{b64(SUBMODEL_ID)}"
    assert (await repository.post("/submodels", json=submodel_json())).status_code == 201
    assert (await repository.post("/shells", json=shell_json())).status_code == 201

    async def registered() -> bool:
        found = await descriptor(registry, shell_path)
        return found is not None and bool(found.get("submodelDescriptors"))

    await eventually(registered, "the new shell is registered with its submodel")
    shell = await descriptor(registry, shell_path)
    check(shell, "AssetAdministrationShellDescriptor")
    assert shell["endpoints"][0]["protocolInformation"]["href"] == f"{base}/shells/{b64(SHELL_ID)}"
    assert shell["endpoints"][0]["interface"] == "AAS-3.0"
    assert (shell["assetKind"], shell["globalAssetId"], shell["idShort"]) == (
        "Instance", "urn:example:asset:press-1", "Press1")
    assert shell["specificAssetIds"][0]["name"] == "serialNumber"
    embedded = shell["submodelDescriptors"][0]
    assert embedded["endpoints"][0]["protocolInformation"]["href"] == f"{base}/submodels/{b64(SUBMODEL_ID)}"
    assert embedded["semanticId"]["keys"][0]["value"] == "urn:example:nameplate"
    check(await descriptor(registry, submodel_path), "SubmodelDescriptor")
    assert await lookup(registry, "serialNumber", "S-1") == [SHELL_ID]

    # PUT of the shell: assetKind and asset ids follow (the drift users of other registries report)
    put = await repository.put(f"/shells/{b64(SHELL_ID)}", json=shell_json(model.AssetKind.TYPE, "S-2"))
    assert put.status_code == 204

    async def kind_followed() -> bool:
        return ((await descriptor(registry, shell_path)) or {}).get("assetKind") == "Type"

    await eventually(kind_followed, "assetKind follows the PUT")
    assert await lookup(registry, "serialNumber", "S-2") == [SHELL_ID]
    assert await lookup(registry, "serialNumber", "S-1") == []

    # PUT of the submodel: its descriptor and the one embedded in the shell follow
    assert (await repository.put(f"/submodels/{b64(SUBMODEL_ID)}", json=submodel_json("Typeplate"))).status_code \
        == 204

    async def renamed() -> bool:
        shell = await descriptor(registry, shell_path) or {}
        embedded = (shell.get("submodelDescriptors") or [{}])[0]
        alone = await descriptor(registry, submodel_path) or {}
        return embedded.get("idShort") == alone.get("idShort") == "Typeplate"

    await eventually(renamed, "the submodel's idShort follows, alone and embedded")

    # DELETE: the submodel's descriptors go, then the shell's and its asset links
    assert (await repository.delete(f"/submodels/{b64(SUBMODEL_ID)}")).status_code == 204

    async def submodel_gone() -> bool:
        shell = await descriptor(registry, shell_path) or {}
        return await descriptor(registry, submodel_path) is None and "submodelDescriptors" not in shell

    await eventually(submodel_gone, "the deleted submodel is unregistered")
    assert (await repository.delete(f"/shells/{b64(SHELL_ID)}")).status_code == 204

    async def shell_gone() -> bool:
        return await descriptor(registry, shell_path) is None

    await eventually(shell_gone, "the deleted shell is unregistered")
    assert await lookup(registry, "serialNumber", "S-2") == []


async def test_the_mounted_registry_follows_every_create_update_delete(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v3.0"
    async with serving(application(tmp_path, port, {"serve": True})), \
            httpx.AsyncClient(base_url=base, headers=AUTH) as client:
        await follow_the_repository(client, client, base)
        profiles = (await client.get("/description")).json()["profiles"]
        assert any(p.endswith("DiscoveryServiceSpecification/SSP-001") for p in profiles)
        assert any(p.endswith("SubmodelRepositoryServiceSpecification/SSP-001") for p in profiles)
        v31 = base.replace("/api/v3.0", "/api/v3.1")
        assert DISCOVERY_31 in (await client.get(f"{v31}/description")).json()["profiles"]
        found = await client.post(f"{v31}/lookup/shellsByAssetLink", json=[
            {"name": "globalAssetId", "value": "urn:example:asset:press-1"}])
        assert found.status_code == 200 and found.json()["result"] == []  # follow_the_repository deleted it
        # the registry's own write routes are guarded like the repository's
        anonymous = await httpx.AsyncClient(base_url=base).post("/shell-descriptors", json={"id": "urn:x"})
        assert anonymous.status_code == 401


@contextlib.contextmanager
def standalone_registry(tmp_path: Path, port: int) -> Iterator[str]:
    """``twinbridge registry`` as its command runs it, on a port chosen in advance."""
    service = open_service(f"sqlite:///{tmp_path / 'central-registry.sqlite3'}")
    server = uvicorn.Server(uvicorn.Config(registry_app(service, standalone_security(TOKEN)), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the registry did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/api/v3.0"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        service.close()


async def posted_links(tmp_path: Path, expected: set[tuple[str, str]]) -> bool:
    """Whether the links posted to the standalone registry's Discovery (not those its descriptor
    carries: ``asset_link.origin`` 1) for SHELL_ID are ``expected``."""
    with contextlib.closing(sqlite3.connect(tmp_path / "central-registry.sqlite3")) as db:
        rows = db.execute("SELECT name, value FROM asset_link WHERE aas_id = ? AND origin = ?",
                          (SHELL_ID, DISCOVERY_LINKS)).fetchall()
    return {(name, value) for name, value in rows} == expected


async def test_a_standalone_registry_is_fed_over_http_and_catches_up_after_an_outage(tmp_path: Path) -> None:
    registry_port, repository_port = free_port(), free_port()
    registry_url = f"http://127.0.0.1:{registry_port}/api/v3.0"
    base = f"http://127.0.0.1:{repository_port}/api/v3.0"
    # a descriptor left behind by this repository's earlier life (its shell is gone since)
    stale = AssetAdministrationShellDescriptor.model_validate({"id": "urn:stale", "endpoints": [
        {"interface": "AAS-3.0", "protocolInformation": {"href": f"{base}/shells/{b64('urn:stale')}"}}]})
    foreign = AssetAdministrationShellDescriptor.model_validate({"id": "urn:foreign", "endpoints": [
        {"interface": "AAS-3.0", "protocolInformation": {"href": "http://elsewhere/api/v3.0/shells/eA"}}]})
    seed = open_service(f"sqlite:///{tmp_path / 'central-registry.sqlite3'}")
    seed.store.save_shells(ShellRow(d.id, None, None, render(d), []) for d in (stale, foreign))
    seed.close()

    application_ = application(tmp_path, repository_port, {"url": registry_url, "token": TOKEN})
    async with serving(application_), httpx.AsyncClient(base_url=base, headers=AUTH) as repository:
        assert (await repository.post("/submodels", json=submodel_json())).status_code == 201
        assert (await repository.post("/shells", json=shell_json())).status_code == 201
        assert application_.registry is not None
        v31_profiles = (await repository.get(base.replace("/api/v3.0", "/api/v3.1/description"))).json()["profiles"]
        assert DISCOVERY_31 not in v31_profiles  # fed elsewhere, not served here
        assert (await repository.post(base.replace("/api/v3.0", "/api/v3.1/lookup/shellsByAssetLink"),
                                      json=[])).status_code == 404
        feeder = application_.registry.feeder
        assert feeder is not None

        async def retried() -> bool:
            return feeder.failures >= 2

        await eventually(retried, "the feeder retries the absent registry")  # registry down: nothing lost
        with standalone_registry(tmp_path, registry_port) as url:
            async with httpx.AsyncClient(base_url=url) as registry:
                async def caught_up() -> bool:
                    shell = await descriptor(registry, f"/shell-descriptors/{b64(SHELL_ID)}")
                    return shell is not None and await descriptor(
                        registry, f"/shell-descriptors/{b64('urn:stale')}") is None

                await eventually(caught_up, "the registry catches up (backoff up to a few seconds)", 30.0)
                assert await descriptor(registry, f"/shell-descriptors/{b64('urn:foreign')}") is not None
                # the Discovery links went in too, posted apart from the descriptor (as a registry of
                # another make needs them), and follow the shell's asset ids
                await eventually(lambda: posted_links(tmp_path, {("globalAssetId", "urn:example:asset:press-1"),
                                                                 ("serialNumber", "S-1")}), "the links are posted")
                assert (await repository.put(f"/shells/{b64(SHELL_ID)}", json=shell_json(serial="S-9"))
                        ).status_code == 204
                await eventually(lambda: posted_links(tmp_path, {("globalAssetId", "urn:example:asset:press-1"),
                                                                 ("serialNumber", "S-9")}), "the links follow")
                await repository.delete(f"/shells/{b64(SHELL_ID)}")
                await repository.delete(f"/submodels/{b64(SUBMODEL_ID)}")

                async def emptied() -> bool:
                    return await descriptor(registry, f"/submodel-descriptors/{b64(SUBMODEL_ID)}") is None

                await eventually(emptied, "the deletions reach the registry")
                await eventually(lambda: posted_links(tmp_path, set()), "the posted links go with the shell")
                await follow_the_repository(repository, registry, base)


async def test_what_the_repository_holds_at_start_is_registered(tmp_path: Path) -> None:
    shell = model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.TYPE, global_asset_id="urn:example:asset:imported",
                               asset_type="urn:example:type:press"),
        "urn:twinbridge:test:aas:imported", id_short="Imported",
        description=model.MultiLanguageTextType({"en": "imported at start"}),
        administration=model.AdministrativeInformation(version="2", revision="1"))
    environment = tmp_path / "environment.json"
    environment.write_text(json.dumps({"assetAdministrationShells": [to_jsonable(shell)]}))
    port = free_port()
    application_ = application(tmp_path, port, {"serve": True})
    application_.options.imports = [environment]
    async with serving(application_), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v3.0") as client:
        async def registered() -> bool:
            return await descriptor(client, f"/shell-descriptors/{b64(shell.id)}") is not None

        await eventually(registered, "the imported shell is registered")
        found = await descriptor(client, f"/shell-descriptors/{b64(shell.id)}")
        check(found, "AssetAdministrationShellDescriptor")
        assert (found["assetKind"], found["assetType"], found["administration"], found["description"]) == (
            "Type", "urn:example:type:press", {"version": "2", "revision": "1"},
            [{"language": "en", "text": "imported at start"}])
        kinds = (await client.get("/shell-descriptors", params={"assetKind": "Type"})).json()["result"]
        assert [d["id"] for d in kinds] == [shell.id]


async def test_descriptors_advertise_the_opc_ua_endpoint_when_it_runs(tmp_path: Path) -> None:
    """With OPC UA on, each descriptor has an ``opc.tcp://`` endpoint beside HTTP, valid against
    the Part 2 schemas, whose node (``subprotocolBody``) a real OPC UA client finds."""
    from asyncua import Client, ua

    port, opcua_port = free_port(), free_port()
    plant = PlantFile.model_validate({"server": {"registry": {"serve": True}}})
    application_ = Application(plant, Options(host="127.0.0.1", port=port, data=tmp_path / "data", token=TOKEN,
                                              opcua_port=opcua_port))
    base = f"http://127.0.0.1:{port}/api/v3.0"
    async with serving(application_), httpx.AsyncClient(base_url=base, headers=AUTH) as client:
        assert (await client.post("/submodels", json=submodel_json())).status_code == 201
        assert (await client.post("/shells", json=shell_json())).status_code == 201

        async def registered() -> bool:
            found = await descriptor(client, f"/shell-descriptors/{b64(SHELL_ID)}")
            return found is not None and bool(found.get("submodelDescriptors"))

        await eventually(registered, "the shell is registered with its submodel")
        shell = await descriptor(client, f"/shell-descriptors/{b64(SHELL_ID)}")
        check(shell, "AssetAdministrationShellDescriptor")
        http, opcua = shell["endpoints"]
        assert http["protocolInformation"]["endpointProtocol"] == "HTTP"
        assert opcua["interface"] == "AAS-3.0"
        assert opcua["protocolInformation"]["href"].startswith(f"opc.tcp://127.0.0.1:{opcua_port}/")
        assert opcua["protocolInformation"]["endpointProtocol"] == "OPC UA"
        submodel = shell["submodelDescriptors"][0]["endpoints"][1]
        assert (submodel["interface"], submodel["protocolInformation"]["endpointProtocol"]) == (
            "SUBMODEL-3.0", "OPC UA")
        async with Client(opcua["protocolInformation"]["href"], timeout=10) as connected:
            for body, id_short in ((opcua["protocolInformation"]["subprotocolBody"], "Press1"),
                                   (submodel["protocolInformation"]["subprotocolBody"], "Nameplate")):
                uri, identifier = body.removeprefix("nsu=").split(";s=", 1)
                node = connected.get_node(ua.NodeId(identifier, await connected.get_namespace_index(uri)))
                assert (await node.read_browse_name()).Name == id_short


async def test_a_repository_keeping_some_shells_in_memory_feeds_the_registry(tmp_path: Path) -> None:
    """On PostgreSQL with ``?cache=2``: the shells referencing a changed submodel come from the
    store's index, the full sync reads ids only; the registry follows as it does in memory."""
    require_postgres()
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v3.0"
    with fresh_store_url("bfeed") as url:
        plant = PlantFile.model_validate({"server": {"registry": {"serve": True}}})
        app = Application(plant, Options(host="127.0.0.1", port=port, data=tmp_path / "data", token=TOKEN,
                                         opcua=False, store=url + "&cache=2"))
        async with serving(app), httpx.AsyncClient(base_url=base, headers=AUTH) as client:
            assert app.twin.shell_source is not None
            await follow_the_repository(client, client, base)
