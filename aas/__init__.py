"""twinbridge: aas room."""
