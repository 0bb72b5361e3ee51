"""Alarms from analytics values: raise and clear with hysteresis, one alarm per condition, shelving.

Why here and not in the OPC UA or REST layer: whether an alarm is active is a decision about the
machine (a score above its limit, an RUL below its limit), the same for every projection. This
module keeps that state and reports each transition to ``listener`` as an :class:`AlarmEvent`;
the server's projections (OPC UA AlarmConditionType, ``/alarms``, the event stream) subscribe to
those events. Storm control: a condition has at most one alarm at a time (deduplication), it
clears only once the value is back past ``clear`` (hysteresis), re-raising within ``min_interval``
seconds of a clear is suppressed, and a shelved condition raises nothing until its shelf expires.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """OPC UA severities (1..1000) for the usual three levels."""

    LOW = 250
    MEDIUM = 500
    HIGH = 800


@dataclass(frozen=True)
class AlarmRule:
    """``raise_at``/``clear_at`` with ``above=True`` alarm when the value rises to ``raise_at`` and
    clear when it falls to ``clear_at`` (below it); ``above=False`` mirrors that (an RUL limit)."""

    name: str
    raise_at: float
    clear_at: float
    above: bool = True
    severity: Severity = Severity.MEDIUM
    message: str = ""
    min_interval: float = 60.0

    def __post_init__(self) -> None:
        if (self.clear_at > self.raise_at) if self.above else (self.clear_at < self.raise_at):
            side = "below" if self.above else "above"
            raise ValueError(f"alarm rule {self.name!r}: clear_at must be {side} raise_at (hysteresis)")


class AlarmState(enum.Enum):
    ACTIVE = "active"
    CLEARED = "cleared"


@dataclass
class Alarm:
    """One occurrence of a condition, from raise to clear (and its acknowledgement)."""

    id: int
    source: str
    rule: AlarmRule
    raised_at: float
    value: float
    state: AlarmState = AlarmState.ACTIVE
    cleared_at: float | None = None
    acknowledged_by: str | None = None
    confirmed_by: str | None = None


class AlarmEventKind(enum.Enum):
    RAISED = "raised"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"
    CONFIRMED = "confirmed"


@dataclass(frozen=True)
class AlarmEvent:
    kind: AlarmEventKind
    alarm: Alarm
    timestamp: float


class AlarmError(LookupError):
    """An alarm id that does not exist, or an action its state does not allow."""


@dataclass
class _Condition:
    rule: AlarmRule
    source: str
    active: Alarm | None = None
    last_clear: float = float("-inf")
    shelved_until: float = float("-inf")


@dataclass
class AlarmBook:
    """All alarm conditions (source x rule) and the alarms they raised, newest last."""

    listener: Callable[[AlarmEvent], None] = lambda event: None
    history: int = 1000
    alarms: dict[int, Alarm] = field(default_factory=dict)
    _conditions: dict[tuple[str, str], _Condition] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def watch(self, source: str, rule: AlarmRule) -> None:
        self._conditions[(source, rule.name)] = _Condition(rule, source)

    def observe(self, source: str, rule_name: str, value: float, timestamp: float) -> None:
        """A new value of a watched condition: raise or clear as the rule says (O(1))."""
        condition = self._conditions[(source, rule_name)]
        rule = condition.rule
        beyond_raise = value >= rule.raise_at if rule.above else value <= rule.raise_at
        back_past_clear = value <= rule.clear_at if rule.above else value >= rule.clear_at
        active = condition.active
        if active is None:
            if beyond_raise and timestamp >= condition.shelved_until \
                    and timestamp - condition.last_clear >= rule.min_interval:
                alarm = Alarm(next(self._ids), source, rule, timestamp, value)
                condition.active = alarm
                self.alarms[alarm.id] = alarm
                self._trim()
                self.listener(AlarmEvent(AlarmEventKind.RAISED, alarm, timestamp))
        elif back_past_clear:
            active.state, active.cleared_at = AlarmState.CLEARED, timestamp
            condition.active, condition.last_clear = None, timestamp
            self.listener(AlarmEvent(AlarmEventKind.CLEARED, active, timestamp))

    def is_active(self, source: str, rule_name: str) -> bool:
        """Whether the condition has an alarm now (a value short of ``raise_at`` cannot change it
        otherwise: a caller with many values may skip those)."""
        return self._conditions[(source, rule_name)].active is not None

    def acknowledge(self, alarm_id: int, who: str, timestamp: float) -> Alarm:
        alarm = self._get(alarm_id)
        if alarm.acknowledged_by is not None:
            raise AlarmError(f"alarm {alarm_id} is already acknowledged by {alarm.acknowledged_by}")
        alarm.acknowledged_by = who
        self.listener(AlarmEvent(AlarmEventKind.ACKNOWLEDGED, alarm, timestamp))
        return alarm

    def confirm(self, alarm_id: int, who: str, timestamp: float) -> Alarm:
        alarm = self._get(alarm_id)
        if alarm.acknowledged_by is None:
            raise AlarmError(f"alarm {alarm_id} must be acknowledged before it is confirmed")
        alarm.confirmed_by = who
        self.listener(AlarmEvent(AlarmEventKind.CONFIRMED, alarm, timestamp))
        return alarm

    def shelve(self, source: str, rule_name: str, until: float) -> None:
        """Raise nothing for this condition until ``until`` (an active alarm stays as it is)."""
        self._conditions[(source, rule_name)].shelved_until = until

    def active(self) -> list[Alarm]:
        return [alarm for alarm in self.alarms.values() if alarm.state is AlarmState.ACTIVE]

    def _get(self, alarm_id: int) -> Alarm:
        try:
            return self.alarms[alarm_id]
        except KeyError:
            raise AlarmError(f"no alarm {alarm_id}") from None

    def _trim(self) -> None:
        while len(self.alarms) > self.history:
            oldest = next(iter(self.alarms))
            if self.alarms[oldest].state is AlarmState.ACTIVE:
                break
            del self.alarms[oldest]
