"""twinbridge: adapters room."""
