"""Every reach into asyncua's internals, in one place, checked at start-up by ``check()``.

asyncua's public API builds nodes one by one (``add_variable``: quadratic under a wide
parent, ~5 KB per node) and stores client writes straight into nodes. The mirror needs
three things the public API does not offer, all on the server's internal ``AddressSpace``:

- a *node source*: nodes below a submodel are computed from the twin when a client asks
  for them (``install_node_source`` wraps the address space's node table), so the twin's
  elements cost no memory in OPC UA until a client monitors one of their values;
- the attribute service and the session factory replaced by ours (``set_attribute_service``,
  ``set_session_factory``), so client writes go through the twin and Methods see the caller;
- the security policy of the channel a request came on (``install_channel_probe`` wraps
  ``UaProcessor._process_message``): OPC UA Part 4 says a server ignores the client
  certificate of a CreateSession on a None channel, and asyncua's validator hook does not say
  which channel it is called for;
- ``model_change_events``: asyncua 2.1 declares GeneralModelChangeEvent's ``Changes`` field with
  a NodeId where a VariantType belongs, so triggering the event fails; the generator returned
  here has the field typed as what it is, an ExtensionObject array;
- the datachange-callback bookkeeping: asyncua adds a monitored item's callback with
  ``attribute.datachange_callbacks[handle] = callback`` and removes it with ``.pop(handle)``
  (``watched.py`` hooks both), and ``drop_monitored`` forgets a handle whose node is gone, so
  monitored items on removed nodes are told ``BadNodeIdUnknown`` as asyncua's own delete does.

Tested with asyncua 2.1.0 (pyproject pins ``>=2.1,<2.2``). When asyncua renames one of these,
``check()`` stops the server's start naming the missing piece, instead of values silently
no longer changing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextvars import ContextVar
from importlib.metadata import version
from typing import Any

from asyncua import Server, ua
from asyncua.server.address_space import AddressSpace, AttributeService, AttributeValue, NodeData
from asyncua.server.event_generator import EventGenerator
from asyncua.server.internal_server import InternalServer
from asyncua.server.internal_session import InternalSession
from asyncua.server.uaprocessor import UaProcessor

from twinbridge.server.opcua.datatypes import node_id

__all__ = [
    "AddressSpace",
    "AsyncuaCompatError",
    "AttributeService",
    "AttributeValue",
    "EventGenerator",
    "InternalServer",
    "InternalSession",
    "NodeData",
    "NodeSource",
    "channel_secured",
    "check",
    "drop_monitored",
    "install_channel_probe",
    "install_node_source",
    "model_change_events",
    "set_attribute_service",
    "set_max_sessions",
    "set_session_factory",
]

TESTED_VERSION = "2.1.0"

NodeSource = Callable[[ua.NodeId], NodeData | None]
"""Computes the node of a NodeId the table does not hold, or None when there is none."""

SessionFactory = Callable[..., InternalSession]


class AsyncuaCompatError(RuntimeError):
    """An asyncua internal the OPC UA server relies on is missing or changed."""


def _missing(what: str) -> AsyncuaCompatError:
    return AsyncuaCompatError(
        f"asyncua {version('asyncua')} has no {what}; twinbridge's OPC UA server was tested with asyncua "
        f"{TESTED_VERSION} (install the version in constraints.txt)")


async def model_change_events(server: Server) -> EventGenerator:
    """A generator of GeneralModelChangeEvents from the Server object, its ``Changes`` field fixed."""
    generator = await server.get_event_generator(ua.ObjectIds.GeneralModelChangeEventType, ua.ObjectIds.Server)
    data_types = getattr(generator.event, "data_types", None)
    if not isinstance(data_types, dict) or "Changes" not in data_types:
        raise _missing("Event.data_types['Changes'] of GeneralModelChangeEvent")
    data_types["Changes"] = ua.VariantType.ExtensionObject
    return generator


def check(iserver: InternalServer | None = None) -> None:
    """Raise ``AsyncuaCompatError`` naming the first internal that is missing.

    Without ``iserver`` the classes are checked; with it, also the server's own attributes.
    """
    aspace = iserver.aspace if iserver is not None else AddressSpace()
    if not isinstance(getattr(aspace, "_nodes", None), dict):
        raise _missing("AddressSpace._nodes (the node table, a dict)")
    if not isinstance(getattr(aspace, "_handle_to_attribute_map", None), dict):
        raise _missing("AddressSpace._handle_to_attribute_map")
    for method in ("read_attribute_value", "write_attribute_value", "add_datachange_callback",
                   "delete_datachange_callback", "get", "keys"):
        if not callable(getattr(aspace, method, None)):
            raise _missing(f"AddressSpace.{method}")
    node = NodeData(node_id(0))
    for field in ("nodeid", "attributes", "references", "call"):
        if not hasattr(node, field):
            raise _missing(f"NodeData.{field}")
    attribute = AttributeValue(ua.DataValue())
    for field in ("value", "value_callback", "value_setter", "datachange_callbacks"):
        if not hasattr(attribute, field):
            raise _missing(f"AttributeValue.{field}")
    if not inspect.iscoroutinefunction(getattr(AttributeService, "write", None)):
        raise _missing("AttributeService.write (a coroutine function)")
    for name in ("internal_server", "aspace", "submgr", "name", "user", "external"):
        if name not in inspect.signature(InternalSession.__init__).parameters:
            raise _missing(f"InternalSession.__init__ parameter {name!r}")
    if not inspect.iscoroutinefunction(getattr(InternalSession, "call", None)):
        raise _missing("InternalSession.call (a coroutine function)")
    if not isinstance(getattr(InternalSession, "max_connections", None), int):
        raise _missing("InternalSession.max_connections")
    if not inspect.iscoroutinefunction(getattr(UaProcessor, "_process_message", None)):
        raise _missing("UaProcessor._process_message (a coroutine function)")
    if iserver is not None:
        for name in ("create_session", "attribute_service", "subscription_service"):
            if not hasattr(iserver, name):
                raise _missing(f"InternalServer.{name}")


class _NodeTable(dict[ua.NodeId, NodeData]):
    """asyncua's node table, asking ``source`` for NodeIds it does not hold.

    Hits stay C-speed (``dict.__getitem__``); only ``get``/``in`` pay one Python call, and a
    miss outside the mirror's namespace is rejected by the source in a few comparisons.
    """

    __slots__ = ("source",)

    def __init__(self, nodes: dict[ua.NodeId, NodeData], source: NodeSource) -> None:
        super().__init__(nodes)
        self.source = source

    def __missing__(self, node_id: ua.NodeId) -> NodeData:
        node = self.source(node_id)
        if node is None:
            raise KeyError(node_id)
        return node

    def get(self, node_id: ua.NodeId, default: NodeData | None = None) -> NodeData | None:  # type: ignore[override]
        node = dict.get(self, node_id)
        if node is None:
            node = self.source(node_id)
        return default if node is None else node

    def __contains__(self, node_id: object) -> bool:
        if dict.__contains__(self, node_id):
            return True
        return isinstance(node_id, ua.NodeId) and self.source(node_id) is not None


def install_node_source(aspace: AddressSpace, source: NodeSource) -> None:
    """Let ``source`` answer for every NodeId the address space does not hold itself."""
    nodes = aspace._nodes
    if isinstance(nodes, _NodeTable):
        nodes.source = source
    else:
        aspace._nodes = _NodeTable(nodes, source)


def drop_monitored(aspace: AddressSpace, handle: int) -> None:
    """Forget a datachange callback without looking its node up again (the node is gone)."""
    aspace._handle_to_attribute_map.pop(handle, None)


def set_attribute_service(iserver: InternalServer, service: AttributeService) -> None:
    iserver.attribute_service = service


def set_max_sessions(count: int) -> None:
    InternalSession.max_connections = count


def set_session_factory(iserver: InternalServer, factory: SessionFactory) -> None:
    """Create client sessions with ``factory(name, user=..., external=...)``."""
    iserver.create_session = factory  # type: ignore[method-assign]


_SECURED: ContextVar[bool] = ContextVar("opcua_channel_secured", default=True)
_NONE_POLICY = "http://opcfoundation.org/UA/SecurityPolicy#None"


def channel_secured() -> bool:
    """Whether the request being processed came on a signed or encrypted channel."""
    return _SECURED.get()


def install_channel_probe() -> None:
    """Make ``channel_secured`` answer for the request a UaProcessor is processing (once per process)."""
    original = UaProcessor._process_message
    if getattr(original, "twinbridge_probe", False):
        return

    async def process(self: UaProcessor, *args: Any) -> Any:
        policy = getattr(getattr(self, "_connection", None), "security_policy", None)
        token = _SECURED.set(getattr(policy, "URI", _NONE_POLICY) != _NONE_POLICY)
        try:
            return await original(self, *args)
        finally:
            _SECURED.reset(token)

    process.twinbridge_probe = True  # type: ignore[attr-defined]
    UaProcessor._process_message = process  # type: ignore[method-assign]
