"""Value attributes that clients monitor: the only per-value state the mirror keeps.

A computed node is built again after a structure change (or when the located-node cache starts
over), so its Value attribute may be a new object next time; asyncua, though, keeps a monitored
item's callback *in* the attribute object and finds it again by NodeId to delete it.
``WatchedValue`` therefore pins itself in ``Watchers`` when its first callback arrives and
unpins when the last one goes: the address space then returns the pinned object for that
NodeId, and the mirror notifies exactly the values someone watches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from asyncua import ua

from twinbridge.server.opcua.compat_asyncua import AttributeValue
from twinbridge.server.opcua.datatypes import Codec, status

_log = logging.getLogger(__name__)

Owner = tuple[str, str | None]
"""(submodel id, idShortPath; "" for the submodel itself) or (shell id, None)."""

Read = Callable[[ua.NodeId, ua.AttributeIds], ua.DataValue]


class _Callbacks(dict[int, Callable[..., Any]]):
    """A WatchedValue's monitored-item callbacks; the first pins the value, the last unpins it."""

    __slots__ = ("_owner",)

    def __init__(self, owner: WatchedValue) -> None:
        super().__init__()
        self._owner = owner

    def __setitem__(self, handle: int, callback: Callable[..., Any]) -> None:
        if not self:
            self._owner.watchers.pin(self._owner)
        super().__setitem__(handle, callback)

    def pop(self, handle: int, *default: Any) -> Any:  # type: ignore[override]
        result = super().pop(handle, *default)
        if not self:
            self._owner.watchers.unpin(self._owner)
        return result


class WatchedValue(AttributeValue):
    """The Value attribute of a computed Variable: read from the twin on every read."""

    def __init__(self, watchers: Watchers, node_id: ua.NodeId, owner: Owner, codec: Codec | None) -> None:
        super().__init__(ua.DataValue())
        self.value = None
        self.value_callback = watchers.read
        self.datachange_callbacks = _Callbacks(self)
        self.watchers = watchers
        self.node_id = node_id
        self.owner = owner
        self.codec = codec
        """Set for a Property's Value: the mirror encodes the bus value itself, no lookup."""

    async def notify(self, value: ua.DataValue) -> None:
        for handle, callback in tuple(self.datachange_callbacks.items()):
            try:
                await callback(handle, value)
            except Exception:
                _log.exception("monitored item callback failed for %s", self.node_id)

    async def notify_deleted(self) -> None:
        """Tell the monitored items their node is gone (as asyncua's DeleteNodes does) and unpin."""
        gone = status(ua.StatusCodes.BadNodeIdUnknown)
        for handle, callback in tuple(self.datachange_callbacks.items()):
            try:
                await callback(handle, None, gone)
            except Exception:
                _log.exception("monitored item callback failed for %s", self.node_id)
            self.watchers.forget_handle(handle)
        dict.clear(self.datachange_callbacks)
        self.watchers.unpin(self)


class Watchers:
    """The pinned WatchedValues, by NodeId and by the element (or identifiable) they belong to."""

    def __init__(self, read: Read, forget_handle: Callable[[int], None]) -> None:
        self.read = read
        self.forget_handle = forget_handle
        self._by_node: dict[ua.NodeId, WatchedValue] = {}
        self._by_owner: dict[Owner, dict[ua.NodeId, WatchedValue]] = {}

    def attribute(self, node_id: ua.NodeId, owner: Owner, codec: Codec | None) -> WatchedValue:
        """The pinned attribute of ``node_id``, or a fresh one that pins itself when watched."""
        pinned = self._by_node.get(node_id)
        return pinned if pinned is not None else WatchedValue(self, node_id, owner, codec)

    def pin(self, value: WatchedValue) -> None:
        self._by_node[value.node_id] = value
        self._by_owner.setdefault(value.owner, {})[value.node_id] = value

    def unpin(self, value: WatchedValue) -> None:
        if self._by_node.get(value.node_id) is value:
            del self._by_node[value.node_id]
            siblings = self._by_owner.get(value.owner)
            if siblings is not None:
                siblings.pop(value.node_id, None)
                if not siblings:
                    del self._by_owner[value.owner]

    def of(self, owner: Owner) -> dict[ua.NodeId, WatchedValue] | None:
        return self._by_owner.get(owner)

    def within(self, identifier: str, path: str | None, *, shell: bool = False) -> Iterator[WatchedValue]:
        """Every pinned value of a submodel at ``path`` or below it ("" or None: all of it), or of a shell."""
        for (owner_id, owner_path), values in list(self._by_owner.items()):
            if owner_id != identifier or (owner_path is None) != shell:
                continue
            if path and owner_path is not None and not _below(owner_path, path):
                continue
            yield from list(values.values())

    def __len__(self) -> int:
        return len(self._by_node)


def _below(candidate: str, path: str) -> bool:
    return candidate == path or candidate.startswith((path + ".", path + "["))
