"""Stable identifiers derived from the base IRI and an asset's path in the plant tree.

Ids never contain generated parts (no UUIDs), so rebuilding the same description yields the
same shells and submodels and external references to them stay valid.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote


@lru_cache(maxsize=65536)
def _segment(text: str) -> str:
    return quote(text, safe="-_.~")


class IdScheme:
    """``<base>aas/Plant/Line1/Press1``, ``<base>asset/...``, ``<base>sm/.../Nameplate``, ``<base>cd/...``."""

    def __init__(self, base_iri: str) -> None:
        self.base = base_iri

    def shell(self, path: tuple[str, ...]) -> str:
        return f"{self.base}aas/{'/'.join(map(_segment, path))}"

    def asset(self, path: tuple[str, ...]) -> str:
        return f"{self.base}asset/{'/'.join(map(_segment, path))}"

    def submodel(self, path: tuple[str, ...], id_short: str) -> str:
        return f"{self.base}sm/{'/'.join(map(_segment, path))}/{_segment(id_short)}"

    def concept(self, name: str) -> str:
        return f"{self.base}cd/{_segment(name)}"
