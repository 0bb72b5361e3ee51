"""Serialized submodel documents and resolved elements, cached per twin and keyed on ``twin.revision``.

A submodel's revision grows with every change to it, structural or live value, so a cached
entry is valid exactly while the revision it was made at is the current one; nothing has to
invalidate it explicitly. The cache of a twin goes away with the twin.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from basyx.aas import model

from twinbridge.aas.twin import Twin

_LIMIT = 4096
T = TypeVar("T")


class RenderCache:
    """Serialized responses of one twin, each valid for one revision of its submodel."""

    def __init__(self) -> None:
        self.documents: dict[tuple[str, str], tuple[int, bytes]] = {}
        self.elements: dict[tuple[str, str], tuple[int, model.SubmodelElement]] = {}

    def document(self, twin: Twin, submodel_id: str, variant: str, render: Callable[[], Any]) -> bytes:
        """``render()`` as JSON bytes, rendered again only when the submodel's revision moved."""
        return _at_revision(self.documents, (submodel_id, variant), twin.revision(submodel_id),
                            lambda: orjson.dumps(render()))

    def element(self, twin: Twin, submodel_id: str, path: str) -> model.SubmodelElement:
        """The element at ``path``, re-resolved only when the submodel's revision moved."""
        return _at_revision(self.elements, (submodel_id, path), twin.revision(submodel_id),
                            lambda: twin.element(submodel_id, path))


def _at_revision(table: dict[tuple[str, str], tuple[int, T]], key: tuple[str, str], revision: int,
                 make: Callable[[], T]) -> T:
    hit = table.get(key)
    if hit is not None and hit[0] == revision:
        return hit[1]
    value = make()
    if len(table) >= _LIMIT:
        table.clear()
    table[key] = (revision, value)
    return value


_caches: weakref.WeakKeyDictionary[Twin, RenderCache] = weakref.WeakKeyDictionary()


def render_cache(twin: Twin) -> RenderCache:
    cache = _caches.get(twin)
    if cache is None:
        cache = _caches[twin] = RenderCache()
    return cache
