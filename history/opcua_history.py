"""OPC UA HistoryRead over the Historian's store: raw reads with continuation points, and the Part 13
aggregates Average, Minimum, Maximum and Count for processed reads.

``install`` puts ``TwinHistoryStorage`` behind asyncua's history service. A node maps to its
element through ``element_of`` (the OPC UA server's reading of its own NodeIds: a Property's Value
Variable → (submodel id, idShortPath)), so the history of an element is the same whether read over
REST or OPC UA. Values come back typed by what the series holds (number → Double, integer →
Int64, boolean → Boolean, text → String). Raw reads are answered by ``raw`` (asyncua's storage
path, ``read_node_history``, is not used: it built a DataValue object per point).
"""

from __future__ import annotations

import asyncio
import datetime
import struct
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from asyncua import Node, Server, ua
from asyncua.server.history import HistoryStorageInterface

from twinbridge.history.compat_asyncua import data_value, encoded_history_data, install_history_manager, status
from twinbridge.history.historian import Historian
from twinbridge.history.opcua_encoding import VARIANT_OF_VALUE_TYPE, history_data
from twinbridge.history.store import Bucket, HistoryError, SeriesInfo, SeriesKey

MAX_VALUES_PER_READ = 10_000
_UTC = datetime.UTC
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)
_STATUS_CODES = [status(code) for code in (ua.StatusCodes.Good, ua.StatusCodes.Uncertain, ua.StatusCodes.Bad)]
_AGGREGATES: dict[int, str] = {
    ua.ObjectIds.AggregateFunction_Average: "avg",
    ua.ObjectIds.AggregateFunction_Minimum: "min",
    ua.ObjectIds.AggregateFunction_Maximum: "max",
    ua.ObjectIds.AggregateFunction_Count: "count",
}


ElementOf = Callable[[ua.NodeId], tuple[str, str] | None]
"""NodeId → (submodel id, idShortPath) of the Property whose Value Variable it is, else None."""

_CONTINUATION = struct.Struct("<q")
_NO_VALUES = struct.pack("<i", 0)


def _micros(moment: datetime.datetime | None) -> int | None:
    """OPC UA leaves a bound unspecified with DateTime.MinValue (1601) or null."""
    if moment is None or moment.year <= 1601:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return round((moment - _EPOCH) / timedelta(microseconds=1))


def _datetime(micros: int) -> datetime.datetime:
    return _EPOCH + timedelta(microseconds=micros)


class TwinHistoryStorage(HistoryStorageInterface):
    """asyncua's storage interface, read-only: the Historian writes, OPC UA clients read."""

    def __init__(self, historian: Historian, element_of: ElementOf) -> None:
        super().__init__(MAX_VALUES_PER_READ)
        self.historian = historian
        self.element_of = element_of

    async def init(self) -> None:
        """The Historian's store is opened and closed by the HistoryService, not by OPC UA."""

    async def stop(self) -> None:
        """As ``init``: the store outlives the OPC UA server."""

    async def new_historized_node(self, node_id: ua.NodeId, period: timedelta | None, count: int = 0) -> None:
        """Every live value is historized by the Historian already."""

    async def new_historized_event(self, source_id: ua.NodeId, evtypes: list[Node],
                                   period: timedelta | None, count: int = 0) -> None:
        """Events are not historized here (the journal records model changes)."""

    async def save_event(self, event: Any) -> None:
        """See ``new_historized_event``."""

    async def read_event_history(self, source_id: ua.NodeId, start: datetime.datetime | None,
                                 end: datetime.datetime | None, nb_values: int,
                                 evfilter: Any) -> tuple[list[Any], Any]:
        return [], None

    async def save_node_value(self, node_id: ua.NodeId, datavalue: ua.DataValue) -> None:
        """Values reach the store through the twin's bus, not through OPC UA subscriptions."""

    async def raw(self, details: ua.ReadRawModifiedDetails, node: ua.HistoryReadValueId,
                  timestamps: ua.TimestampsToReturn) -> ua.HistoryReadResult:
        """A ReadRawModifiedDetails read of one node, its HistoryData encoded at once from the store's
        columns (``opcua_encoding``). The continuation point is the next point's time in µs."""
        result = ua.HistoryReadResult()
        if timestamps is ua.TimestampsToReturn.Server:  # Part 11 6.5.3.2: server timestamps are not kept
            result.StatusCode = status(ua.StatusCodes.BadTimestampNotSupported)
            return result
        if details.IsReadModified:  # nothing stored is ever modified or replaced
            result.HistoryData = ua.HistoryModifiedData()
            return result
        await self.historian.flushed()
        found = self._series(node.NodeId)
        start_us, end_us = _micros(details.StartTime), _micros(details.EndTime)
        if node.ContinuationPoint:
            if len(node.ContinuationPoint) != _CONTINUATION.size:
                result.StatusCode = status(ua.StatusCodes.BadContinuationPointInvalid)
                return result
            start_us = _CONTINUATION.unpack(node.ContinuationPoint)[0]
        if found is None:
            result.HistoryData = encoded_history_data(_NO_VALUES)
            return result
        info, variant = found
        reverse = start_us is not None and end_us is not None and start_us > end_us
        if reverse:
            assert start_us is not None and end_us is not None
            start_us, end_us = end_us, start_us + 1
        begin = 0 if start_us is None else start_us
        stop = 2**62 if end_us is None else end_us
        limit = min(details.NumValuesPerNode or MAX_VALUES_PER_READ, MAX_VALUES_PER_READ)
        points = await asyncio.to_thread(self.historian.store.read, info.id, begin, stop, limit + 1)
        count = min(len(points.t_us), limit)
        result.HistoryData = encoded_history_data(history_data(points, count, variant, reverse=reverse))
        if len(points.t_us) > limit:
            result.ContinuationPoint = _CONTINUATION.pack(int(points.t_us[limit]))
        return result

    async def processed(self, details: ua.ReadProcessedDetails, node: ua.HistoryReadValueId,
                        aggregate_id: ua.NodeId) -> ua.HistoryReadResult:
        result = ua.HistoryReadResult()
        identifier = aggregate_id.Identifier
        aggregate = _AGGREGATES.get(identifier) if aggregate_id.NamespaceIndex == 0 and isinstance(identifier, int) \
            else None
        if aggregate is None:
            result.StatusCode = status(ua.StatusCodes.BadAggregateNotSupported)
            return result
        await self.historian.flushed()
        found = self._series(node.NodeId)
        start_us, end_us = _micros(details.StartTime), _micros(details.EndTime)
        interval_us = round(details.ProcessingInterval * 1000)
        if start_us is None or end_us is None or start_us >= end_us or interval_us <= 0:
            result.StatusCode = status(ua.StatusCodes.BadInvalidArgument)
            return result
        if -(-(end_us - start_us) // interval_us) > MAX_VALUES_PER_READ:
            result.StatusCode = status(ua.StatusCodes.BadTooManyOperations)
            return result
        result.HistoryData = ua.HistoryData()
        if found is None:
            result.HistoryData.DataValues = []
            return result
        info, _ = found
        try:
            buckets = await asyncio.to_thread(self.historian.store.aggregate, info.id, start_us, end_us, interval_us)
        except HistoryError:
            result.StatusCode = status(ua.StatusCodes.BadAggregateInvalidInputs)
            return result
        result.HistoryData.DataValues = [_bucket_value(bucket, aggregate) for bucket in buckets]
        return result

    def _series(self, node_id: ua.NodeId) -> tuple[SeriesInfo, int] | None:
        element = self.element_of(node_id)
        if element is None:
            return None
        info = self.historian.store.find_series(SeriesKey(*element))
        if info is None:
            return None
        return info, VARIANT_OF_VALUE_TYPE.get(info.value_type, VARIANT_OF_VALUE_TYPE["number"])


def _bucket_value(bucket: Bucket, aggregate: str) -> ua.DataValue:
    stamp = _datetime(bucket.start_us)
    if aggregate == "count":
        return data_value(ua.Variant(bucket.count, ua.VariantType.UInt32), None, stamp)
    value = getattr(bucket, aggregate)
    if value is None:  # Part 13: an interval without data has no value
        return data_value(None, status(ua.StatusCodes.BadNoData), stamp)
    return data_value(ua.Variant(float(value), ua.VariantType.Double), None, stamp)


def install(server: Server, historian: Historian, element_of: ElementOf) -> TwinHistoryStorage:
    """Serve HistoryRead for every Property Value Variable ``element_of`` can read."""
    storage = TwinHistoryStorage(historian, element_of)
    install_history_manager(server, storage, storage.processed, storage.raw)
    return storage
