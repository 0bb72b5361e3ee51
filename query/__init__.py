"""twinbridge: query room -- the AAS Query Language (IDTA-01002 v3.1) over the twin's repositories.

``syntax`` (the tree), ``json_form`` / ``text_form`` (the two ways to write a query), ``resolve``
and ``evaluate`` (what a query means for one object), ``value_index`` and ``plan`` (answering
without asking every object). Depends on ``aas/`` only; the HTTP routes live in
``server/api/query.py``.
"""
