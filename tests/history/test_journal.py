"""The model journal: every change chained by SHA-256, `journal verify` names an altered entry,
and `$history?date=` reads return an object as it was."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from tests.history.conftest import SUBMODEL, TOKEN, Served, b64, serve
from twinbridge.aas.events import ObjectKind, Origin
from twinbridge.history import journal as journal_module
from twinbridge.history._journal_file import verify
from twinbridge.server.cli import main


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def write_setpoint(served: Served, value: float) -> None:
    """A structural write over REST: the element replaced by one with a new value and description (a
    value-only PUT is a value write, journaled only when it carries an Origin)."""
    response = await served.http.put(
        f"{served.base}/submodels/{b64(SUBMODEL)}/submodel-elements/Setpoint",
        json={"modelType": "Property", "idShort": "Setpoint", "valueType": "xs:double", "value": str(value),
              "description": [{"language": "en", "text": f"set to {value}"}]},
        headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 204, response.text
    assert served.service.journal is not None
    await served.service.journal.settled()


def setpoint_of(document: dict) -> str:
    (element,) = [e for e in document["submodelElements"] if e["idShort"] == "Setpoint"]
    return str(element["value"])


async def test_dated_reads_return_the_earlier_value_after_a_later_write(served: Served) -> None:
    await write_setpoint(served, 1600.0)
    between = time.time()
    await asyncio.sleep(0.01)
    await write_setpoint(served, 1700.0)
    url = f"{served.base}/submodels/{b64(SUBMODEL)}/$history"
    then = await served.http.get(url, params={"date": iso(between)})
    assert then.status_code == 200, then.text
    assert setpoint_of(then.json()) == "1600.0"
    now = await served.http.get(url)
    assert setpoint_of(now.json()) == "1700.0"
    before = await served.http.get(url, params={"date": "2000-01-01T00:00:00Z"})
    assert before.status_code == 404 and "did not exist" in before.json()["messages"][0]["text"]
    bad = await served.http.get(url, params={"date": "noon"})
    assert bad.status_code == 400 and "date" in bad.json()["messages"][0]["text"]


async def journal_with_entries(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    async for served in serve(data):
        for value in (1.0, 2.0, 3.0):
            await write_setpoint(served, value)
    journal = data / "history" / "journal.jsonl"
    count, broken = verify(journal)
    assert broken is None and count == 4  # the start-up baseline and three writes
    return data


async def test_verify_names_an_edited_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = await journal_with_entries(tmp_path)
    assert main(["journal", "verify", "--data", str(data)]) == 0
    assert "4 entries, the chain is intact" in capsys.readouterr().out
    journal = data / "history" / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"value":"2.0"', b'"value":"9.0"', 1)  # one byte of entry 3
    journal.write_bytes(b"".join(lines))
    assert main(["journal", "verify", "--data", str(data)]) == 1
    error = capsys.readouterr().err
    assert "journal entry 3:" in error and "edited" in error


async def test_verify_names_a_deleted_or_moved_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = await journal_with_entries(tmp_path)
    journal = data / "history" / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join([lines[0], lines[2], lines[3]]))
    assert main(["journal", "verify", "--data", str(data)]) == 1
    assert "journal entry 2:" in capsys.readouterr().err
    journal.write_bytes(b"".join([lines[0], lines[2], lines[1], lines[3]]))
    assert main(["journal", "verify", "--data", str(data)]) == 1
    assert "journal entry 2:" in capsys.readouterr().err


async def test_a_broken_journal_is_reported_at_start_up_and_kept(tmp_path: Path) -> None:
    data = await journal_with_entries(tmp_path)
    journal = data / "history" / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    entry = orjson.loads(lines[1])
    entry["who"] = "mallory"
    lines[1] = orjson.dumps(entry) + b"\n"
    tampered = b"".join(lines)
    journal.write_bytes(tampered)
    async for served in serve(data):
        status = (await served.http.get(f"{served.base}/history/status")).json()
        assert status["journalBroken"].startswith("journal entry 2:")
        await write_setpoint(served, 4.0)
    assert journal.read_bytes().startswith(tampered)  # never rewritten, only appended to
    _, broken = verify(journal)
    assert broken is not None and broken.entry == 2


async def test_a_client_value_write_is_journaled_with_who_wrote_it(served: Served) -> None:
    handle = served.twin.live(SUBMODEL, "Setpoint")
    await served.twin.write_value(handle, 1234.5, origin=Origin("operator-anna", "opcua"))
    served.twin.update(served.twin.live(SUBMODEL, "Temperature"), 99.0)  # a device sample: not journaled
    journal = served.service.journal
    assert journal is not None
    await served.twin.bus.drained()
    await journal.settled()
    last = orjson.loads(journal.path.read_bytes().splitlines()[-1])
    assert (last["action"], last["who"], last["channel"], last["path"]) == (
        "value-written", "operator-anna", "opcua", "Setpoint")
    assert last["value"] == 1234.5 and "document" not in last  # the element's value, not the submodel
    assert journal.entries() == 2  # the baseline and this write
    later = time.time()
    await served.twin.write_value(handle, 99.5, origin=Origin("operator-anna", "opcua"))
    await journal.settled()
    document = journal.document_at(ObjectKind.SUBMODEL, SUBMODEL, later)  # replayed on the baseline
    assert document is not None and setpoint_of(orjson.loads(document)) == "1234.5"


async def test_every_nth_value_entry_carries_the_document_again(served: Served,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "CHECKPOINT_EVERY", 3)
    handle = served.twin.live(SUBMODEL, "Setpoint")
    journal = served.service.journal
    assert journal is not None
    for value in (1.0, 2.0, 3.0, 4.0):
        await served.twin.write_value(handle, value, origin=Origin("operator-anna", "rest"))
        await journal.settled()
    entries = [orjson.loads(line) for line in journal.path.read_bytes().splitlines()][1:]
    assert ["document" in entry for entry in entries] == [False, False, True, False]
    assert setpoint_of(entries[2]["document"]) == "3.0"
    document = journal.document_at(ObjectKind.SUBMODEL, SUBMODEL, time.time())
    assert document is not None and setpoint_of(orjson.loads(document)) == "4.0"


async def test_two_writes_in_one_loop_turn_are_journaled_with_their_own_values(served: Served) -> None:
    handle = served.twin.live(SUBMODEL, "Setpoint")
    journal = served.service.journal
    assert journal is not None
    await journal.settled()
    await served.twin.write_value(handle, 10.0, origin=Origin("operator-anna", "rest"))
    await served.twin.write_value(handle, 20.0, origin=Origin("operator-bob", "rest"))  # no await in between
    await journal.settled()
    last_two = [orjson.loads(line) for line in journal.path.read_bytes().splitlines()[-2:]]
    assert [(entry["who"], entry["value"]) for entry in last_two] == [("operator-anna", 10.0), ("operator-bob", 20.0)]
