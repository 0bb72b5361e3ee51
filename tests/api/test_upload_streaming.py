"""Uploads are streamed to a private file of the data directory, refused with 413 the moment
they pass their limit (the rest of the body is never read), and leave no file behind."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import orjson

from tests.api.hardening import PREFIX, TOKEN, assert_result, b64, served
from tests.serving import serving_in_thread
from twinbridge.aas import files
from twinbridge.aas.limits import Limits
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app

BOUNDARY = "twinbridge-test-boundary"
FILE_ELEMENT = {"modelType": "File", "idShort": "Manual", "contentType": "text/plain"}


def _head(port: int, path: str) -> bytes:
    return (f"PUT {PREFIX}{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_FILE_PART = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\nmanual.txt\r\n"
              f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"manual.txt\"\r\n"
              "Content-Type: text/plain\r\n\r\n").encode()


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, object]]:
    status_line = await asyncio.wait_for(reader.readline(), 30)
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return int(status_line.split()[1]), orjson.loads(await reader.readexactly(length))


async def _element_path(http: object) -> str:
    submodel = (await http.get("/submodels")).json()["result"][0]["id"]  # type: ignore[attr-defined]
    elements = f"/submodels/{b64(submodel)}/submodel-elements"
    assert (await http.post(elements, json=FILE_ELEMENT)).status_code == 201  # type: ignore[attr-defined]
    return f"{elements}/Manual/attachment"


async def test_an_upload_is_spooled_in_the_data_directory_and_stored_whole(tmp_path: Path) -> None:
    async with served(tmp_path) as (_, http):
        path = await _element_path(http)
        port = int(http.base_url.port or 80)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_head(port, path) + _chunk(_FILE_PART + b"a" * 30_000))
        await writer.drain()
        uploads = tmp_path / files.UPLOADS
        deadline = time.monotonic() + 30
        while not any(spooled.stat().st_size >= 30_000 for spooled in uploads.glob("upload-*")):
            assert time.monotonic() < deadline, "the first half never reached DATA/uploads"
            await asyncio.sleep(0.01)
        assert uploads.stat().st_mode & 0o777 == 0o700
        assert all(spooled.stat().st_mode & 0o777 == 0o600 for spooled in uploads.glob("upload-*"))
        writer.write(_chunk(b"b" * 30_000 + f"\r\n--{BOUNDARY}--\r\n".encode()) + _chunk(b""))
        await writer.drain()
        status = (await asyncio.wait_for(reader.readline(), 30)).split()[1]
        writer.close()
        assert status == b"204"
        response = await http.get(path)
        assert response.content == b"a" * 30_000 + b"b" * 30_000
        assert list(uploads.iterdir()) == []  # the store's writer deleted the spooled file once written


async def test_a_part_over_its_limit_is_413_before_the_body_ends_and_leaves_nothing(tmp_path: Path) -> None:
    """The plant allows 64 KiB attachments: 100 KiB are sent, the body never ends, the answer comes."""
    async with served(tmp_path) as (application, http):
        path = await _element_path(http)
        before = application.twin.store.file_names()
        port = int(http.base_url.port or 80)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_head(port, path) + _chunk(_FILE_PART + b"x" * 100_000))  # no closing boundary, no last chunk
        await writer.drain()
        status, result = await _response(reader)
        writer.close()
        assert status == 413
        assert "server.rest.limits.attachment_bytes" in str(result["messages"][0]["text"])  # type: ignore[index]
        assert application.twin.store.file_names() == before
        assert list((tmp_path / files.UPLOADS).iterdir()) == []
        assert (await http.get(path)).status_code == 404  # the File still has no value


def test_a_thumbnail_over_its_own_limit_is_413_within_the_door_limit(full_twin: Twin, tmp_path: Path) -> None:
    """The door bounds a multipart body by attachment_bytes; the thumbnail part has its own, smaller limit."""
    app = create_app(full_twin, prefix=PREFIX, limits=Limits(attachment_bytes=100_000, thumbnail_bytes=10_000),
                     data_dir=tmp_path)
    shell = next(iter(full_twin.shells))
    path = f"{PREFIX}/shells/{b64(shell)}/asset-information/thumbnail"
    with serving_in_thread(app) as url, httpx.Client(base_url=url) as client:
        refused = client.put(path, data={"fileName": "t.png"}, files={"file": ("t.png", b"p" * 20_000, "image/png")})
        assert_result(refused, 413, "server.rest.limits.thumbnail_bytes")
        taken = client.put(path, data={"fileName": "t.png"}, files={"file": ("t.png", b"p" * 9_000, "image/png")})
        assert taken.status_code == 204, taken.text
        assert client.get(path).content == b"p" * 9_000
    assert list((tmp_path / files.UPLOADS).iterdir()) == []
