"""The live Time Series record's Time follows the newest value fed into it."""

from __future__ import annotations

import datetime

from tests.submodels.conftest import BASE, settle
from twinbridge.aas.twin import Twin
from twinbridge.submodels.record_clock import RecordClock

FILLER = f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/OperationalData"
RECORD = "Segments.LiveValues.Records.Current"


async def test_time_is_the_newest_source_timestamp_of_the_record(twin: Twin) -> None:
    clock = RecordClock(twin)
    await clock.start()
    try:
        twin.update(twin.live(FILLER, f"{RECORD}.Temperature"), 40.0, timestamp=1_700_000_000.0)
        twin.update(twin.live(FILLER, f"{RECORD}.Power"), 3.0, timestamp=1_700_000_005.5)
        await settle(twin)
        time = twin.element(FILLER, f"{RECORD}.Time")
        assert time.value == datetime.datetime(2023, 11, 14, 22, 13, 25, 500000, tzinfo=datetime.UTC)  # type: ignore[attr-defined]
        assert twin.live(FILLER, f"{RECORD}.Time").timestamp == 1_700_000_005.5
    finally:
        await clock.stop()
