"""twinbridge: server room."""
