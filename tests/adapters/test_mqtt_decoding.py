"""Topic filters, the topic index, JSON selectors and payload timestamps (pure functions)."""

from __future__ import annotations

import datetime

import pytest
from pydantic import ValidationError

from twinbridge.adapters.mqtt import payloads
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource
from twinbridge.adapters.mqtt.selectors import Missing, Selector, SelectorError
from twinbridge.adapters.mqtt.topics import TopicError, TopicIndex, check_filter, matches


@pytest.mark.parametrize(("topic_filter", "topic", "expected"), [
    ("a/b/c", "a/b/c", True),
    ("a/+/c", "a/x/c", True),
    ("a/+/c", "a/x/y/c", False),
    ("a/#", "a", True),
    ("a/#", "a/b/c", True),
    ("+/+", "a/b", True),
    ("+", "a/b", False),
    ("#", "$SYS/broker", False),
    ("a/+", "a/", True),
])
def test_matching_follows_mqtt(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected


@pytest.mark.parametrize("bad", ["", "a/#/b", "a/b#", "a/+b", "a\x00b"])
def test_invalid_filters_are_refused_with_the_reason(bad: str) -> None:
    with pytest.raises(TopicError):
        check_filter(bad)


def test_index_routes_exact_and_wildcard_topics() -> None:
    index: TopicIndex[str] = TopicIndex()
    index.add("plant/mill/temp", "exact")
    index.add("plant/+/temp", "any machine")
    index.add("plant/#", "everything")
    assert index.lookup("plant/mill/temp") == ("exact", "any machine", "everything")
    assert index.lookup("plant/lathe/temp") == ("any machine", "everything")
    assert index.lookup("plant/lathe/temp") == ("any machine", "everything")  # cached answer
    assert index.lookup("other/topic") == ()
    assert list(index.filters()) == ["plant/mill/temp", "plant/+/temp", "plant/#"]


def test_selectors_pick_one_value_or_say_what_is_missing() -> None:
    document = {"a": {"b": [10, {"c": 3}]}, "motor 1": {"t": 5}, "list": [1, 2]}
    assert Selector("$").select(document) is document
    assert Selector("$.a.b[0]").select(document) == 10
    assert Selector("$.a.b[1].c").select(document) == 3
    assert Selector("$['motor 1'].t").select(document) == 5
    assert Selector('$["list"][-1]').select(document) == 2
    with pytest.raises(Missing, match="field 'x'"):
        Selector("$.a.x").select(document)
    with pytest.raises(Missing, match="index"):
        Selector("$.list[5]").select(document)
    with pytest.raises(Missing, match="expected an object"):
        Selector("$.list.x").select(document)
    for text in ("a.b", "$.a[", "$..a", "$.*", "$[?(@.a)]"):
        with pytest.raises(SelectorError):
            Selector(text)


def test_payload_timestamps_in_seconds_milliseconds_microseconds_and_iso() -> None:
    assert payloads.epoch_seconds(1_700_000_000) == 1_700_000_000
    assert payloads.epoch_seconds(1_700_000_000_250) == 1_700_000_000.25
    assert payloads.epoch_seconds(1_700_000_000_250_000) == 1_700_000_000.25
    assert payloads.epoch_seconds("1700000000.5") == 1_700_000_000.5
    iso = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC).timestamp()
    assert payloads.epoch_seconds("2024-01-02T03:04:05Z") == iso
    assert payloads.epoch_seconds("2024-01-02T04:04:05+01:00") == iso
    assert payloads.epoch_seconds("2024-01-02T03:04:05") == iso  # no offset: UTC
    for bad in ("yesterday", True, -5, [1], float("nan")):
        with pytest.raises(payloads.PayloadError):
            payloads.epoch_seconds(bad)


def test_json_and_text_errors_name_the_problem() -> None:
    with pytest.raises(payloads.PayloadError, match="not JSON"):
        payloads.parse_json(b"{oops")
    with pytest.raises(payloads.PayloadError, match="null"):
        payloads.select(Selector("$.v"), {"v": None})
    with pytest.raises(payloads.PayloadError, match="UTF-8"):
        payloads.text(b"\xff\xfe")


def test_plant_file_errors_are_reported_by_validation() -> None:
    with pytest.raises(ValidationError, match="'#' must be a whole level"):
        MqttPoint(topic="plant/#/x")
    with pytest.raises(ValidationError, match="must start with"):
        MqttPoint(topic="plant/x", value="temp")
    with pytest.raises(ValidationError, match="metric name"):
        MqttPoint(topic="spBv1.0/G/+/N", payload="sparkplug")
    with pytest.raises(ValidationError, match=r"spBv1\.0/<group>"):
        MqttPoint(topic="plant/x", payload="sparkplug", value="Temperature")
    with pytest.raises(ValidationError, match="wildcards are allowed in subscriptions only"):
        MqttPoint(topic="plant/x", command_topic="plant/+/cmd")
    with pytest.raises(ValidationError, match="client_id"):
        MqttSource(name="b", clean_session=False)
