"""The plant dashboard: its static build (``static/``, made from ``ui/`` by ``make ui``) and the routes serving it."""
