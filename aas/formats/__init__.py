"""Format readers and writers behind ``aas.serialization`` (JSON, XML, AASX)."""
