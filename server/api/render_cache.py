"""Rendered JSON bytes of submodels and elements, and resolved element paths, cached per app.

Two clocks decide whether an entry is still good, both read in O(1):

- ``twin.revision(submodel_id)`` grows with every change to the submodel, structural or value:
  a whole submodel document (or a container element, whose rendering holds many values) is
  valid exactly while the revision it was rendered at is current.
- the *structure* revision (``Catalogs.structure_revision``) grows only with structural changes.
  A leaf element's rendering (Property, Range, File...) is valid while the structure revision
  is the same and its value attributes are the very objects it was rendered from; so a value
  write to one Property of a 1,000-element submodel re-renders that Property only, not its
  999 siblings.

Nothing invalidates entries explicitly; a full table is simply cleared.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import orjson
from basyx.aas import model

from twinbridge.aas.twin import Twin

_LIMIT = 4096
T = TypeVar("T")

# The attributes that make up a leaf element's value (everything else changes only structurally).
_VALUE_ATTRIBUTES: dict[type, tuple[str, ...]] = {
    model.Property: ("value",),
    model.MultiLanguageProperty: ("value",),
    model.Range: ("min", "max"),
    model.File: ("value", "content_type"),
    model.Blob: ("value", "content_type"),
    model.ReferenceElement: ("value",),
}


def value_stamp(element: model.SubmodelElement) -> tuple[object, ...] | None:
    """The objects a leaf element's value is made of (compared by identity); None for containers."""
    attributes = _VALUE_ATTRIBUTES.get(type(element))
    if attributes is None:
        return None
    return tuple(getattr(element, name) for name in attributes)


def _same(stamp: tuple[object, ...], other: tuple[object, ...]) -> bool:
    return len(stamp) == len(other) and all(a is b for a, b in zip(stamp, other, strict=True))


class RenderCache:
    """Rendered bytes and resolved elements of one twin (see the module docstring)."""

    def __init__(self) -> None:
        self._documents: dict[tuple[str, str], tuple[int, bytes]] = {}
        self._elements: dict[tuple[str, str, str], tuple[Hashable, model.SubmodelElement,
                                                        tuple[object, ...], bytes]] = {}
        self._resolved: dict[tuple[str, str], tuple[Hashable, model.SubmodelElement]] = {}
        self._structural: dict[tuple[str, str, str], tuple[Hashable, model.SubmodelElement, Any]] = {}

    def document(self, twin: Twin, submodel_id: str, variant: str, render: Callable[[], Any]) -> bytes:
        """``render()`` as JSON bytes, rendered again only when the submodel's revision moved."""
        key = (submodel_id, variant)
        revision = twin.revision(submodel_id)
        hit = self._documents.get(key)
        if hit is not None and hit[0] == revision:
            return hit[1]
        data = orjson.dumps(render())
        _bounded(self._documents)[key] = (revision, data)
        return data

    def resolve(self, twin: Twin, structure: Hashable, submodel_id: str, path: str) -> model.SubmodelElement:
        """The element at ``path``, resolved again only after a structural change of the submodel."""
        key = (submodel_id, path)
        hit = self._resolved.get(key)
        if hit is not None and hit[0] == structure:
            return hit[1]
        element = twin.element(submodel_id, path)
        _bounded(self._resolved)[key] = (structure, element)
        return element

    def element(self, twin: Twin, structure: Hashable, submodel_id: str, path: str, variant: str,
                render: Callable[[model.SubmodelElement], Any]) -> tuple[model.SubmodelElement, bytes]:
        """The element at ``path`` and ``render(element)`` as JSON bytes, cached as the docstring says."""
        element = self.resolve(twin, structure, submodel_id, path)
        stamp = value_stamp(element)
        if stamp is None:
            stamp = (twin.revision(submodel_id),)
        key = (submodel_id, path, variant)
        hit = self._elements.get(key)
        if hit is not None and hit[0] == structure and hit[1] is element and _same(hit[2], stamp):
            return element, hit[3]
        data = orjson.dumps(render(element))
        _bounded(self._elements)[key] = (structure, element, stamp, data)
        return element, data


    def structural(self, twin: Twin, structure: Hashable, submodel_id: str, path: str, variant: str,
                   render: Callable[[model.SubmodelElement], T]) -> T:
        """``render(element)`` of something that only structural changes alter (metadata)."""
        element = self.resolve(twin, structure, submodel_id, path)
        key = (submodel_id, path, variant)
        hit = self._structural.get(key)
        if hit is not None and hit[0] == structure and hit[1] is element:
            return hit[2]  # type: ignore[no-any-return]
        made = render(element)
        _bounded(self._structural)[key] = (structure, element, made)
        return made


def _bounded(table: dict[Any, Any]) -> dict[Any, Any]:
    if len(table) >= _LIMIT:
        table.clear()
    return table

