"""What a plant's first start defers until the server answers: the store's first write of the
built objects and the journal's baseline. Before HTTP listens neither has run; once it does both
finish on their own, and a restart finds every object."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.ports import free_port
from tests.submodels.conftest import PLANT_FILE
from twinbridge.aas.store import STORE_FILE_NAME, SqliteStore
from twinbridge.server.application import Application, Options
from twinbridge.server.config import load_plant_file


async def test_first_saves_and_journal_baseline_wait_for_the_first_answer(tmp_path: Path) -> None:
    options = Options(host="127.0.0.1", port=free_port(), data=tmp_path / "data", token="t" * 32, opcua=False)
    application = Application(load_plant_file(PLANT_FILE), options)
    await application.start()
    twin = application.twin
    objects = len(twin.shells) + len(twin.submodels) + len(twin.concept_descriptions)
    # the plant's objects wait (services may create a few more of their own, stored at once)
    assert 0 < twin.deferred_saves <= objects and not twin.serving.is_set()
    journal = application.history.journal
    assert journal is not None and journal.entries() < objects, journal.entries()  # no baseline yet
    assert application.http is not None
    server = asyncio.create_task(application.http.serve())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{options.port}/api/v3.0", timeout=30) as http:
            for _ in range(500):
                try:
                    if (await http.get("/shells", params={"limit": 1})).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
            for _ in range(500):
                if twin.deferred_saves == 0 and journal.entries() >= objects:
                    break
                await asyncio.sleep(0.02)
            assert twin.serving.is_set() and twin.deferred_saves == 0 and journal.entries() >= objects
            twin.wait_persisted()
            stored = SqliteStore(tmp_path / "data" / STORE_FILE_NAME)  # read while the server still runs
            try:
                assert sum(1 for _ in stored.load()) == objects
            finally:
                stored.close()
    finally:
        application.http.should_exit = True
        await server
        await application.stop()


async def test_a_stop_before_the_first_answer_stores_everything(tmp_path: Path) -> None:
    options = Options(host="127.0.0.1", port=free_port(), data=tmp_path / "data", token="t" * 32, opcua=False)
    application = Application(load_plant_file(PLANT_FILE), options)
    await application.start()
    twin = application.twin
    objects = len(twin.shells) + len(twin.submodels) + len(twin.concept_descriptions)
    assert twin.deferred_saves > 0
    await application.stop()
    again = Application(load_plant_file(PLANT_FILE), options)
    assert len(again.twin.shells) + len(again.twin.submodels) + len(again.twin.concept_descriptions) == objects
    await again.start()
    assert again.plant is not None and again.plant.restored and again.twin.deferred_saves == 0
    await again.stop()
