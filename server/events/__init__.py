"""Northbound events: what changed in the twin, told to integrators (CloudEvents over SSE and MQTT)."""
