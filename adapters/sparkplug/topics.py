"""Sparkplug B topic names: ``spBv1.0/<group>/<message type>/<edge node>[/<device>]``."""

from __future__ import annotations

from typing import NamedTuple

NAMESPACE = "spBv1.0"
NODE_TYPES = frozenset({"NBIRTH", "NDATA", "NDEATH", "NCMD"})
DEVICE_TYPES = frozenset({"DBIRTH", "DDATA", "DDEATH", "DCMD"})


class SparkplugTopicError(ValueError):
    """A topic is not a Sparkplug B edge node or device topic."""


class SparkplugTopic(NamedTuple):
    group: str
    message_type: str
    node: str
    device: str | None


def parse(topic: str) -> SparkplugTopic | None:
    """The parts of a Sparkplug topic, or None when ``topic`` is not one."""
    parts = topic.split("/")
    if parts[0] != NAMESPACE or len(parts) not in (4, 5):
        return None
    return SparkplugTopic(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)


def binding_topic(topic: str) -> SparkplugTopic:
    """The node/device a binding's topic names; the message type level may be ``+`` or any type.

    Examples: ``spBv1.0/Plant1/+/Press7``, ``spBv1.0/Plant1/DDATA/Press7/Spindle``.
    """
    found = parse(topic)
    if found is None:
        raise SparkplugTopicError(
            f"sparkplug topic {topic!r} must look like spBv1.0/<group>/+/<edge node>[/<device>]"
        )
    for label, level in (("group", found.group), ("edge node", found.node), ("device", found.device)):
        if level is not None and (not level or "+" in level or "#" in level):
            raise SparkplugTopicError(f"sparkplug topic {topic!r}: the {label} must be a name, not a wildcard")
    allowed = DEVICE_TYPES if found.device is not None else NODE_TYPES
    if found.message_type != "+" and found.message_type not in allowed:
        raise SparkplugTopicError(
            f"sparkplug topic {topic!r}: message type {found.message_type!r} must be '+' or one of "
            + ", ".join(sorted(allowed))
        )
    return found


def command_topic(group: str, node: str, device: str | None) -> str:
    if device is None:
        return f"{NAMESPACE}/{group}/NCMD/{node}"
    return f"{NAMESPACE}/{group}/DCMD/{node}/{device}"
