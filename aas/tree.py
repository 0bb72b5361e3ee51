"""Element surgery inside a submodel (add, swap in place, remove) and replay of the element log.

The twin's structural writes and the store's log replay at load do the same operations, so
they share these functions: what was applied in memory is exactly what replays from disk.
"""

from __future__ import annotations

import logging
from collections.abc import MutableSet

from basyx.aas import model

from twinbridge.aas import documents, paths, values
from twinbridge.aas.errors import Conflict, InvalidInput
from twinbridge.aas.store.base import ElementOp, LoggedChange

log = logging.getLogger(__name__)


def container_of(parent: model.Referable, where: str) -> MutableSet[model.SubmodelElement]:
    """The NamespaceSet/OrderedSet holding a container's children."""
    if isinstance(parent, model.Submodel):
        return parent.submodel_element
    if isinstance(parent, (model.SubmodelElementCollection, model.SubmodelElementList)):
        return parent.value
    if isinstance(parent, model.Entity):
        return parent.statement
    if isinstance(parent, model.AnnotatedRelationshipElement):
        return parent.annotation  # type: ignore[return-value]  # DataElements only: basyx refuses others on add
    raise InvalidInput(f"{where} is a {type(parent).__name__} and cannot contain elements")


def add(parent: model.Referable, element: model.SubmodelElement, where: str) -> None:
    if not isinstance(parent, model.SubmodelElementList) and element.id_short is None:
        raise InvalidInput("a new element needs an idShort")
    container = container_of(parent, where)
    try:
        container.add(element)
    except (model.AASConstraintViolation, KeyError, ValueError, TypeError) as error:
        if "already" in str(error) or "duplicate" in str(error).lower():
            raise Conflict(f"{where}: {error}") from None
        raise InvalidInput(f"{where}: {error}") from None


def swap(old: model.SubmodelElement, element: model.SubmodelElement, path: str) -> None:
    """Put ``element`` where ``old`` is, keeping its position; on a constraint error nothing changes."""
    parent = old.parent
    if isinstance(parent, model.SubmodelElementList):
        items = list(parent.value)
        index = items.index(old)
        items[index] = element
        try:
            parent.value.clear()
            for item in items:
                parent.value.add(item)
        except (model.AASConstraintViolation, ValueError, TypeError) as error:
            parent.value.clear()
            for item in [*items[:index], old, *items[index + 1 :]]:
                parent.value.add(item)
            raise InvalidInput(f"{path}: {error}") from None
        return
    if element.id_short != old.id_short:
        raise InvalidInput(f"{path}: the body's idShort {element.id_short!r} differs from the path's {old.id_short!r}")
    container = container_of(parent, path)  # type: ignore[arg-type]
    ordered = list(container)
    container.discard(old)
    try:
        container.add(element)
    except (model.AASConstraintViolation, ValueError, TypeError) as error:
        container.discard(element)
        container.add(old)
        raise InvalidInput(f"{path}: {error}") from None
    _reorder(container, ordered, old, element)


def remove(element: model.SubmodelElement, path: str) -> None:
    container_of(element.parent, path).remove(element)  # type: ignore[arg-type]


def parent_path(path: str) -> str | None:
    """``a.b[2]`` → ``a.b``; a top-level element's parent is the submodel (None)."""
    segments = paths.parse(path)
    return paths.format_path(segments[:-1]) if len(segments) > 1 else None


def replay(submodel: model.Submodel, entries: list[LoggedChange]) -> int:
    """Apply a submodel's element log in order; returns how many entries applied.

    An entry that no longer fits (its path vanished: the log was written by a buggy or newer
    version) is logged and skipped rather than losing the whole submodel.
    """
    applied = 0
    for entry in entries:
        try:
            _replay_one(submodel, entry)
            applied += 1
        except (paths.PathError, InvalidInput, Conflict, ValueError, TypeError, KeyError) as error:
            log.warning("submodel %s: skipping logged %s of %s: %s", submodel.id, entry.op.value, entry.path, error)
    return applied


def _replay_one(submodel: model.Submodel, entry: LoggedChange) -> None:
    op, path = entry.op, entry.path
    if op is ElementOp.ADD:
        where = parent_path(path)
        parent: model.Referable = paths.resolve(submodel, where) if where else submodel
        add(parent, _element(entry), where or "the submodel")
        return
    target = paths.resolve(submodel, path)
    if op is ElementOp.VALUE:
        kind = values.find_value_kind(target)
        if kind is None or entry.body is None:
            raise ValueError(f"a {type(target).__name__} has no logged value")
        kind.load(target, entry.body)
    elif op is ElementOp.REPLACE:
        swap(target, _element(entry), path)
    else:
        remove(target, path)


def _element(entry: LoggedChange) -> model.SubmodelElement:
    if entry.body is None:
        raise ValueError("the entry has no element body")
    element = documents.decode_element(entry.body)
    return element


def _reorder(container: MutableSet[model.SubmodelElement], ordered: list[model.SubmodelElement],
             old: model.SubmodelElement, new: model.SubmodelElement) -> None:
    """NamespaceSets append on add; restore the original order so a PUT does not move the element."""
    items = [new if item is old else item for item in ordered]
    if list(container) == items:
        return
    container.clear()
    for item in items:
        container.add(item)
