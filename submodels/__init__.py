"""twinbridge: submodels room."""
