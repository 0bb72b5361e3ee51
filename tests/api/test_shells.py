"""AAS Repository: /shells and its sub-resources, in-process and over real HTTP."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import PNG_BYTES, PREFIX, SHELL_ID, SUBMODEL_ID, THUMBNAIL_PATH
from twinbridge.aas.limits import Limits
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity
from twinbridge.server.api.ids import encode_id

SHELL = f"/shells/{encode_id(SHELL_ID)}"


def new_shell(identifier: str = "urn:test:shell:2", id_short: str = "SecondShell",
              global_asset_id: str = "urn:test:asset:2") -> dict[str, Any]:
    return {
        "modelType": "AssetAdministrationShell",
        "id": identifier,
        "idShort": id_short,
        "assetInformation": {
            "assetKind": "Instance",
            "globalAssetId": global_asset_id,
            "specificAssetIds": [{"name": "serialNumber", "value": "SN-42"}],
        },
    }


def asset_query(name: str, value: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"name": name, "value": value}).encode()).decode().rstrip("=")


def assert_result(response: httpx.Response, status: int, *words: str) -> None:
    """A Part 2 Result whose message names what was wrong."""
    assert response.status_code == status, response.text
    message = response.json()["messages"][0]
    assert message["messageType"] == "Error"
    assert message["timestamp"].endswith("Z")
    for word in words:
        assert word in message["text"], message["text"]


async def test_get_all_shells_lists_the_example(client: httpx.AsyncClient) -> None:
    response = await client.get("/shells")
    assert response.status_code == 200
    body = response.json()
    assert [shell["id"] for shell in body["result"]] == [SHELL_ID]
    assert body["paging_metadata"] == {}


async def test_paging_walks_all_shells_with_cursors(client: httpx.AsyncClient) -> None:
    for number in range(2, 5):
        created = await client.post("/shells", json=new_shell(f"urn:test:shell:{number}", f"Shell{number}"))
        assert created.status_code == 201
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/shells", params=params)).json()
        seen.extend(shell["id"] for shell in body["result"])
        cursor = body["paging_metadata"].get("cursor")
        if cursor is None:
            break
    assert seen == [SHELL_ID, "urn:test:shell:2", "urn:test:shell:3", "urn:test:shell:4"]


@pytest.mark.parametrize(("params", "words"), [
    ({"limit": "-1"}, ("limit", "positive")),
    ({"limit": "0"}, ("limit", "positive")),
    ({"limit": "ten"}, ("limit", "'ten'", "integer")),
    ({"cursor": "bm90LWEtY3Vyc29y"}, ("cursor", "not issued")),
    ({"cursor": "!!"}, ("cursor", "not issued")),
    ({"assetIds": "invalid-base64url====="}, ("assetIds", "base64url")),
    ({"assetIds": asset_query("x", "y")[:-3] + "A"}, ("assetIds",)),
])
async def test_bad_list_parameters_are_400(client: httpx.AsyncClient, params: dict[str, str],
                                           words: tuple[str, ...]) -> None:
    assert_result(await client.get("/shells", params=params), 400, *words)


async def test_filters_by_id_short_and_asset_ids(client: httpx.AsyncClient) -> None:
    await client.post("/shells", json=new_shell())
    by_id_short = (await client.get("/shells", params={"idShort": "SecondShell"})).json()["result"]
    assert [shell["id"] for shell in by_id_short] == ["urn:test:shell:2"]
    assert (await client.get("/shells", params={"idShort": "nope"})).json()["result"] == []

    global_id = asset_query("globalAssetId", "urn:test:asset:2")
    specific = asset_query("serialNumber", "SN-42")
    other = asset_query("serialNumber", "SN-1")
    assert [s["id"] for s in (await client.get("/shells", params={"assetIds": global_id})).json()["result"]] \
        == ["urn:test:shell:2"]
    both = (await client.get("/shells", params=[("assetIds", global_id), ("assetIds", specific)])).json()
    assert [s["id"] for s in both["result"]] == ["urn:test:shell:2"]
    assert (await client.get("/shells", params=[("assetIds", global_id), ("assetIds", other)])).json()[
        "result"] == []
    example = asset_query("TestKey", "TestValue")
    references = (await client.get("/shells/$reference", params={"assetIds": example})).json()["result"]
    assert references == [{"type": "ModelReference",
                           "keys": [{"type": "AssetAdministrationShell", "value": SHELL_ID}]}]


async def test_post_get_put_delete_round_trip(client: httpx.AsyncClient, full_twin: Twin) -> None:
    created = await client.post("/shells", json=new_shell())
    assert created.status_code == 201
    assert created.json()["id"] == "urn:test:shell:2"
    path = f"/shells/{encode_id('urn:test:shell:2')}"
    assert (await client.get(path)).json()["idShort"] == "SecondShell"

    changed = new_shell(id_short="Renamed")
    assert (await client.put(path, json=changed)).status_code == 204
    assert full_twin.shell("urn:test:shell:2").id_short == "Renamed"

    assert (await client.delete(path)).status_code == 204
    assert_result(await client.get(path), 404, "urn:test:shell:2")
    assert_result(await client.delete(path), 404)


async def test_padded_and_unpadded_ids_are_accepted(client: httpx.AsyncClient) -> None:
    padded = base64.urlsafe_b64encode(SHELL_ID.encode()).decode()
    assert padded.endswith("=")
    assert (await client.get(f"/shells/{padded}")).status_code == 200
    assert (await client.get(SHELL)).status_code == 200


@pytest.mark.parametrize(("body", "status", "words"), [
    (b"{\"modelType\": ", 400, ("malformed JSON", "line 1")),
    (b"", 400, ("empty",)),
    (b"[1, 2]", 400, ("JSON list",)),
    (json.dumps({**new_shell(), "modelType": "Submodel"}).encode(), 400, ("AssetAdministrationShell",)),
    (json.dumps({k: v for k, v in new_shell().items() if k != "modelType"}).encode(), 400, ("modelType",)),
    (json.dumps(new_shell(id_short="1 not valid")).encode(), 400, ("idShort", "1 not valid")),
    (json.dumps({**new_shell(), "assetInformation": {"assetKind": "Sometimes"}}).encode(), 400, ("Sometimes",)),
    (json.dumps(new_shell(identifier=SHELL_ID)).encode(), 409, (SHELL_ID, "already exists")),
])
async def test_bad_shell_bodies_are_refused_and_change_nothing(
    client: httpx.AsyncClient, full_twin: Twin, body: bytes, status: int, words: tuple[str, ...]
) -> None:
    before = dict(full_twin.shells)
    response = await client.post("/shells", content=body, headers={"Content-Type": "application/json"})
    assert_result(response, status, *words)
    assert full_twin.shells == before
    assert full_twin.shell(SHELL_ID).id_short == "TestAssetAdministrationShell"


async def test_put_refuses_a_different_id_and_unknown_shells(client: httpx.AsyncClient, full_twin: Twin) -> None:
    assert_result(await client.put(SHELL, json=new_shell()), 400, "urn:test:shell:2", SHELL_ID)
    assert full_twin.shell(SHELL_ID).id_short == "TestAssetAdministrationShell"
    unknown = f"/shells/{encode_id('urn:test:shell:2')}"
    assert_result(await client.put(unknown, json=new_shell()), 404, "urn:test:shell:2")


async def test_invalid_base64url_id_is_400_naming_the_parameter(client: httpx.AsyncClient) -> None:
    assert_result(await client.get("/shells/invalid-base64url====="), 400, "aasIdentifier", "base64url")
    assert_result(await client.get("/shells/a"), 400, "aasIdentifier")


async def test_references(client: httpx.AsyncClient) -> None:
    single = (await client.get(f"{SHELL}/$reference")).json()
    assert single == {"type": "ModelReference", "keys": [{"type": "AssetAdministrationShell", "value": SHELL_ID}]}
    listed = (await client.get("/shells/$reference", params={"limit": "1"})).json()
    assert listed["result"] == [single]


async def test_asset_information_get_and_put(client: httpx.AsyncClient, full_twin: Twin) -> None:
    info = (await client.get(f"{SHELL}/asset-information")).json()
    assert info["globalAssetId"] == "http://example.org/TestAsset/"
    info["globalAssetId"] = "urn:test:asset:changed"
    assert (await client.put(f"{SHELL}/asset-information", json=info)).status_code == 204
    assert full_twin.shell(SHELL_ID).asset_information.global_asset_id == "urn:test:asset:changed"

    assert_result(await client.put(f"{SHELL}/asset-information", json={"globalAssetId": "x"}), 400,
                  "AssetInformation", "assetKind")
    assert full_twin.shell(SHELL_ID).asset_information.global_asset_id == "urn:test:asset:changed"


async def test_thumbnail_get_put_delete(client: httpx.AsyncClient, full_twin: Twin) -> None:
    thumbnail = f"{SHELL}/asset-information/thumbnail"
    got = await client.get(thumbnail)
    assert got.status_code == 200
    assert got.content == PNG_BYTES
    assert got.headers["content-type"] == "image/png"

    jpeg = b"\xff\xd8\xff\xe0fake-jpeg"
    put = await client.put(thumbnail, files={"file": ("photo.jpg", jpeg, "image/jpeg")},
                           data={"fileName": "photo.jpg"})
    assert put.status_code == 204
    resource = full_twin.shell(SHELL_ID).asset_information.default_thumbnail
    assert resource is not None and resource.content_type == "image/jpeg"
    assert full_twin.load_file(resource.path) == ("image/jpeg", jpeg)
    assert full_twin.load_file(THUMBNAIL_PATH) is not None  # not assigned by the server: never deleted by it
    again = await client.get(thumbnail)
    assert again.content == jpeg and again.headers["content-type"] == "image/jpeg"

    assert (await client.delete(thumbnail)).status_code == 204
    assert full_twin.shell(SHELL_ID).asset_information.default_thumbnail is None
    assert full_twin.load_file(resource.path) is None
    assert_result(await client.get(thumbnail), 404, "thumbnail")
    assert_result(await client.delete(thumbnail), 404, "thumbnail")


async def test_thumbnail_upload_needs_a_plain_file_name(client: httpx.AsyncClient) -> None:
    thumbnail = f"{SHELL}/asset-information/thumbnail"
    response = await client.put(thumbnail, files={"file": ("x.png", PNG_BYTES, "image/png")},
                                data={"fileName": "../../etc/passwd"})
    assert_result(response, 400, "fileName")
    missing = await client.put(thumbnail, files={"file": ("x.png", PNG_BYTES, "image/png")})
    assert_result(missing, 400, "fileName")


async def test_oversized_thumbnail_is_413_and_keeps_the_old_one(
    full_twin: Twin
) -> None:
    app = create_app(full_twin, prefix=PREFIX, security=ApiSecurity(mode="none"),
                     limits=Limits(thumbnail_bytes=1024))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://t{PREFIX}") as client:
        response = await client.put(f"{SHELL}/asset-information/thumbnail", data={"fileName": "big.png"},
                                    files={"file": ("big.png", b"x" * 2048, "image/png")})
    assert_result(response, 413, "thumbnail", "larger", "server.rest.limits.thumbnail_bytes")
    assert full_twin.shell(SHELL_ID).asset_information.default_thumbnail.path == THUMBNAIL_PATH  # type: ignore[union-attr]


async def test_submodel_references(client: httpx.AsyncClient, full_twin: Twin) -> None:
    refs = f"{SHELL}/submodel-refs"
    page = (await client.get(refs, params={"limit": "2"})).json()
    assert len(page["result"]) == 2 and page["paging_metadata"]["cursor"]
    rest = (await client.get(refs, params={"limit": "2", "cursor": page["paging_metadata"]["cursor"]})).json()
    assert len(rest["result"]) == 1 and rest["paging_metadata"] == {}

    new_ref = {"type": "ModelReference", "keys": [{"type": "Submodel", "value": "urn:test:submodel:new"}]}
    posted = await client.post(refs, json=new_ref)
    assert posted.status_code == 201 and posted.json() == new_ref
    assert len(full_twin.shell(SHELL_ID).submodel) == 4
    assert_result(await client.post(refs, json=new_ref), 409, "urn:test:submodel:new")

    external = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:x"}]}
    assert_result(await client.post(refs, json=external), 400, "ModelReference")
    assert_result(await client.post(refs, json={"type": "ModelReference"}), 400, "Reference", "keys")

    assert (await client.delete(f"{refs}/{encode_id('urn:test:submodel:new')}")).status_code == 204
    assert (await client.delete(f"{refs}/{encode_id(SUBMODEL_ID)}")).status_code == 204
    remaining = [ref["keys"][0]["value"] for ref in (await client.get(refs)).json()["result"]]
    assert SUBMODEL_ID not in remaining and len(remaining) == 2
    assert SUBMODEL_ID in full_twin.submodels
    assert_result(await client.delete(f"{refs}/{encode_id(SUBMODEL_ID)}"), 404, SUBMODEL_ID)


async def test_single_shell_view_lists_only_itself(client: httpx.AsyncClient) -> None:
    await client.post("/shells", json=new_shell())
    listed = (await client.get(f"{SHELL}/shells")).json()["result"]
    assert [shell["id"] for shell in listed] == [SHELL_ID]


def test_shells_over_real_http(live_server: str) -> None:
    with httpx.Client(base_url=live_server) as http:
        assert http.post("/shells", json=new_shell()).status_code == 201
        listed = http.get("/shells", params={"limit": "1"}).json()
        assert len(listed["result"]) == 1 and listed["paging_metadata"]["cursor"]
        second = http.get("/shells", params={"limit": "1", "cursor": listed["paging_metadata"]["cursor"]}).json()
        assert second["result"][0]["id"] == "urn:test:shell:2"
        bad = http.post("/shells", content=b"{oops", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and "malformed JSON" in bad.json()["messages"][0]["text"]
        assert http.get(f"{SHELL}/asset-information/thumbnail").content == PNG_BYTES
