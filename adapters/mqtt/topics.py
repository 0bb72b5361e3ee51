"""MQTT topic filters and the index that routes an incoming topic to its bindings.

Exact topics are a dict lookup. Wildcard filters are matched once per distinct topic and the
answer is cached, so a plant that publishes on a stable set of topics pays the wildcard walk
only the first time a topic is seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

_CACHE_LIMIT = 65_536
"""Distinct topics remembered for wildcard matches; beyond that the cache starts over."""


class TopicError(ValueError):
    """A topic filter breaks the MQTT rules (MQTT 3.1.1 §4.7)."""


def check_filter(topic_filter: str) -> str:
    """``topic_filter`` if it is a valid subscription filter, else TopicError saying what is wrong."""
    if not topic_filter:
        raise TopicError("a topic filter cannot be empty")
    if "\x00" in topic_filter:
        raise TopicError(f"topic filter {topic_filter!r} contains a NUL character")
    if len(topic_filter.encode()) > 65_535:
        raise TopicError("a topic filter is at most 65535 bytes long")
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise TopicError(f"topic filter {topic_filter!r}: '#' must be a whole level and the last one")
        if "+" in level and level != "+":
            raise TopicError(f"topic filter {topic_filter!r}: '+' must be a whole level")
    return topic_filter


def check_topic(topic: str) -> str:
    """``topic`` if it is a valid topic name to publish to (no wildcards)."""
    if not topic:
        raise TopicError("a topic cannot be empty")
    if "+" in topic or "#" in topic:
        raise TopicError(f"topic {topic!r}: wildcards are allowed in subscriptions only")
    if "\x00" in topic:
        raise TopicError(f"topic {topic!r} contains a NUL character")
    return topic


def is_wildcard(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching; topics starting with '$' are not matched by a leading wildcard."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    wanted = topic_filter.split("/")
    levels = topic.split("/")
    for index, part in enumerate(wanted):
        if part == "#":
            return True
        if index >= len(levels):
            return False
        if part != "+" and part != levels[index]:
            return False
    return len(wanted) == len(levels)


class TopicIndex(Generic[T]):
    """Routes: topic filter → values (bindings). ``lookup(topic)`` returns every value whose
    filter matches, as a tuple (empty when nobody bound the topic)."""

    def __init__(self) -> None:
        self._exact: dict[str, tuple[T, ...]] = {}
        self._wildcards: list[tuple[str, T]] = []
        self._cache: dict[str, tuple[T, ...]] = {}

    def add(self, topic_filter: str, value: T) -> None:
        check_filter(topic_filter)
        if is_wildcard(topic_filter):
            self._wildcards.append((topic_filter, value))
        else:
            self._exact[topic_filter] = (*self._exact.get(topic_filter, ()), value)
        self._cache.clear()

    def filters(self) -> Iterable[str]:
        """Every distinct filter, in the order added (what to subscribe to)."""
        seen: dict[str, None] = dict.fromkeys(self._exact)
        seen.update((topic_filter, None) for topic_filter, _ in self._wildcards)
        return list(seen)

    def lookup(self, topic: str) -> tuple[T, ...]:
        found = self._cache.get(topic)
        if found is not None:
            return found
        if not self._wildcards:
            return self._exact.get(topic, ())
        found = self._exact.get(topic, ()) + tuple(
            value for topic_filter, value in self._wildcards if matches(topic_filter, topic)
        )
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[topic] = found
        return found
