"""Keeps the ``Time`` of each asset's live Time Series record equal to its newest value's timestamp.

IDTA 02008 gives every record a ``Time``; a reader of ``Segments.LiveValues.Records.Current``
must see when the record was last fed, not null. The clock follows the change bus (coalesced,
so one write per record and batch), and writes through the twin like any other producer.
"""

from __future__ import annotations

import datetime

from twinbridge.aas.bus import ChangeBatch, Follower
from twinbridge.aas.errors import NotFound
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.submodels.templates.time_series import LIVE_RECORD

_PREFIX = LIVE_RECORD + "."
_TIME = _PREFIX + "Time"


class RecordClock:
    def __init__(self, twin: Twin) -> None:
        self._twin = twin
        self._clocks: dict[str, LiveElement | None] = {}
        self._feeds_record: dict[int, bool] = {}  # by handle key: decided once per element, not per value
        self._follower = Follower(twin.bus, self._on_batch, "record clock")

    async def start(self) -> None:
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def _on_batch(self, batch: ChangeBatch) -> None:
        newest: dict[str, float] = {}
        feeds_record = self._feeds_record
        for event in batch.values:
            handle = event.element
            feeds = feeds_record.get(handle.key)
            if feeds is None:
                feeds = feeds_record[handle.key] = handle.path.startswith(_PREFIX) and handle.path != _TIME
            if feeds and event.timestamp > newest.get(handle.submodel_id, 0.0):
                newest[handle.submodel_id] = event.timestamp
        for submodel_id, timestamp in newest.items():
            clock = self._clock(submodel_id)
            if clock is not None:
                when = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
                self._twin.update(clock, when, timestamp)

    def _clock(self, submodel_id: str) -> LiveElement | None:
        if submodel_id not in self._clocks:
            try:
                self._clocks[submodel_id] = self._twin.live(submodel_id, _TIME)
            except NotFound:  # a record without Time (an edited submodel): nothing to keep
                self._clocks[submodel_id] = None
        return self._clocks[submodel_id]
