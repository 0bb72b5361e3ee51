"""The AAS way into history: segments added to every IDTA 02008 (Time Series Data 1.1) submodel.

- ``Segments.History``, a LinkedSegment whose ``Endpoint`` is this server's history API and whose
  ``Query`` is the JSON body of ``POST {Endpoint}/query`` for every variable of the live record: an
  AAS-only client finds the past values from the submodel itself.
- ``Segments.Recent``, an InternalSegment holding the last N records (``internal_records``) in time
  order (``Record01`` the oldest): when the live record's ``Time`` moves (the record clock stamps
  it), at most once per ``internal_record_interval_s``, a snapshot of the live record is appended
  and the oldest falls out. Its values are
  a view of what the Historian already keeps, so the Historian skips them.

The template's own ``LiveValues`` segment (one ``Current`` record) stays as it is: bindings feed it.
"""

from __future__ import annotations

import logging
from collections import deque
from functools import lru_cache
from typing import Any

import orjson
from basyx.aas import model

from twinbridge.aas import paths
from twinbridge.aas.bus import ChangeBatch, Follower
from twinbridge.aas.errors import NotFound, TwinError
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.history.historian import Historian

log = logging.getLogger(__name__)

# IDTA 02008-1-1 semantic identifiers (the submodels room builds the template; we only add segments)
TIME_SERIES = "https://admin-shell.io/idta/TimeSeries/1/1"
LINKED_SEGMENT = "https://admin-shell.io/idta/TimeSeries/Segments/LinkedSegment/1/1"
INTERNAL_SEGMENT = "https://admin-shell.io/idta/TimeSeries/Segments/InternalSegment/1/1"
RECORDS = "https://admin-shell.io/idta/TimeSeries/Records/1/1"
RECORD = "https://admin-shell.io/idta/TimeSeries/Record/1/1"
RECORD_COUNT = "https://admin-shell.io/idta/TimeSeries/Segment/RecordCount/1/1"
SEGMENT_NAME = "https://admin-shell.io/idta/TimeSeries/Segment/Name/1/1"
ENDPOINT = "https://admin-shell.io/idta/TimeSeries/Endpoint/1/1"
QUERY = "https://admin-shell.io/idta/TimeSeries/Query/1/1"
LIVE_RECORD = "Segments.LiveValues.Records.Current"
RECENT = "Segments.Recent"
CLOCK = f"{LIVE_RECORD}.Time"


@lru_cache(maxsize=64)
def _semantic(iri: str) -> model.ExternalReference:
    """Shared: basyx References are immutable, and the plant carries ~50,000 of these."""
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def _text(id_short: str, value: str, semantic_id: str) -> model.Property:
    return model.Property(id_short, model.datatypes.String, value, semantic_id=_semantic(semantic_id))


def is_time_series(submodel: model.Submodel) -> bool:
    reference = submodel.semantic_id
    return reference is not None and bool(reference.key) and reference.key[0].value == TIME_SERIES


class _Ring:
    """The Recent segment of one submodel: the live record's handles and the snapshots kept."""

    def __init__(self, live: list[LiveElement], slots: list[list[LiveElement]], count: LiveElement,
                 capacity: int) -> None:
        self.live = live  # Time first, then the variables
        self.clock = live[0] if live and live[0].path == CLOCK else None
        self.slots = slots  # per record: Time first, then the variables (same order as live)
        self.count = count
        self.snapshots: deque[list[Any]] = deque(maxlen=capacity)
        self.last = float("-inf")


class TimeSeriesSegments:
    def __init__(self, twin: Twin, historian: Historian | None, endpoint: str, records: int,
                 interval_s: float = 1.0) -> None:
        self.twin = twin
        self.historian = historian
        self.endpoint = endpoint.rstrip("/")
        self.records = records
        # The record clock ticks once per bus batch of a machine (measured in the demo: ~7 ms apart
        # while the Modbus poller's values arrive); a record per tick would keep only the last
        # tenth of a second. One record per ``interval_s`` keeps N records meaningful.
        self.interval_s = interval_s
        self._rings: dict[str, _Ring | None] = {}  # None: not ticked yet (``_ring`` makes it then)
        self._follower: Follower | None = None

    async def start(self) -> None:
        for submodel in list(self.twin.submodels.values()):
            if is_time_series(submodel):
                try:
                    self._shape(submodel)
                except (TwinError, KeyError) as error:
                    log.warning("Time Series submodel %s: no history segments (%s)", submodel.id, error)
                    continue
                self._rings[submodel.id] = None
                if self.historian is not None:
                    self.historian.skip(submodel.id, RECENT + ".")
        if self._rings:
            self._follower = Follower(self.twin.bus, self._on_batch, "time series segments",
                                      submodels=list(self._rings))
            self._follower.start()

    async def stop(self) -> None:
        if self._follower is not None:
            await self._follower.stop()

    def complete(self, obj: model.Identifiable) -> None:
        """Put the segments into a Time Series submodel before the twin stores it (``Twin.completing``
        at start-up): the plant's 6,111 Time Series submodels are encoded once, not once more per
        segment added afterwards (~20 s of the 1,000-machine plant's start)."""
        if not isinstance(obj, model.Submodel) or not is_time_series(obj):
            return
        try:
            variables = _variables(paths.resolve(obj, LIVE_RECORD))
            segments = paths.resolve(obj, "Segments")
        except paths.PathError:
            return  # not the template's shape: ``start`` reports it
        assert isinstance(segments, model.SubmodelElementCollection)
        present = {e.id_short: e for e in segments.value}
        if "History" not in present:
            segments.value.add(self._history_segment(obj.id, variables))
        if not self._fits(present.get("Recent"), variables):
            if "Recent" in present:
                segments.value.remove(present["Recent"])
            segments.value.add(self._recent_segment(variables))

    def _shape(self, submodel: model.Submodel) -> None:
        """Segments missing or of another shape (a submodel stored before this start without them,
        or a changed record) are added as edits; a plant built at this start has them already."""
        variables = _variables(self.twin.element(submodel.id, LIVE_RECORD))
        segments = self.twin.element(submodel.id, "Segments")
        assert isinstance(segments, model.SubmodelElementCollection)
        present = {e.id_short: e for e in segments.value}
        if "History" not in present:
            self.twin.add_element(submodel.id, "Segments", self._history_segment(submodel.id, variables))
        if not self._fits(present.get("Recent"), variables):
            if "Recent" in present:
                self.twin.delete_element(submodel.id, RECENT)
            self.twin.add_element(submodel.id, "Segments", self._recent_segment(variables))

    def _ring(self, submodel_id: str) -> _Ring | None:
        """The ring of a Time Series submodel, made when its clock first ticks: the handles of the
        plant's 6,111 rings (~40 each) cost ~3.5 s CPU at start and most machines may never tick.
        None (and no further tries) when its segment no longer resolves."""
        try:
            record = self.twin.element(submodel_id, LIVE_RECORD)
            names = [v.id_short for v in _variables(record) if v.id_short is not None]
            ordered = ["Time", *[name for name in names if name != "Time"]] if "Time" in names else names
            live = [self.twin.live(submodel_id, f"{LIVE_RECORD}.{name}") for name in ordered]
            ring_slots = [[self.twin.live(submodel_id, f"{RECENT}.Records.Record{index + 1:02d}.{name}")
                           for name in ordered] for index in range(self.records)]
            ring = _Ring(live, ring_slots, self.twin.live(submodel_id, f"{RECENT}.RecordCount"), self.records)
        except (TwinError, KeyError) as error:
            log.warning("Time Series submodel %s: its Recent segment stops (%s)", submodel_id, error)
            del self._rings[submodel_id]
            return None
        kept = ring.count.element.value if isinstance(ring.count.element, model.Property) else None
        for slot in ring_slots[:min(int(kept or 0), self.records)]:  # a kept segment's records go on
            ring.snapshots.append([_value(handle) for handle in slot])
        self._rings[submodel_id] = ring
        return ring

    def _history_segment(self, submodel_id: str, variables: list[model.Property]) -> model.SubmodelElementCollection:
        query = {"elements": [{"submodelId": submodel_id, "idShortPath": f"{LIVE_RECORD}.{v.id_short}"}
                              for v in variables if v.id_short != "Time"], "interval": "PT10S",
                 "aggregate": ["avg", "min", "max"]}
        return model.SubmodelElementCollection("History", semantic_id=_semantic(LINKED_SEGMENT), value=[
            _text("Name", "History", SEGMENT_NAME),
            _text("Endpoint", f"{self.endpoint}/query", ENDPOINT),
            _text("Query", orjson.dumps(query).decode(), QUERY),
        ])

    def _recent_segment(self, variables: list[model.Property]) -> model.SubmodelElementCollection:
        slots = [model.SubmodelElementCollection(
            f"Record{index + 1:02d}", semantic_id=_semantic(RECORD),
            value=[model.Property(v.id_short, v.value_type, None, semantic_id=v.semantic_id) for v in variables])
            for index in range(self.records)]
        return model.SubmodelElementCollection("Recent", semantic_id=_semantic(INTERNAL_SEGMENT), value=[
            _text("Name", f"The last {self.records} records", SEGMENT_NAME),
            model.Property("RecordCount", model.datatypes.Long, model.datatypes.Long(0),
                           semantic_id=_semantic(RECORD_COUNT)),
            model.SubmodelElementCollection("Records", semantic_id=_semantic(RECORDS), value=slots),
        ])

    def _fits(self, recent: model.SubmodelElement | None, variables: list[model.Property]) -> bool:
        """Whether a stored Recent segment has this start's record count and variables (kept then:
        a restart rebuilds nothing)."""
        if not isinstance(recent, model.SubmodelElementCollection):
            return False
        records = next((e for e in recent.value if e.id_short == "Records"), None)
        if not isinstance(records, model.SubmodelElementCollection) or len(records.value) != self.records:
            return False
        wanted = [(v.id_short, v.value_type) for v in variables]
        return all(isinstance(slot, model.SubmodelElementCollection)
                   and [(e.id_short, getattr(e, "value_type", None)) for e in slot.value] == wanted
                   for slot in records.value)

    async def _on_batch(self, batch: ChangeBatch) -> None:
        rings = self._rings
        for event in batch.values:
            handle = event.element
            if handle.path != CLOCK or handle.submodel_id not in rings:
                continue
            ring = rings[handle.submodel_id] or self._ring(handle.submodel_id)
            if ring is not None and handle is ring.clock and event.timestamp >= ring.last + self.interval_s:
                ring.last = event.timestamp
                self._append(ring, event.timestamp)

    def _append(self, ring: _Ring, timestamp: float) -> None:
        snapshot = [_value(handle) for handle in ring.live]
        ring.snapshots.append(snapshot)
        for slot, values in zip(ring.slots, ring.snapshots, strict=False):
            for handle, value in zip(slot, values, strict=True):
                if value is not None:
                    try:
                        self.twin.update(handle, value, timestamp)
                    except NotFound:
                        return
        self.twin.update(ring.count, model.datatypes.Long(len(ring.snapshots)), timestamp)


def _variables(record: model.SubmodelElement) -> list[model.Property]:
    if not isinstance(record, model.SubmodelElementCollection):
        raise KeyError(f"{LIVE_RECORD} is not a SubmodelElementCollection")
    return [e for e in record.value if isinstance(e, model.Property)]


def _value(handle: LiveElement) -> Any:
    element = handle.element
    return element.value if isinstance(element, model.Property) else None
