"""MQTT southbound adapter: text, JSON and Sparkplug B payloads from one broker per source."""

from twinbridge.adapters.mqtt.adapter import MqttAdapter, MqttStats

__all__ = ["MqttAdapter", "MqttStats"]
