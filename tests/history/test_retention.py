"""Retention runs in the background: old raw points go (per element where configured), their
one-minute roll-ups stay and answer aggregates."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from basyx.aas import model

from twinbridge.aas.twin import Twin
from twinbridge.history.duckdb_store import MINUTE_US, DuckDbHistory
from twinbridge.history.historian import Historian, HistorianSettings
from twinbridge.history.store import Retention, SeriesKey


async def test_the_background_retention_keeps_rollups_and_honours_element_overrides(tmp_path: Path) -> None:
    twin = Twin()
    twin.create(model.Submodel("urn:sm", submodel_element=[
        model.Property("Vibration", model.datatypes.Double, 0.0),
        model.Property("Energy", model.datatypes.Double, 0.0)]))
    store = DuckDbHistory(tmp_path / "history.duckdb")
    historian = Historian(twin, store, HistorianSettings(
        flush_interval_s=0.05, maintenance_interval_s=0.1, compact_period_s=60,
        retention=Retention(raw_days=1, rollup_days=365), element_retention=(("urn:sm", "Energy", 10.0),)))
    await historian.start()
    try:
        old = (time.time() - 3 * 86_400) // 60 * 60  # three days ago, on a minute edge
        for path in ("Vibration", "Energy"):
            handle = twin.live("urn:sm", path)
            for index in range(120):  # two minutes, one point a second
                twin.update(handle, float(index), old + index)
            twin.update(handle, 1.0)  # and one now
        await twin.bus.drained()
        await historian.flushed()
        deadline = time.time() + 30
        while store.raw_horizon_us() == 0 and time.time() < deadline:
            await asyncio.sleep(0.1)
        vibration = store.find_series(SeriesKey("urn:sm", "Vibration"))
        energy = store.find_series(SeriesKey("urn:sm", "Energy"))
        assert vibration is not None and energy is not None
        assert len(store.read(vibration.id, 0, 2**62, 1000).t_us) == 1  # only today's point
        assert len(store.read(energy.id, 0, 2**62, 1000).t_us) == 121  # kept 10 days
        start_us = int(old * 1_000_000)
        (first, second) = store.aggregate(vibration.id, start_us, start_us + 2 * MINUTE_US, MINUTE_US)
        assert (first.count, first.min, first.max, first.avg) == (60, 0.0, 59.0, 29.5)
        assert (second.count, second.first, second.last) == (60, 60.0, 119.0)
    finally:
        await historian.stop()
