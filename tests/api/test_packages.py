"""AASX File Server: /packages upload (imported into the repository), download, replace, delete."""

from __future__ import annotations

import io
import zipfile

import httpx
from basyx.aas import model

from tests.api.test_shells import assert_result
from twinbridge.aas.serialization import Environment, write_environment
from twinbridge.server.api.ids import encode_id

AASX = "application/asset-administration-shell-package+xml"


def package(shell_id: str, id_short: str = "PackagedShell", manual: bytes = b"%PDF-1.4 manual") -> bytes:
    """An AASX with one shell, one submodel with a File element, and the file itself."""
    submodel = model.Submodel(
        f"{shell_id}/sm", id_short="Documents",
        submodel_element=[model.File("Manual", content_type="application/pdf", value="/aasx/files/manual.pdf")],
    )
    shell = model.AssetAdministrationShell(
        model.AssetInformation(global_asset_id=f"{shell_id}/asset"), shell_id, id_short=id_short,
        submodel={model.ModelReference.from_referable(submodel)},
    )
    env = Environment([shell], [submodel], [], {"/aasx/files/manual.pdf": ("application/pdf", manual)})
    return write_environment(env, "aasx")


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("aasx/data.xml", b"\0" * (8 * 1024 * 1024))
    return buffer.getvalue()


async def upload(client: httpx.AsyncClient, data: bytes, **fields: str) -> httpx.Response:
    return await client.post("/packages", files={"file": ("plant.aasx", data, AASX)}, data=fields)


async def test_upload_imports_and_keeps_the_package(client: httpx.AsyncClient) -> None:
    data = package("urn:test:pkg:shell")
    response = await upload(client, data, fileName="plant.aasx")
    assert response.status_code == 201, response.text
    description = response.json()
    assert description["aasIds"] == ["urn:test:pkg:shell"]
    package_path = f"/packages/{encode_id(description['packageId'])}"

    assert (await client.get(f"/shells/{encode_id('urn:test:pkg:shell')}")).json()["idShort"] == "PackagedShell"
    downloaded = await client.get(package_path)
    assert downloaded.content == data and downloaded.headers["content-type"] == AASX
    assert "plant.aasx" in downloaded.headers["content-disposition"]

    listed = (await client.get("/packages")).json()
    assert listed["result"] == [description]
    by_shell = await client.get("/packages", params={"aasId": encode_id("urn:test:pkg:shell")})
    assert by_shell.json()["result"] == [description]
    assert (await client.get("/packages", params={"aasId": encode_id("urn:nope")})).json()["result"] == []


async def test_uploaded_files_come_back_in_serialization(client: httpx.AsyncClient) -> None:
    await upload(client, package("urn:test:pkg:shell", manual=b"%PDF-1.4 the manual"))
    exported = await client.get("/serialization", params={"aasIds": encode_id("urn:test:pkg:shell")},
                                headers={"Accept": AASX})
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert archive.read("aasx/files/manual.pdf") == b"%PDF-1.4 the manual"


async def test_replace_and_delete(client: httpx.AsyncClient) -> None:
    description = (await upload(client, package("urn:test:pkg:shell"))).json()
    package_path = f"/packages/{encode_id(description['packageId'])}"
    replacement = package("urn:test:pkg:shell", id_short="Replaced")
    put = await client.put(package_path, files={"file": ("v2.aasx", replacement, AASX)},
                           data={"aasIds": "urn:test:pkg:shell"})
    assert put.status_code == 204
    assert (await client.get(package_path)).content == replacement
    assert (await client.get(f"/shells/{encode_id('urn:test:pkg:shell')}")).json()["idShort"] == "Replaced"

    assert (await client.delete(package_path)).status_code == 204
    assert_result(await client.get(package_path), 404, description["packageId"])
    assert (await client.get("/packages")).json()["result"] == []
    assert (await client.get(f"/shells/{encode_id('urn:test:pkg:shell')}")).status_code == 200
    assert_result(await client.delete(package_path), 404)


async def test_not_a_zip_and_zip_bomb_are_400_and_change_nothing(client: httpx.AsyncClient) -> None:
    before = (await client.get("/shells")).json()
    assert_result(await upload(client, b"this is not a zip"), 400, "ZIP")
    assert_result(await upload(client, zip_bomb()), 400, "zip bomb")
    assert (await client.get("/shells")).json() == before
    assert (await client.get("/packages")).json()["result"] == []


async def test_bad_package_requests(client: httpx.AsyncClient) -> None:
    assert_result(await client.post("/packages", data={"fileName": "x.aasx"}), 400, "file")
    assert_result(await client.get("/packages/invalid-base64url====="), 400, "packageId")
    assert_result(await client.get(f"/packages/{encode_id('nope')}"), 404, "nope")
    missing = await client.put(f"/packages/{encode_id('nope')}",
                               files={"file": ("p.aasx", package("urn:test:x"), AASX)})
    assert_result(missing, 404, "nope")
    assert (await client.get(f"/shells/{encode_id('urn:test:x')}")).status_code == 404


def test_package_round_trip_over_real_http(live_server: str) -> None:
    data = package("urn:test:pkg:http")
    with httpx.Client(base_url=live_server) as http:
        created = http.post("/packages", files={"file": ("p.aasx", data, AASX)},
                            data={"aasIds": ["urn:test:pkg:http"]})
        assert created.status_code == 201, created.text
        package_id = created.json()["packageId"]
        assert http.get(f"/packages/{encode_id(package_id)}").content == data
        assert http.get(f"/shells/{encode_id('urn:test:pkg:http')}").status_code == 200
