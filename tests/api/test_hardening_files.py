"""Issue 9, class 1: files are owned by their element, never found by a name a client chose."""

from __future__ import annotations

from pathlib import Path

from tests.api.hardening import assert_result, assert_unchanged, b64, served, state

FILE_ELEMENT = {"modelType": "File", "idShort": "Manual", "contentType": "text/plain"}


async def _first_submodel(http: object) -> str:
    response = await http.get("/submodels")  # type: ignore[attr-defined]
    return str(response.json()["result"][0]["id"])


async def test_a_file_value_naming_other_files_reaches_none_of_them(tmp_path: Path) -> None:
    async with served(tmp_path) as (application, http):
        submodel = b64(await _first_submodel(http))
        elements = f"/submodels/{submodel}/submodel-elements"
        assert (await http.post(elements, json={**FILE_ELEMENT, "idShort": "Owner"})).status_code == 201
        upload = {"file": ("manual.txt", b"the owner's manual", "text/plain")}
        assert (await http.put(f"{elements}/Owner/attachment", data={"fileName": "manual.txt"},
                               files=upload)).status_code == 204
        owner_file = (await http.get(f"{elements}/Owner")).json()["value"]
        internal = next(name for name in application.twin.store.file_names() if name.startswith("plant/"))
        before = await state(application, http)
        for target in (internal, owner_file):
            body = {**FILE_ELEMENT, "value": target}
            assert (await http.post(elements, json=body)).status_code == 201
            if target == internal:  # the server's own file is not served through an element
                assert_result(await http.get(f"{elements}/Manual/attachment"), 404, "not stored")
            assert (await http.delete(f"{elements}/Manual/attachment")).status_code == 204
            assert (await http.delete(f"{elements}/Manual")).status_code == 204
        shell = (await http.get("/shells")).json()["result"][0]
        info = f"/shells/{b64(shell['id'])}/asset-information"
        asset_information = (await http.get(info)).json()
        thumbnail = {**asset_information, "defaultThumbnail": {"path": internal, "contentType": "text/plain"}}
        assert (await http.put(info, json=thumbnail)).status_code == 204
        assert_result(await http.get(f"{info}/thumbnail"), 404, "not stored")
        assert (await http.delete(f"{info}/thumbnail")).status_code == 204
        assert (await http.put(info, json=asset_information)).status_code == 204
        assert_unchanged(before, await state(application, http))
    async with served(tmp_path) as (application, http):  # the plant file did not take over either
        assert_unchanged(before, await state(application, http))


async def test_paths_that_the_exports_cannot_write_are_refused(tmp_path: Path) -> None:
    async with served(tmp_path) as (application, http):
        submodel = b64(await _first_submodel(http))
        elements = f"/submodels/{submodel}/submodel-elements"
        before = await state(application, http)
        refused = await http.post(elements, json={**FILE_ELEMENT, "value": "/aasx/../../etc/passwd"})
        assert_result(refused, 400, "'..'")
        upload = {"file": ("a\x00b.txt", b"x", "text/plain")}
        assert (await http.post(elements, json=FILE_ELEMENT)).status_code == 201
        nul = await http.put(f"{elements}/Manual/attachment", data={"fileName": "a\x00b.txt"}, files=upload)
        assert_result(nul, 400, "U+0000")
        assert (await http.delete(f"{elements}/Manual")).status_code == 204
        assert_unchanged(before, await state(application, http))
        xml = await http.get("/serialization", headers={"Accept": "application/xml"})
        assert xml.status_code == 200


async def test_text_that_would_become_a_broken_header_is_refused(tmp_path: Path) -> None:
    """A content type or package file name with CR/LF made the download drop the connection."""
    async with served(tmp_path) as (application, http):
        submodel = b64(await _first_submodel(http))
        elements = f"/submodels/{submodel}/submodel-elements"
        before = await state(application, http)
        for body in ({**FILE_ELEMENT, "contentType": "text/plain\r\nX-Evil: 1"},
                     {"modelType": "Blob", "idShort": "B", "contentType": "a\nb", "value": "AAAA"}):
            assert_result(await http.post(elements, json=body), 400, "not a media type")
        package = (await http.get("/serialization",
                                  headers={"Accept": "application/asset-administration-shell-package+xml"})).content
        for form in ({"fileName": "a\r\nX-Evil: 1.aasx"}, {"aasIds": "\u0001"}):
            upload = {"file": ("p.aasx", package, "application/zip")}
            response = await http.post("/packages", files=upload, data=form)
            assert response.status_code == 400 and ("control characters" in response.text or "U+0001" in response.text)
        assert_unchanged(before, await state(application, http))
