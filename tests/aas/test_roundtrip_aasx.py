"""AASX packages: import → export → re-import keeps model and files; hostile zips are refused."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pyecma376_2
import pytest
from basyx.aas import model
from basyx.aas.adapter.aasx import AASXWriter, DictSupplementaryFileContainer
from basyx.aas.examples.data.example_aas import create_full_example

from tests.aas.environments import canonical
from twinbridge.aas.serialization import (
    Environment,
    FormatError,
    collect,
    import_environment,
    read_environment,
    write_environment,
)
from twinbridge.aas.store import SqliteStore
from twinbridge.aas.twin import Twin

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
THUMBNAIL = "/aasx/thumbnail.png"




def full_environment() -> Environment:
    env = Environment()
    for obj in create_full_example():
        if isinstance(obj, model.AssetAdministrationShell):
            obj.asset_information.default_thumbnail = model.Resource(THUMBNAIL, "image/png")
            env.shells.append(obj)
        elif isinstance(obj, model.Submodel):
            env.submodels.append(obj)
        else:
            env.concept_descriptions.append(obj)
    env.files = {"/TestFile.pdf": ("application/pdf", PDF), THUMBNAIL: ("image/png", PNG)}
    return env


def test_import_export_reimport(tmp_path: Path) -> None:
    original = full_environment()
    package = write_environment(original, "aasx")

    store = SqliteStore(tmp_path / "twin.sqlite3")
    twin = Twin(store)
    summary = import_environment(twin, read_environment(package, "aasx"))
    assert (summary.created, summary.replaced, summary.files) == (5, 0, 2)
    store.close()

    reopened = Twin(SqliteStore(tmp_path / "twin.sqlite3"))
    exported = write_environment(collect(reopened), "aasx")
    again = read_environment(exported, "aasx")
    assert canonical(again) == canonical(original)
    assert again.files == original.files  # names, content types and bytes


def test_package_layout(tmp_path: Path) -> None:
    package = zipfile.ZipFile(io.BytesIO(write_environment(full_environment(), "aasx")))
    names = set(package.namelist())
    assert {"aasx/data.xml", "TestFile.pdf", "aasx/thumbnail.png", "docProps/core.xml", "_rels/.rels"} <= names
    assert b'xmlns:aas="https://admin-shell.io/aas/3/0"' in package.read("aasx/data.xml")[:200]
    assert b"twinbridge" in package.read("docProps/core.xml")
    relationships = package.read("_rels/.rels")
    assert b"relationships/metadata/thumbnail" in relationships and b"aasx-origin" in relationships
    thumbnails = [name for name in names if name.startswith("aasx-thumbnail")]
    assert len(thumbnails) == 1 and package.read(thumbnails[0]) == PNG


def test_reads_a_basyx_native_3_1_package() -> None:
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    for obj in create_full_example():
        store.add(obj)
    files = DictSupplementaryFileContainer()
    files.add_file("/TestFile.pdf", io.BytesIO(PDF), "application/pdf")
    buffer = io.BytesIO()
    with AASXWriter(buffer) as writer:
        writer.write_aas("https://example.org/Test_AssetAdministrationShell", store, files)
    env = read_environment(buffer.getvalue(), "aasx")
    assert [len(env.shells), len(env.submodels), len(env.concept_descriptions)] == [1, 3, 1]
    assert env.files == {"/TestFile.pdf": ("application/pdf", PDF)}


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_non_zip_is_refused() -> None:
    with pytest.raises(FormatError, match=r"not an AASX package \(a ZIP file is required\)"):
        read_environment(b"%PDF-1.4 definitely not a zip", "aasx")


def test_plain_zip_is_refused() -> None:
    with pytest.raises(FormatError, match=r"not an AASX package \(broken OPC structure\): Could not find part"):
        read_environment(_zip({"readme.txt": b"hello"}), "aasx")


def test_package_without_aas_origin_is_refused() -> None:
    buffer = io.BytesIO()
    writer = pyecma376_2.ZipPackageWriter(buffer)
    with writer.open_part("/readme.txt", "text/plain") as part:
        part.write(b"hello")
    writer.close()
    with pytest.raises(FormatError, match="aasx-origin Relationship is missing"):
        read_environment(buffer.getvalue(), "aasx")


def test_lying_central_directory_is_refused_before_inflating() -> None:
    data = bytearray(_zip({"aasx/data.xml": b"<x/>" * 10}))
    header = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, header + 24, 0xFFFF0000)  # declared uncompressed size: ~4 GiB
    with pytest.raises(FormatError, match="inflates to more than 512 MiB"):
        read_environment(bytes(data), "aasx")


def test_high_compression_ratio_is_refused() -> None:
    with pytest.raises(FormatError, match=r"compresses \d+:1; more than 200:1 is refused"):
        read_environment(_zip({"bomb.bin": bytes(4 * 1024 * 1024)}), "aasx")


def test_too_many_entries_are_refused() -> None:
    with pytest.raises(FormatError, match="10001 entries; at most 10000"):
        read_environment(_zip({f"f{index}": b"" for index in range(10_001)}), "aasx")


def test_dangling_file_reference() -> None:
    submodel = model.Submodel("urn:sm", submodel_element=[model.File("f", "application/pdf", value="/aasx/gone.pdf")])
    package = write_environment(Environment(submodels=[submodel]), "aasx")
    with pytest.raises(FormatError, match=r"references '/aasx/gone\.pdf', which is not in the AASX package"):
        read_environment(package, "aasx")
    env = read_environment(package, "aasx", failsafe=True)
    assert env.files == {}
    assert env.submodels[0].get_referable("f").value == "/aasx/gone.pdf"  # type: ignore[attr-defined]


def test_files_cannot_pose_as_package_structure() -> None:
    submodel = model.Submodel("urn:sm", submodel_element=[
        model.File("evil", "application/xml", value="/aasx/data.xml"),
        model.File("rels", "application/xml", value="/_rels/.rels"),
        model.File("fine", "application/pdf", value="/aasx/files/fine.pdf"),
    ])
    env = Environment(submodels=[submodel], files={
        "/aasx/data.xml": ("application/xml", b"<not-the-model/>"),
        "/_rels/.rels": ("application/xml", b"<nope/>"),
        "/aasx/files/fine.pdf": ("application/pdf", PDF),
    })
    again = read_environment(write_environment(env, "aasx"), "aasx")
    assert [s.id for s in again.submodels] == ["urn:sm"]
    assert again.files == {"/aasx/files/fine.pdf": ("application/pdf", PDF)}
