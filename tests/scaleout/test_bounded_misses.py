"""Bigger than memory, the misses: submodels a bounded cache (``?cache=N``) does not hold are read
off the event loop, the misses of concurrent requests together in one statement; a delete in
flight still reads as absent; a PostgreSQL outage makes a miss wait (the loop serves the rest) and
then answer, or 503 after the retry window; a value PATCH to an evicted submodel is checked
against the element's type in its stored JSON and written as one row, without reading it in."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import psycopg
import pytest
from basyx.aas import model

from tests.scaleout.instances import b64
from tests.scaleout.test_faults import PrivateCluster, private_cluster  # noqa: F401  (the fixture)
from tests.serving import serving_in_thread
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.resident import ResidentTable
from twinbridge.aas.store import StoredDocument, open_store, postgres_documents
from twinbridge.aas.twin import Twin
from twinbridge.aas.values import RangeValue
from twinbridge.server.api.app import create_app
from twinbridge.server.api.bodies import Extent, Level
from twinbridge.server.api.catalog_sql import as_submodel, stored_json
from twinbridge.server.api.content import shaped_json

PREFIX = "/api/v3.0"
COUNT = 30


def _filled(bounded_url: str, count: int = COUNT) -> Twin:
    twin = Twin(open_store(bounded_url))
    for index in range(count):
        twin.create(model.Submodel(f"urn:sm:{index}", id_short=f"Sm{index}", submodel_element=[
            model.Property(f"p{k}", model.datatypes.Int, value=index * 10 + k) for k in range(3)]))
    twin.wait_persisted(timeout=30)
    assert twin.resident is not None
    for index in range(count - 5, count):  # the last five stay, the others go (all durable now)
        twin.submodel(f"urn:sm:{index}")
    twin.resident.trim()
    assert twin.resident.resident_ids() == [f"urn:sm:{index}" for index in range(count - 5, count)]
    return twin


class HeldFetches:
    """Wraps the table's ``source.fetch``: records each call's ids, and holds the first call
    until ``release`` (so what arrives meanwhile can be seen to wait for the next one)."""

    def __init__(self, table: ResidentTable[model.Submodel]) -> None:
        self.calls: list[list[str]] = []
        self.on_loop: list[list[str]] = []
        """The calls made on an event loop's thread (blocking it)."""
        self.started = threading.Event()
        self.release = threading.Event()
        self._fetch = table.source.fetch
        table.source.fetch = self.fetch  # type: ignore[method-assign]

    def fetch(self, kind: ObjectKind, identifiers: Sequence[str]) -> dict[str, tuple[StoredDocument, int]]:
        try:
            asyncio.get_running_loop()
            self.on_loop.append(list(identifiers))
        except RuntimeError:
            pass  # a thread of its own, as it should
        self.calls.append(list(identifiers))
        if len(self.calls) == 1:
            self.started.set()
            assert self.release.wait(30)
        return self._fetch(kind, identifiers)


def test_concurrent_first_reads_go_to_the_store_together(bounded_url: str) -> None:
    twin = _filled(bounded_url)
    table = twin.resident
    assert table is not None
    held = HeldFetches(table)
    wanted = [f"urn:sm:{index}" for index in range(20)]  # all evicted (the last five are resident)
    try:
        with serving_in_thread(create_app(twin, prefix=PREFIX)) as base, httpx.Client(base_url=base) as client, \
                ThreadPoolExecutor(len(wanted)) as pool:
            answers = [pool.submit(client.get, f"{PREFIX}/submodels/{b64(identifier)}", timeout=30)
                       for identifier in wanted]
            assert held.started.wait(30)
            deadline = time.monotonic() + 30  # every request waits: in the held read or for the next one
            while len(held.calls[0]) + len(table._wanted) < len(wanted):
                assert time.monotonic() < deadline, (held.calls, held.on_loop, list(table._wanted))
                time.sleep(0.01)
            assert len(held.calls) == 1 and not held.on_loop  # the loop did not read any of them itself
            held.release.set()
            bodies = [answer.result() for answer in answers]
            assert [body.status_code for body in bodies] == [200] * len(wanted)
            assert [body.json()["id"] for body in bodies] == wanted
            assert [body.json()["submodelElements"][2]["value"] for body in bodies] == \
                [str(index * 10 + 2) for index in range(20)]
            assert len(held.calls) == 2 and sorted(held.calls[0] + held.calls[1]) == sorted(wanted)
            assert client.get(f"{PREFIX}/submodels/{b64('urn:sm:nothing')}").status_code == 404
            assert len(held.calls) == 3  # an absent id is one read too, and answers 404
    finally:
        held.release.set()
        twin.close()


async def test_a_delete_in_flight_reads_as_absent(bounded_url: str) -> None:
    twin = _filled(bounded_url, 8)
    table = twin.resident
    assert table is not None
    held = HeldFetches(table)
    try:
        reading = asyncio.create_task(table.ready("urn:sm:0"))
        assert await asyncio.to_thread(held.started.wait, 30)  # the row is being read ...
        twin.delete(ObjectKind.SUBMODEL, "urn:sm:0")  # ... when the submodel is deleted here
        held.release.set()
        await reading
        assert "urn:sm:0" not in twin.submodels  # the row read before the delete is stale
        assert table.unadmitted("urn:sm:0") is None
        await twin.persisted()
        assert "urn:sm:0" not in twin.submodels and len(twin.submodels) == 7
        await table.ready("urn:sm:0")  # read again: the store has none any more
        assert "urn:sm:0" not in twin.submodels
    finally:
        held.release.set()
        twin.close()


def test_postgresql_away_during_a_miss_waits_then_answers_or_503(
        private_cluster: PrivateCluster, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    twin = _filled(f"{private_cluster.server}?schema=misses&cache=5", 12)
    try:
        with serving_in_thread(create_app(twin, prefix=PREFIX)) as base, httpx.Client(base_url=base) as client, \
                ThreadPoolExecutor(1) as pool:
            private_cluster.stop()
            miss = pool.submit(client.get, f"{PREFIX}/submodels/{b64('urn:sm:1')}", timeout=60)
            time.sleep(0.5)
            started = time.monotonic()  # the loop serves what memory holds meanwhile
            resident = client.get(f"{PREFIX}/submodels/{b64('urn:sm:11')}", timeout=5)
            assert resident.status_code == 200 and time.monotonic() - started < 2
            assert not miss.done()
            private_cluster.resume()
            answer = miss.result()
            assert answer.status_code == 200, answer.text
            assert answer.json()["submodelElements"][0]["value"] == "10"

            monkeypatch.setattr(postgres_documents, "RETRY_FOR_S", 1.0)
            private_cluster.stop()
            refused = client.get(f"{PREFIX}/submodels/{b64('urn:sm:2')}", timeout=30)
            assert refused.status_code == 503
            message = refused.json()["messages"][0]
            assert message["messageType"] == "Error" and "unreachable" in message["text"]
            private_cluster.resume()
            again = client.get(f"{PREFIX}/submodels/{b64('urn:sm:2')}", timeout=30)
            assert again.status_code == 200 and again.json()["id"] == "urn:sm:2"
    finally:
        twin.close()


def _rows(bounded_url: str, query: str) -> list[tuple[object, ...]]:
    schema = bounded_url.split("schema=")[1].split("&")[0]
    with psycopg.connect(bounded_url.split("?")[0]) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


def test_a_value_patch_to_an_evicted_submodel_is_checked_and_written_without_reading_it_in(bounded_url: str) -> None:
    twin = _filled(bounded_url, 12)
    table = twin.resident
    assert table is not None
    value = f"{PREFIX}/submodels/{b64('urn:sm:0')}/submodel-elements/p1/$value"
    try:
        with serving_in_thread(create_app(twin, prefix=PREFIX)) as base, httpx.Client(base_url=base) as client:
            written = client.patch(value, json=41)
            assert written.status_code == 204, written.text
            assert written.headers["ETag"]
            wrapped = client.patch(f"{PREFIX}/submodels/{b64('urn:sm:1')}/submodel-elements/p0/$value",
                                   json={"p0": 7})  # the GET's shape is taken too
            assert wrapped.status_code == 204, wrapped.text
            wrong = client.patch(value, json="forty-two")
            assert wrong.status_code == 400
            assert "p1" in wrong.json()["messages"][0]["text"]
            assert not table.resident("urn:sm:0") and not table.resident("urn:sm:1")  # not read in
            unknown = client.patch(  # (read in: the usual path names what is missing)
                f"{PREFIX}/submodels/{b64('urn:sm:0')}/submodel-elements/nothing/$value", json=1)
            assert unknown.status_code == 404 and "nothing" in unknown.json()["messages"][0]["text"]
            assert client.patch(f"{PREFIX}/submodels/{b64('urn:sm:none')}/submodel-elements/p1/$value",
                                json=1).status_code == 404
            assert _rows(bounded_url, "SELECT submodel_id, path, convert_from(body, 'UTF8') FROM element_values"
                              " ORDER BY 1") == [("urn:sm:0", "p1", "41"), ("urn:sm:1", "p0", "7")]
            assert _rows(bounded_url, "SELECT identifier, op, path FROM outbox WHERE op = 'value' ORDER BY id") == \
                [("urn:sm:0", "value", "p1"), ("urn:sm:1", "value", "p0")]
            for index in range(2, 7):  # first reads of five others: urn:sm:1's next read is a first one again
                assert client.get(f"{PREFIX}/submodels/{b64(f'urn:sm:{index}')}").status_code == 200
            whole = client.get(f"{PREFIX}/submodels/{b64('urn:sm:1')}")  # its JSON with the logged value
            assert [element["value"] for element in whole.json()["submodelElements"]] == ["7", "11", "12"]
            assert not table.resident("urn:sm:1")
            read = client.get(f"{PREFIX}/submodels/{b64('urn:sm:0')}/submodel-elements/p1/$value")
            assert read.json() == {"p1": 41}  # read-your-writes on this instance
    finally:
        twin.close()
    other = Twin(open_store(bounded_url))  # another instance on the same database
    try:
        element = other.element("urn:sm:0", "p1")
        assert isinstance(element, model.Property) and element.value == 41
    finally:
        other.close()


def test_a_patch_after_the_submodel_changed_in_structure_reads_it_in(bounded_url: str) -> None:
    """A structural change in the element log (here an element added while resident) means the
    stored JSON is not the structure any more: the PATCH takes the usual path and still works."""
    twin = _filled(bounded_url, 12)
    table = twin.resident
    assert table is not None
    try:
        twin.add_element("urn:sm:11", None, model.Property("late", model.datatypes.String, value="a"))
        twin.wait_persisted(timeout=30)
        with serving_in_thread(create_app(twin, prefix=PREFIX)) as base, httpx.Client(base_url=base) as client:
            for index in range(11):  # push urn:sm:11 out (an element read admits a submodel)
                client.get(f"{PREFIX}/submodels/{b64(f'urn:sm:{index}')}/submodel-elements/p0")
            assert not table.resident("urn:sm:11")
            written = client.patch(f"{PREFIX}/submodels/{b64('urn:sm:11')}/submodel-elements/late/$value",
                                   json="b")
            assert written.status_code == 204, written.text
            assert table.resident("urn:sm:11")
            assert client.get(f"{PREFIX}/submodels/{b64('urn:sm:11')}/submodel-elements/late/$value",
                              ).json() == {"late": "b"}
    finally:
        twin.close()


async def test_the_json_of_a_submodel_with_logged_values_equals_its_decoded_rendering(bounded_url: str) -> None:
    twin = _filled(bounded_url, 8)
    table = twin.resident
    assert table is not None
    try:
        twin.create(model.Submodel("urn:sm:typed", submodel_element=[
            model.Property("d", model.datatypes.Double, value=1.0), model.Property("b", model.datatypes.Boolean),
            model.Property("s", model.datatypes.String, value="x"), model.Range("r", model.datatypes.Int, 1, 2)]))
        for path, value in (("d", 2.5e-7), ("b", True), ("s", "a \"quoted\" text"), ("d", 1e20)):
            await twin.write_value(twin.live("urn:sm:typed", path), value)
        await twin.persisted()
        for index in range(8):  # push it out
            twin.submodel(f"urn:sm:{index}")
        table.trim()
        assert not table.resident("urn:sm:typed")
        stored = table.row("urn:sm:typed")
        assert stored is not None and len(stored.log) == 3
        shapes: list[tuple[Level, Extent]] = [("deep", "withBlobValue"), ("core", "withoutBlobValue")]
        for level, extent in shapes:
            assert orjson.loads(stored_json(stored, level, extent)) == shaped_json(as_submodel(stored), level, extent)
        await twin.write_value(twin.live("urn:sm:typed", "r"), RangeValue(3, 4))  # another kind's value
        await twin.persisted()
        for index in range(8):
            twin.submodel(f"urn:sm:{index}")
        table.trim()
        stored = table.row("urn:sm:typed")
        assert stored is not None and not table.resident("urn:sm:typed")
        rendered = orjson.loads(stored_json(stored, "deep", "withBlobValue"))  # replayed on the objects
        assert rendered == shaped_json(as_submodel(stored), "deep", "withBlobValue")
        assert rendered["submodelElements"][3]["min"] == "3"
    finally:
        twin.close()
