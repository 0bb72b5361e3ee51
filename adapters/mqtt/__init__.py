"""MQTT southbound adapter (``kind: mqtt``): text, JSON and Sparkplug B payloads from one broker per source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from twinbridge.adapters.config import Binding
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource
from twinbridge.adapters.registry import Adapter, AdapterKind

if TYPE_CHECKING:
    from twinbridge.aas.twin import Twin


def create(source: MqttSource, bindings: Sequence[tuple[str, Binding]], twin: Twin) -> Adapter:
    # imported here: reading or validating a plant file does not need aiomqtt
    from twinbridge.adapters.mqtt.adapter import MqttAdapter

    return MqttAdapter(source, bindings, twin)


KIND = AdapterKind(kind="mqtt", label="MQTT", source=MqttSource, point=MqttPoint, factory=create)
