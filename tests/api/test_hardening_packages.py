"""Issue 9, class 5: ambiguous or poisoned AASX packages are refused whole, and quickly."""

from __future__ import annotations

import io
import time
import warnings
import zipfile
from pathlib import Path

from tests.api.hardening import assert_unchanged, served, state

AASX = {"Accept": "application/asset-administration-shell-package+xml"}


def _tampered(package: bytes, extra: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO(package)
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "a") as archive:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we add on purpose
        for name, content in extra:
            archive.writestr(name, content)
    return buffer.getvalue()


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16)
    return info


async def test_poisoned_packages_are_refused_and_change_nothing(tmp_path: Path) -> None:
    async with served(tmp_path) as (application, http):
        package = (await http.get("/serialization", headers=AASX)).content
        data_part = next(name for name in zipfile.ZipFile(io.BytesIO(package)).namelist() if name.endswith(".xml")
                         and "aasx/" in name and "origin" not in name)
        xml = zipfile.ZipFile(io.BytesIO(package)).read(data_part)
        rebuilt = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(rebuilt, "w") as copy:
            for entry in source.infolist():
                content = source.read(entry)
                if entry.filename == data_part:
                    content = content.replace(b"</aas:assetInformation>",
                                              b"<aas:defaultThumbnail><aas:path>/../../x.png</aas:path>"
                                              b"<aas:contentType>image/png</aas:contentType></aas:defaultThumbnail>"
                                              b"</aas:assetInformation>", 1)
                copy.writestr(entry, content)
        before = await state(application, http)
        bomb = io.BytesIO()
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
            for index in range(40):
                archive.writestr(f"aasx/bomb{index}.bin", b"\0" * (8 * 1024 * 1024))
        cases = [
            (_tampered(package, [(data_part, xml)]), "twice"),
            (_tampered(package, [("aasx/../../escape.txt", b"x")]), "'..'"),
            (_tampered(package, [("/etc/absolute.txt", b"x")]), "absolute"),
            (_tampered(package, [(_symlink("aasx/link"), b"/etc/passwd")]), "symbolic link"),
            (rebuilt.getvalue(), "x.png"),
            (bomb.getvalue(), "package_"),
        ]
        for content, words in cases:
            started = time.perf_counter()
            upload = {"file": ("p.aasx", content, "application/asset-administration-shell-package")}
            response = await http.post("/packages", files=upload)
            assert time.perf_counter() - started < 10
            assert response.status_code in (400, 413), response.text
            assert words in response.text, response.text
        assert_unchanged(before, await state(application, http))
    async with served(tmp_path) as (application, http):
        assert_unchanged(before, await state(application, http))
        assert (await http.get("/serialization", headers=AASX)).status_code == 200
