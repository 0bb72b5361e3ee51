"""Edge to central: an edge instance forwards its twin's changes over MQTT, store-and-forward on disk."""
