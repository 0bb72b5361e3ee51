"""File and Blob attachments: download, multipart upload into the file store or the model, deletion."""

from __future__ import annotations

import httpx

from tests.api.conftest import PDF_BYTES, SUBMODEL_ID
from twinbridge.aas.files import is_assigned
from twinbridge.aas.twin import Twin
from twinbridge.server.api.ids import encode_id

ELEMENTS = f"/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements/ExampleSubmodelCollection"
FILE = f"{ELEMENTS}.ExampleFile/attachment"
BLOB = f"{ELEMENTS}.ExampleBlob/attachment"


def _error_text(response: httpx.Response) -> str:
    return str(response.json()["messages"][0]["text"])


async def test_download_file_and_blob(client: httpx.AsyncClient) -> None:
    pdf = await client.get(FILE)
    assert pdf.status_code == 200 and pdf.content == PDF_BYTES
    assert pdf.headers["content-type"] == "application/pdf"
    blob = await client.get(BLOB)
    assert blob.content == b"\x01\x02\x03\x04\x05"
    external = await client.get(f"{ELEMENTS}.ExampleFileURI/attachment")
    assert external.status_code == 404 and "not stored" in _error_text(external)
    not_a_file = await client.get(f"{ELEMENTS}.ExampleRange/attachment")
    assert not_a_file.status_code == 400 and "File and Blob" in _error_text(not_a_file)


async def test_upload_replaces_the_file(client: httpx.AsyncClient, full_twin: Twin) -> None:
    files = {"file": ("manual.txt", b"new manual", "text/plain")}
    response = await client.put(FILE, data={"fileName": "manual.txt"}, files=files)
    assert response.status_code == 204
    element = full_twin.element(SUBMODEL_ID, "ExampleSubmodelCollection.ExampleFile")
    name = element.value  # type: ignore[attr-defined]
    assert is_assigned(name) and name.endswith("/manual.txt") and element.content_type == "text/plain"  # type: ignore[attr-defined]
    assert full_twin.load_file(name) == ("text/plain", b"new manual")
    assert full_twin.load_file("/TestFile.pdf") is not None  # imported, not assigned by the server: kept
    download = await client.get(FILE)
    assert download.content == b"new manual"
    again = {"file": ("manual.txt", b"newer manual", "text/plain")}
    assert (await client.put(FILE, data={"fileName": "manual.txt"}, files=again)).status_code == 204
    assert full_twin.load_file(name) is None  # the replaced upload was only this element's


async def test_same_file_name_for_two_elements_does_not_collide(client: httpx.AsyncClient, full_twin: Twin) -> None:
    files = {"file": ("a.bin", b"first", "application/octet-stream")}
    await client.put(FILE, data={"fileName": "a.bin"}, files=files)
    other = f"{ELEMENTS}.ExampleFileURI/attachment"
    files = {"file": ("a.bin", b"second", "application/octet-stream")}
    assert (await client.put(other, data={"fileName": "a.bin"}, files=files)).status_code == 204
    assert (await client.get(FILE)).content == b"first"
    assert (await client.get(other)).content == b"second"


async def test_upload_into_a_blob(client: httpx.AsyncClient, full_twin: Twin) -> None:
    files = {"file": ("x.bin", b"\x00\xffpayload", "application/octet-stream")}
    assert (await client.put(BLOB, data={"fileName": "x.bin"}, files=files)).status_code == 204
    blob = full_twin.element(SUBMODEL_ID, "ExampleSubmodelCollection.ExampleBlob")
    assert blob.value == b"\x00\xffpayload"  # type: ignore[attr-defined]
    assert (await client.get(BLOB)).content == b"\x00\xffpayload"


async def test_bad_uploads(client: httpx.AsyncClient) -> None:
    missing_file = await client.put(FILE, data={"fileName": "x"})
    assert missing_file.status_code == 400 and "file" in _error_text(missing_file)
    files = {"file": ("x", b"data", "text/plain")}
    bad_name = await client.put(FILE, data={"fileName": ".."}, files=files)
    assert bad_name.status_code == 400 and "fileName" in _error_text(bad_name)


async def test_delete_attachment(client: httpx.AsyncClient, full_twin: Twin) -> None:
    files = {"file": ("manual.txt", b"uploaded", "text/plain")}
    assert (await client.put(FILE, data={"fileName": "manual.txt"}, files=files)).status_code == 204
    name = full_twin.element(SUBMODEL_ID, "ExampleSubmodelCollection.ExampleFile").value  # type: ignore[attr-defined]
    assert (await client.delete(FILE)).status_code == 204
    assert full_twin.load_file(name) is None
    assert (await client.get(FILE)).status_code == 404
    assert (await client.delete(FILE)).status_code == 404
    assert (await client.delete(BLOB)).status_code == 204
    assert (await client.get(BLOB)).status_code == 404
