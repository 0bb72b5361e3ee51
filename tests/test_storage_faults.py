"""Storage faults over real HTTP: a full disk, a store that is not a twinbridge store, file modes.

A full disk answers 507 with a Result, leaves memory as it was (and as a restart reads it) and
recovers by itself when space returns; start-up refuses a zero-length, foreign, corrupt or
undecodable store with a message naming the file and what to do; the data directory is 0700
and the store files 0600 whatever the umask.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from basyx.aas import model

from tests.ports import free_port
from tests.serving import serving
from twinbridge.aas.errors import StorageError
from twinbridge.aas.store import STORE_FILE_NAME
from twinbridge.history._journal_file import verify
from twinbridge.history.service import HISTORY_DIR, JOURNAL_FILE
from twinbridge.server import cli
from twinbridge.server.application import Application, Options
from twinbridge.server.config import parse_plant_file

TOKEN = "s" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SUBMODEL_ID = "urn:twinbridge:test:sm:disk"
ENCODED = base64.urlsafe_b64encode(SUBMODEL_ID.encode()).decode().rstrip("=")
SUBMODEL = {
    "modelType": "Submodel", "id": SUBMODEL_ID, "idShort": "Disk",
    "submodelElements": [{"modelType": "Property", "idShort": "Note", "valueType": "xs:string", "value": "before"}],
}


def application(data: Path) -> Application:
    plant_file = parse_plant_file("server: {opcua: {enabled: false}}\n", "test.yaml")
    return Application(plant_file, Options(host="127.0.0.1", port=free_port(), data=data, token=TOKEN, opcua=False))


@contextlib.contextmanager
def small_disk(where: Path, size: str = "6m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (needs root, as the CI container runs)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("the disk-full test mounts a small tmpfs, which needs root")
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


async def test_a_full_disk_answers_507_keeps_memory_and_recovers(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        data = disk / "data"
        async with serving(application(data)) as app:
            base = f"http://127.0.0.1:{app.port}/api/v3.0"
            async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=10) as http:
                assert (await http.post("/submodels", json=SUBMODEL)).status_code == 201
                note = f"/submodels/{ENCODED}/submodel-elements/Note"
                filler = fill(disk)
                big = "x" * 200_000  # more than the WAL's spare pages
                for request in (http.patch(f"{note}/$value", json=big),
                                http.put(note, json={**SUBMODEL["submodelElements"][0], "value": big}),  # type: ignore[dict-item]
                                http.post("/submodels", json={**SUBMODEL, "id": "urn:other", "idShort": "Other"}),
                                http.delete(f"/submodels/{ENCODED}")):
                    response = await request
                    assert response.status_code == 507, response.text
                    message = response.json()["messages"][0]
                    assert message["code"] == "InsufficientStorage" and "is full" in message["text"]
                    # memory is what the disk holds: the refused change is not visible
                    assert (await http.get(f"{note}/$value")).json() == {"Note": "before"}
                    assert (await http.get("/submodels/dXJuOm90aGVy")).status_code == 404
                filler.unlink()  # space returns: the next write just works
                assert (await http.patch(f"{note}/$value", json="after")).status_code == 204
        async with serving(application(data)) as app:  # and a restart reads exactly that
            base = f"http://127.0.0.1:{app.port}/api/v3.0"
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                value = await http.get(f"/submodels/{ENCODED}/submodel-elements/Note/$value")
                assert value.json() == {"Note": "after"}
                assert (await http.get("/submodels/dXJuOm90aGVy")).status_code == 404
        # the journal (history) met the same full disk: it holds no half entry
        entries, broken = verify(data / HISTORY_DIR / JOURNAL_FILE)
        assert broken is None and entries >= 2


async def test_an_upload_meeting_a_full_disk_answers_507_and_leaves_no_file(tmp_path: Path) -> None:
    """The upload is streamed into DATA/uploads: a full disk there is a 507 like the store's."""
    with small_disk(tmp_path / "disk") as disk:
        data = disk / "data"
        async with serving(application(data)) as app:
            base = f"http://127.0.0.1:{app.port}/api/v3.0"
            async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=10) as http:
                manual = {"modelType": "File", "idShort": "Manual", "contentType": "application/octet-stream"}
                with_file = {**SUBMODEL, "submodelElements": [manual]}
                assert (await http.post("/submodels", json=with_file)).status_code == 201
                attachment = f"/submodels/{ENCODED}/submodel-elements/Manual/attachment"
                filler = fill(disk)
                refused = await http.put(attachment, data={"fileName": "m.bin"},
                                         files={"file": ("m.bin", b"m" * 1_000_000, "application/octet-stream")})
                assert refused.status_code == 507, refused.text
                assert "no room left" in refused.json()["messages"][0]["text"]
                assert list((data / "uploads").iterdir()) == []
                assert (await http.get(attachment)).status_code == 404
                filler.unlink()
                taken = await http.put(attachment, data={"fileName": "m.bin"},
                                       files={"file": ("m.bin", b"m" * 1_000_000, "application/octet-stream")})
                assert taken.status_code == 204, taken.text
                assert (await http.get(attachment)).content == b"m" * 1_000_000


def _corrupt(store: Path) -> None:
    """Overwrite pages in the middle of the file (past the header, so SQLite still opens it)."""
    with store.open("r+b") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(size // 2)
        file.write(b"\xa5" * 4096)


@pytest.mark.parametrize("damage", ["zero-length", "foreign", "newer-schema", "corrupt", "not-json"])
def test_start_up_refuses_a_store_that_is_not_a_valid_twinbridge_store(tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = data / STORE_FILE_NAME
    if damage == "zero-length":
        store.touch()
    elif damage == "foreign":
        with contextlib.closing(sqlite3.connect(store)) as db:
            db.execute("CREATE TABLE invoices (number INTEGER PRIMARY KEY, total REAL)")
            db.commit()
    else:
        first = application(data)
        for identifier in (SUBMODEL_ID, *(f"urn:filler:{index}" for index in range(200))):
            first.twin.create(_submodel(identifier))
        first.twin.close()
        with contextlib.closing(sqlite3.connect(store)) as db:
            if damage == "newer-schema":
                db.execute("PRAGMA user_version=99")
            elif damage == "not-json":
                db.execute("UPDATE documents SET body = ? WHERE id = ?", (b"{not json", SUBMODEL_ID))
            db.commit()
        if damage == "corrupt":
            _corrupt(store)
    before = store.read_bytes()
    with pytest.raises(StorageError) as refused:
        application(data)
    text = str(refused.value)
    assert str(store) in text
    assert "restore a backup" in text and "--data" in text
    assert store.read_bytes() == before  # nothing was written over it


def _submodel(identifier: str = SUBMODEL_ID) -> model.Submodel:
    return model.Submodel(identifier, id_short="Disk" if identifier == SUBMODEL_ID else "Filler",
                          submodel_element=[model.Property("Note", model.datatypes.String, value="before")])


def test_the_data_directory_and_store_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        data = tmp_path / "data"
        app = application(data)
        app.twin.create(_submodel())
        app.twin.wait_persisted(10)
        app.twin.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.iterdir():
        if path.name.startswith(STORE_FILE_NAME):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_command_line_says_why_it_cannot_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / STORE_FILE_NAME).touch()
    config = tmp_path / "plant.yaml"
    config.write_text("server: {opcua: {enabled: false}}\n")
    assert cli.main(["serve", "--config", str(config), "--data", str(data), "--port", "0", "--no-opcua"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"twinbridge: cannot start: the store {data / STORE_FILE_NAME} is not a valid twinbridge")
    assert "it is empty (0 bytes)" in error and (data / STORE_FILE_NAME).stat().st_size == 0
