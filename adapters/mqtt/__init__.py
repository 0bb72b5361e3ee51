"""MQTT southbound adapter (text, JSON and Sparkplug B payloads): ``adapters.mqtt.adapter.MqttAdapter``.

Kept free of imports so ``adapters.config`` can use ``adapters.mqtt.topics`` for validation.
"""
