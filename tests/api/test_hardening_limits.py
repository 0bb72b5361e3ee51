"""Issue 9, classes 2 and 3 and the generic rule: bounded input, refused whole, text the metamodel
allows, no 500 and no internal text, the connection kept, big bodies off the event loop."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import APIRouter

from tests.api.conftest import PREFIX, SUBMODEL_ID
from tests.api.hardening import assert_result, assert_unchanged, b64, served, state
from tests.serving import serving_in_thread
from twinbridge.aas.limits import Limits
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app


def _nested(depth: int) -> dict[str, object]:
    element: dict[str, object] = {"modelType": "Property", "idShort": "Leaf", "valueType": "xs:int"}
    for level in range(depth):
        element = {"modelType": "SubmodelElementCollection", "idShort": f"L{level}", "value": [element]}
    return element


async def test_bad_bodies_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with served(tmp_path) as (application, http):
        submodel = (await http.get("/submodels")).json()["result"][0]["id"]
        elements = f"/submodels/{b64(submodel)}/submodel-elements"
        assert (await http.post(elements, content=json.dumps(_nested(40)))).status_code == 201
        deep = ".".join(f"L{level}" for level in range(39, -1, -1))
        before = await state(application, http)
        assert_result(await http.post(f"{elements}/{deep}", content=json.dumps(_nested(30))), 400, "path_depth")
        cases = [
            ("[" * 10_000 + "]" * 10_000, 400, "nested too deeply"),
            (json.dumps(_nested(300)), 400, "json_depth"),
            (json.dumps({"modelType": "Property", "idShort": "Big", "valueType": "xs:integer", "value": "9" * 5000}),
             400, "number_digits"),
            (json.dumps({"modelType": "Property", "idShort": "Ctl", "valueType": "xs:string", "value": "a\u0001b"}),
             400, "U+0001"),
            (json.dumps({"modelType": "Property", "idShort": "Nc", "valueType": "xs:string", "value": "\ufffe"}),
             400, "U+FFFE"),
            ('{"modelType": "Property", "idShort": "Sur", "valueType": "xs:string", "value": "\\ud800"}',
             400, "surrogate"),
        ]
        for body, status, words in cases:
            assert_result(await http.post(elements, content=body), status, words)
        mode = f"{elements}/L39.L38"
        assert (await http.post(mode, json={"modelType": "Property", "idShort": "Mode", "valueType": "xs:int"})
                ).status_code == 201
        mode += ".Mode"
        before = await state(application, http)
        for body, words in (('"\\udc00"', "surrogate"), ('"a\\u0000"', "U+0000"), ('"' + "1" * 5000 + '"', "")):
            response = await http.patch(f"{mode}/$value", content=body)
            assert response.status_code == 400, response.text
            assert words in response.text
        assert (await http.get("/submodels")).status_code == 200
        assert_unchanged(before, await state(application, http))
        assert (await http.get("/serialization", headers={"Accept": "application/xml"})).status_code == 200
        too_big = await http.put(f"{elements}/Nothing/attachment", data={"fileName": "x.bin"},
                                 files={"file": ("x.bin", b"x" * 70_000, "application/octet-stream")})
        assert_result(too_big, 413, "server.rest.limits.attachment_bytes")
    async with served(tmp_path) as (application, http):
        assert_unchanged(before, await state(application, http))


async def test_a_big_body_does_not_stall_other_clients(tmp_path: Path) -> None:
    async with served(tmp_path) as (_, http):
        submodel = (await http.get("/submodels")).json()["result"][0]["id"]
        items = [{"modelType": "Property", "idShort": f"P{i}", "valueType": "xs:string", "value": "v" * 100}
                 for i in range(60_000)]
        body = json.dumps({"modelType": "SubmodelElementCollection", "idShort": "Big", "value": items}).encode()
        assert len(body) > 8_000_000
        base = str(http.base_url)
        async with http.__class__(base_url=base, timeout=60, headers=dict(http.headers)) as other:
            big = asyncio.create_task(other.post(f"/submodels/{b64(submodel)}/submodel-elements", content=body))
            await asyncio.sleep(0.3)  # the upload is in, the parse running
            started = time.perf_counter()
            assert (await http.get("/description")).status_code == 200
            waited = time.perf_counter() - started
            assert (await big).status_code == 201
        assert waited < 1.0, f"a small read waited {waited:.2f} s behind the big body's parse"


def test_an_unexpected_error_is_a_generic_500_and_keeps_the_connection(full_twin: Twin) -> None:
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret /var/lib/twinbridge/store.sqlite")

    app = create_app(full_twin, prefix=PREFIX, extra_routers=[router])
    with serving_in_thread(app) as url:
        connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
        connection.request("GET", f"{PREFIX}/boom")
        first = connection.getresponse()
        text = first.read().decode()
        assert first.status == 500 and "internal error" in text and "secret" not in text
        connection.request("GET", f"{PREFIX}/description")  # the same socket: not closed by the 500
        second = connection.getresponse()
        assert second.status == 200
        second.read()
        connection.close()


def test_a_streamed_body_over_its_limit_is_413_naming_the_limit(full_twin: Twin) -> None:
    """Without Content-Length the body is counted as it arrives; a multipart upload is 413 too
    (FastAPI turned the interrupted form into a 400)."""
    app = create_app(full_twin, prefix=PREFIX, limits=Limits(attachment_bytes=100_000, body_bytes=100_000))

    def chunks(data: bytes) -> Iterator[bytes]:
        yield from (data[start:start + 8192] for start in range(0, len(data), 8192))

    form = (b'--x\r\nContent-Disposition: form-data; name="fileName"\r\n\r\na.txt\r\n--x\r\nContent-Disposition: '
            b'form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n' + b"a" * 300_000
            + b"\r\n--x--\r\n")
    elements = f"{PREFIX}/submodels/{b64(SUBMODEL_ID)}/submodel-elements"
    with serving_in_thread(app) as url, httpx.Client(base_url=url) as client:
        upload = client.put(f"{elements}/ExampleSubmodelCollection.ExampleFile/attachment", content=chunks(form),
                            headers={"Content-Type": "multipart/form-data; boundary=x"})
        assert_result(upload, 413, "server.rest.limits.attachment_bytes")
        body = client.post(elements, content=chunks(b'{"a": "' + b"x" * 300_000 + b'"}'))
        assert_result(body, 413, "server.rest.limits.body_bytes")
        assert client.get(f"{PREFIX}/description").status_code == 200


IDENTIFICATION = "http://example.org/Submodels/Assets/TestAsset/Identification"


def test_a_client_leaving_mid_body_is_no_server_error_and_changes_nothing(
        full_twin: Twin, caplog: pytest.LogCaptureFixture) -> None:
    """A PATCH whose client closes the socket before its body ends: nothing to answer, nothing
    written, and no "unexpected error" in the log (wrk does this at the end of every run)."""
    app = create_app(full_twin, prefix=PREFIX)
    path = f"{PREFIX}/submodels/{b64(IDENTIFICATION)}/submodel-elements/ManufacturerName/$value"
    before = full_twin.element(IDENTIFICATION, "ManufacturerName").value  # type: ignore[attr-defined]
    with caplog.at_level(logging.DEBUG, logger="twinbridge"), serving_in_thread(app) as url:
        with socket.create_connection(urlsplit(url).netloc.split(":", 1)) as raw:  # type: ignore[arg-type]
            raw.sendall(f"PATCH {path} HTTP/1.1\r\nHost: twin\r\nContent-Type: application/json\r\n"
                        "Content-Length: 100\r\n\r\n\"half".encode())
            time.sleep(0.2)
        deadline = time.monotonic() + 5
        while "disconnected mid-request" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=url) as client:  # still serving
            assert client.get(f"{PREFIX}/description").status_code == 200
    assert "disconnected mid-request" in caplog.text
    assert "unexpected error" not in caplog.text
    assert full_twin.element(IDENTIFICATION, "ManufacturerName").value == before  # type: ignore[attr-defined]
