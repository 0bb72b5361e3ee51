"""Eclipse Sparkplug B: payload codec (compiled ``sparkplug_b.proto``), topics and the host session."""
