"""twinbridge: an Asset Administration Shell interoperability server.

The rooms keep their folders at the top of the repository (``aas/``, ``submodels/``,
``adapters/``, ``server/``); this package maps them into one import namespace so that an
install adds ``twinbridge`` and nothing as generic as ``aas`` or ``server``.
"""

__version__ = "0.2.0"
