"""Builders of IDTA submodel templates, each emitting the template's exact semanticIds and structure."""
