"""Analytics alarms as OPC UA Alarms & Conditions (Part 9): AlarmConditionType events with
Acknowledge and Confirm.

Why this shape: an OPC UA alarm client (UaExpert's Event view, a SCADA) subscribes to events of
the Server object and acts on a condition by calling ``Acknowledge``/``Confirm``
(AcknowledgeableConditionType's methods, i=9111/i=9113) with the ConditionId as the object and
the EventId it saw. Each condition (signal x rule) gets one object under ``Objects/Alarms`` whose
NodeId is its ConditionId; every transition of the :class:`AlarmBook` (raise, clear, acknowledge,
confirm) is one event carrying the full state (ActiveState, AckedState, ConfirmedState, Retain).
The methods are linked once on the type's method nodes, so they work for every condition; the
book decides, the event reports -- REST and OPC UA always agree.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from asyncua import Server, ua
from asyncua.common.node import Node
from asyncua.server.event_generator import EventGenerator

from twinbridge.analytics.alarms import Alarm, AlarmBook, AlarmError, AlarmEvent, AlarmEventKind, AlarmState
from twinbridge.server.opcua.methods import current_caller
from twinbridge.server.opcua.security import Rights

log = logging.getLogger(__name__)
_EVENTS_KEPT = 10_000  # EventId -> alarm id; older events cannot be acknowledged by their id (the newer can)


def _status(code: int) -> ua.StatusCode:
    return ua.StatusCode(code)  # type: ignore[arg-type]  # asyncua's stubs want its UInt32 alias


def _node_id(identifier: str | int, namespace: int = 0) -> ua.NodeId:
    return ua.NodeId(identifier, namespace)  # type: ignore[arg-type]  # the stubs want the aliases


def _state(flag: bool, true: str, false: str) -> ua.LocalizedText:
    return ua.LocalizedText(true if flag else false, "en")


class _Snapshot(NamedTuple):
    active: bool
    acked: bool
    confirmed: bool


class OpcUaAlarms:
    """Publishes ``book``'s transitions as AlarmConditionType events; serves Acknowledge/Confirm."""

    def __init__(self, server: Server, namespace_index: int, book: AlarmBook,
                 listeners: list[Callable[[AlarmEvent], None]], rights: Rights) -> None:
        """``rights``: who may acknowledge and confirm (the users who may write; anonymous never)."""
        self._server = server
        self._rights = rights
        self._ns = namespace_index
        self._book = book
        self._listeners = listeners
        self._conditions: dict[tuple[str, str], Node] = {}
        self._events: dict[bytes, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._emitting = asyncio.Lock()  # one event object is filled and sent at a time, in book order
        self._generator: EventGenerator | None = None
        self._folder: Node | None = None

    async def start(self) -> None:
        server = self._server
        self._folder = await server.nodes.objects.add_folder(_node_id("Alarms", self._ns), f"{self._ns}:Alarms")
        self._generator = await server.get_event_generator(ua.ObjectIds.AlarmConditionType, ua.ObjectIds.Server)
        self._template = self._generator.event
        server.link_method(server.get_node(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge), self._acknowledge)
        server.link_method(server.get_node(ua.ObjectIds.AcknowledgeableConditionType_Confirm), self._confirm)
        self._listeners.append(self._on_event)
        for alarm in self._book.active():  # raised before OPC UA started: clients see them on refresh
            self._on_event(AlarmEvent(AlarmEventKind.RAISED, alarm, alarm.raised_at))

    async def stop(self) -> None:
        if self._on_event in self._listeners:
            self._listeners.remove(self._on_event)
        for task in list(self._tasks):
            task.cancel()

    def _on_event(self, event: AlarmEvent) -> None:
        # the alarm object changes on: its state is taken now, when the transition happens
        alarm = event.alarm
        state = _Snapshot(alarm.state is AlarmState.ACTIVE, alarm.acknowledged_by is not None,
                          alarm.confirmed_by is not None)
        task = asyncio.get_running_loop().create_task(self._emit(event, state))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _condition(self, alarm: Alarm) -> Node:
        key = (alarm.source, alarm.rule.name)
        node = self._conditions.get(key)
        if node is None:
            assert self._folder is not None
            name = f"{alarm.source}.{alarm.rule.name}"
            node = await self._folder.add_object(_node_id(f"Alarms.{name}", self._ns), f"{self._ns}:{name}")
            self._conditions[key] = node
        return node

    async def _emit(self, event: AlarmEvent, state: _Snapshot) -> None:
        async with self._emitting:
            await self._emit_one(event, state)

    async def _emit_one(self, event: AlarmEvent, state: _Snapshot) -> None:
        generator = self._generator
        assert generator is not None
        alarm = event.alarm
        node = await self._condition(alarm)
        active, acked, confirmed = state
        # asyncua keeps a reference to the event it queues and reads it when it publishes: each
        # transition gets its own copy, or a quick raise-then-clear would publish "Inactive" twice
        fields = generator.event = copy.copy(self._template)
        fields.NodeId = node.nodeid  # the ConditionId
        fields.SourceNode = node.nodeid
        fields.SourceName = alarm.source
        fields.ConditionName = alarm.rule.name
        fields.ConditionClassId = _node_id(ua.ObjectIds.BaseConditionClassType)
        fields.Severity = int(alarm.rule.severity)
        fields.Retain = active or not acked or not confirmed
        fields.Quality = _status(ua.StatusCodes.Good)
        fields.EnabledState = _state(True, "Enabled", "Disabled")
        setattr(fields, "EnabledState/Id", True)
        fields.ActiveState = _state(active, "Active", "Inactive")
        setattr(fields, "ActiveState/Id", active)
        fields.AckedState = _state(acked, "Acknowledged", "Unacknowledged")
        setattr(fields, "AckedState/Id", acked)
        fields.ConfirmedState = _state(confirmed, "Confirmed", "Unconfirmed")
        setattr(fields, "ConfirmedState/Id", confirmed)
        text = f"{alarm.rule.message or alarm.rule.name}: {alarm.source} = {alarm.value:.4g} (alarm {alarm.id}, " \
               f"{event.kind.value})"
        await generator.trigger(datetime.fromtimestamp(event.timestamp, UTC), text)
        event_id = fields.EventId.Value if isinstance(fields.EventId, ua.Variant) else fields.EventId
        self._events[bytes(event_id)] = alarm.id
        while len(self._events) > _EVENTS_KEPT:
            del self._events[next(iter(self._events))]

    def _act(self, action: str, event_id: ua.Variant, comment: ua.Variant) -> ua.StatusCode:
        caller = current_caller()
        if caller is not None and not self._rights.may_write(caller):
            return _status(ua.StatusCodes.BadUserAccessDenied)
        raw = event_id.Value if isinstance(event_id, ua.Variant) else event_id
        alarm_id = self._events.get(bytes(raw or b""))
        if alarm_id is None:
            return _status(ua.StatusCodes.BadEventIdUnknown)
        try:
            getattr(self._book, action)(alarm_id, f"opcua:{caller.name}" if caller and caller.name else "opcua",
                                        time.time())
        except AlarmError as error:
            log.info("OPC UA %s of alarm %d refused: %s", action, alarm_id, error)
            return _status(ua.StatusCodes.BadConditionBranchAlreadyAcked if action == "acknowledge"
                           else ua.StatusCodes.BadInvalidState)  # confirm before acknowledge
        return _status(ua.StatusCodes.Good)

    async def _acknowledge(self, parent: ua.NodeId, event_id: ua.Variant, comment: ua.Variant) -> ua.StatusCode:
        return self._act("acknowledge", event_id, comment)

    async def _confirm(self, parent: ua.NodeId, event_id: ua.Variant, comment: ua.Variant) -> ua.StatusCode:
        return self._act("confirm", event_id, comment)
