"""twinbridge: history room (value history, retention, the model journal, backup)."""
