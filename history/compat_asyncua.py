"""Every reach into asyncua internals that OPC UA HistoryRead needs, in one place, checked at start-up.

- asyncua's ``HistoryManager`` answers ReadRawModifiedDetails through a storage object but
  returns BadNotImplemented for ReadProcessedDetails; ``install_history_manager`` replaces the
  internal server's manager with a subclass whose ``read_history`` hands processed reads to
  ``processed``, raw and modified reads to ``raw`` and everything else to asyncua.
- A raw read's HistoryData goes out pre-encoded (``history/opcua_encoding``): asyncua writes an
  ``ExtensionObject`` it is given as it is, TypeId and body, instead of encoding DataValues.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asyncua import Server, ua
from asyncua.server.address_space import NodeData
from asyncua.server.history import HistoryManager, HistoryStorageInterface

ProcessedRead = Callable[[ua.ReadProcessedDetails, ua.HistoryReadValueId, ua.NodeId], Awaitable[ua.HistoryReadResult]]
RawRead = Callable[[ua.ReadRawModifiedDetails, ua.HistoryReadValueId, ua.TimestampsToReturn],
                   Awaitable[ua.HistoryReadResult]]

_STATUS_CODE: Any = ua.StatusCode  # asyncua annotates NewTypes (UInt32, DateTime...); the runtime takes plain values
_DATA_VALUE: Any = ua.DataValue
_NODE_ID: Any = ua.NodeId
_EXTENSION_OBJECT: Any = ua.ExtensionObject
_HISTORY_DATA_BINARY = _NODE_ID(ua.ObjectIds.HistoryData_Encoding_DefaultBinary)


def status(code: int) -> ua.StatusCode:
    return _STATUS_CODE(code)  # type: ignore[no-any-return]


def data_value(value: ua.Variant | None = None, code: ua.StatusCode | None = None,
               source: Any = None, server: Any = None) -> ua.DataValue:
    """A DataValue with plain datetimes as timestamps (what asyncua encodes)."""
    return _DATA_VALUE(value, code if code is not None else status(ua.StatusCodes.Good),  # type: ignore[no-any-return]
                       source, server)


def encoded_history_data(body: bytes) -> ua.ExtensionObject:
    """A HistoryData already in OPC UA binary, as the HistoryReadResult's ``HistoryData``."""
    return _EXTENSION_OBJECT(TypeId=_HISTORY_DATA_BINARY, Body=body)  # type: ignore[no-any-return]


def check() -> None:
    """Fail at start-up, naming what moved, if an asyncua upgrade changed what we rely on."""
    for owner, name in ((HistoryManager, "read_history"), (HistoryManager, "set_storage"),
                        (HistoryManager, "_read_history")):
        if not callable(getattr(owner, name, None)):
            raise RuntimeError(f"asyncua changed: {owner.__name__}.{name} is gone (history/compat_asyncua.py)")
    if not hasattr(NodeData(_NODE_ID(1, 1)), "attributes"):
        raise RuntimeError("asyncua changed: NodeData.attributes is gone (history/compat_asyncua.py)")


class _ProcessingManager(HistoryManager):
    processed: ProcessedRead
    raw: RawRead

    async def read_history(self, params: ua.HistoryReadParameters) -> list[ua.HistoryReadResult]:
        details = params.HistoryReadDetails
        if isinstance(details, ua.ReadRawModifiedDetails):
            return [await self.raw(details, node, params.TimestampsToReturn) for node in params.NodesToRead]
        if not isinstance(details, ua.ReadProcessedDetails):
            return await super().read_history(params)
        results = []
        for index, node in enumerate(params.NodesToRead):
            aggregates = details.AggregateType or []
            if index >= len(aggregates):
                results.append(ua.HistoryReadResult(StatusCode=status(ua.StatusCodes.BadAggregateListMismatch)))
                continue
            results.append(await self.processed(details, node, aggregates[index]))
        return results


def install_history_manager(server: Server, storage: HistoryStorageInterface, processed: ProcessedRead,
                            raw: RawRead) -> None:
    check()
    iserver: Any = server.iserver
    manager = _ProcessingManager(iserver)
    manager.processed = processed
    manager.raw = raw
    manager.set_storage(storage)
    iserver.history_manager = manager
