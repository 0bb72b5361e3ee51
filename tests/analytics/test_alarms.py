"""Alarm state: hysteresis, deduplication, re-raise suppression, shelving, acknowledge/confirm."""

from __future__ import annotations

import pytest

from twinbridge.analytics.alarms import AlarmBook, AlarmError, AlarmEvent, AlarmEventKind, AlarmRule, AlarmState

SCORE = AlarmRule("anomaly", raise_at=0.9, clear_at=0.5, min_interval=30.0)


def test_one_alarm_per_excursion_with_hysteresis() -> None:
    events: list[AlarmEvent] = []
    book = AlarmBook(listener=events.append)
    book.watch("Motor.Vibration", SCORE)
    for t, value in enumerate([0.1, 0.95, 0.99, 0.7, 0.92, 0.6, 0.4, 0.3]):
        book.observe("Motor.Vibration", "anomaly", value, float(t))
    assert [e.kind for e in events] == [AlarmEventKind.RAISED, AlarmEventKind.CLEARED]
    alarm = events[0].alarm
    assert (alarm.raised_at, alarm.cleared_at, alarm.state) == (1.0, 6.0, AlarmState.CLEARED)


def test_no_storm_min_interval_and_shelving() -> None:
    events: list[AlarmEvent] = []
    book = AlarmBook(listener=events.append)
    book.watch("s", SCORE)
    book.observe("s", "anomaly", 0.95, 0.0)
    book.observe("s", "anomaly", 0.1, 1.0)
    book.observe("s", "anomaly", 0.95, 10.0)  # 9 s after the clear: suppressed
    assert len(book.alarms) == 1
    book.shelve("s", "anomaly", until=100.0)
    book.observe("s", "anomaly", 0.95, 50.0)  # shelved
    assert len(book.alarms) == 1
    book.observe("s", "anomaly", 0.95, 101.0)
    assert len(book.alarms) == 2 and len(book.active()) == 1


def test_rul_below_limit_acknowledge_then_confirm() -> None:
    book = AlarmBook()
    rule = AlarmRule("rul", raise_at=3600.0, clear_at=7200.0, above=False)
    book.watch("Pump", rule)
    book.observe("Pump", "rul", 3000.0, 0.0)
    (alarm,) = book.active()
    with pytest.raises(AlarmError, match="must be acknowledged before it is confirmed"):
        book.confirm(alarm.id, "alice", 1.0)
    assert book.acknowledge(alarm.id, "alice", 1.0).acknowledged_by == "alice"
    with pytest.raises(AlarmError, match="already acknowledged by alice"):
        book.acknowledge(alarm.id, "bob", 2.0)
    assert book.confirm(alarm.id, "bob", 2.0).confirmed_by == "bob"
    with pytest.raises(AlarmError, match="no alarm 99"):
        book.acknowledge(99, "x", 0.0)
    with pytest.raises(ValueError, match="clear_at must be above raise_at"):
        AlarmRule("bad", raise_at=10.0, clear_at=5.0, above=False)
