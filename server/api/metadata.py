"""``PATCH .../$metadata``: copy a body's metadata attributes onto the stored submodel or element."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from basyx.aas import model

from twinbridge.aas.errors import InvalidInput

SUBMODEL_METADATA = (
    "id_short", "display_name", "category", "description", "administration", "semantic_id",
    "supplemental_semantic_id", "qualifier", "extension", "embedded_data_specifications", "kind",
)
ELEMENT_METADATA = (
    "category", "description", "display_name", "semantic_id", "supplemental_semantic_id", "qualifier",
    "extension", "embedded_data_specifications",
)


def copy_metadata(target: model.Referable, source: model.Referable, fields: Iterable[str]) -> None:
    """Copy metadata attributes (not values, not children) from a parsed body onto the stored object.

    basyx checks some constraints only when attributes are set one by one (AASd-118: no
    supplementalSemanticId without a semanticId); if one fails, every field is put back and
    the body is refused, so the stored object never ends up half-updated.
    """
    present = [field for field in fields if hasattr(source, field)]
    before = {field: _detached(getattr(target, field)) for field in present}
    try:
        for field in present:
            _assign(target, field, _detached(getattr(source, field)))
    except (model.AASConstraintViolation, ValueError, TypeError) as error:
        for field, value in before.items():
            _assign(target, field, value)
        raise InvalidInput(f"{getattr(target, 'id_short', None) or 'the object'}: {error}") from None


def _is_collection(value: Any) -> bool:
    return isinstance(value, (model.NamespaceSet, model.ConstrainedList, list, set)) and not isinstance(
        value, model.LangStringSet)


def _detached(value: Any) -> Any:
    """A collection's items as a plain list, taken out of it (a referable has only one parent)."""
    if not _is_collection(value):
        return value
    items = list(value)
    value.clear()
    return items


def _assign(target: model.Referable, field: str, value: Any) -> None:
    current = getattr(target, field)
    if not _is_collection(current):
        setattr(target, field, value)
        return
    current.clear()
    for item in value:
        if isinstance(current, (list, model.ConstrainedList)):
            current.append(item)
        else:
            current.add(item)
