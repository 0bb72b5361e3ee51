"""Every reach into asyncua internals that OPC UA HistoryRead needs, in one place, checked at start-up.

- asyncua's ``HistoryManager`` answers ReadRawModifiedDetails through a storage object but
  returns BadNotImplemented for ReadProcessedDetails; ``install_history_manager`` replaces the
  internal server's manager with a subclass whose ``read_history`` hands processed reads to
  ``processed`` and everything else to asyncua.
- Historizing and the HistoryRead access bit are attributes of address-space ``NodeData``
  (asyncua's in-memory node store); ``mark_historizing`` sets them on one node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asyncua import Server, ua
from asyncua.server.address_space import AttributeValue, NodeData
from asyncua.server.history import HistoryManager, HistoryStorageInterface

ProcessedRead = Callable[[ua.ReadProcessedDetails, ua.HistoryReadValueId, ua.NodeId], Awaitable[ua.HistoryReadResult]]

_STATUS_CODE: Any = ua.StatusCode  # asyncua annotates NewTypes (UInt32, DateTime...); the runtime takes plain values
_DATA_VALUE: Any = ua.DataValue
_NODE_ID: Any = ua.NodeId


def status(code: int) -> ua.StatusCode:
    return _STATUS_CODE(code)  # type: ignore[no-any-return]


def data_value(value: ua.Variant | None = None, code: ua.StatusCode | None = None,
               source: Any = None, server: Any = None) -> ua.DataValue:
    """A DataValue with plain datetimes as timestamps (what asyncua encodes)."""
    return _DATA_VALUE(value, code if code is not None else status(ua.StatusCodes.Good),  # type: ignore[no-any-return]
                       source, server)


_HISTORIZING = AttributeValue(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))


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

    async def read_history(self, params: ua.HistoryReadParameters) -> list[ua.HistoryReadResult]:
        details = params.HistoryReadDetails
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


def install_history_manager(server: Server, storage: HistoryStorageInterface, processed: ProcessedRead) -> None:
    check()
    iserver: Any = server.iserver
    manager = _ProcessingManager(iserver)
    manager.processed = processed
    manager.set_storage(storage)
    iserver.history_manager = manager


def mark_historizing(server: Server, node_id: ua.NodeId) -> None:
    """Historizing = True and the HistoryRead bit in AccessLevel/UserAccessLevel of one Variable."""
    node = server.iserver.aspace.get(node_id)
    if node is None:
        return
    node.attributes[ua.AttributeIds.Historizing] = _HISTORIZING
    for attribute_id in (ua.AttributeIds.AccessLevel, ua.AttributeIds.UserAccessLevel):
        current = node.attributes.get(attribute_id)
        if current is None:
            continue
        if current.value_callback is not None:
            node.attributes[attribute_id] = _with_history_bit_callback(current.value_callback)
        elif current.value is not None and current.value.Value is not None:
            level = int(current.value.Value.Value) | ua.AccessLevel.HistoryRead.mask
            node.attributes[attribute_id] = AttributeValue(ua.DataValue(ua.Variant(level, ua.VariantType.Byte)))


def _with_history_bit_callback(callback: Callable[[ua.NodeId, ua.AttributeIds], ua.DataValue]) -> AttributeValue:
    def level(node_id: ua.NodeId, attribute_id: ua.AttributeIds) -> ua.DataValue:
        value = callback(node_id, attribute_id)
        bits = int(value.Value.Value) if value.Value is not None else 0
        return ua.DataValue(ua.Variant(bits | ua.AccessLevel.HistoryRead.mask, ua.VariantType.Byte))

    attribute = AttributeValue(ua.DataValue())
    attribute.value = None
    attribute.value_callback = level
    return attribute
