"""The AAS Part 2 HTTP API (IDTA-01002 v3.0): FastAPI routers over the twin.

``create_app`` in ``server.api.app`` composes them; every route reads and writes through the twin.
"""
