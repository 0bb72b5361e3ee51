"""Events published on the change bus.

Value events carry the live element handle itself so consumers need no lookup; structure
events name the identifiable (and the element path inside a submodel) that changed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twinbridge.aas.quality import Quality

if TYPE_CHECKING:
    from twinbridge.aas.live import LiveElement


class ObjectKind(enum.Enum):
    SHELL = "shell"
    SUBMODEL = "submodel"
    CONCEPT_DESCRIPTION = "concept_description"


class ChangeKind(enum.Enum):
    CREATED = "created"
    REPLACED = "replaced"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class StructureChanged:
    """An identifiable, or one element inside a submodel (``path`` set), was added, changed or removed."""

    kind: ChangeKind
    object_kind: ObjectKind
    identifier: str
    path: str | None = None


@dataclass(slots=True)
class ValueChanged:
    """A new (value, source timestamp, quality) for one live element."""

    element: LiveElement
    value: Any
    timestamp: float
    quality: Quality
