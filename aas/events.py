"""Events published on the change bus.

Value events carry the live element handle itself so consumers need no lookup; structure
events name the identifiable (and the element path inside a submodel) that changed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twinbridge.aas.quality import Quality

if TYPE_CHECKING:
    from twinbridge.aas.live import LiveElement
    from twinbridge.aas.values import ElementValue


@dataclass(frozen=True, slots=True)
class Origin:
    """Who caused a change, so a journal or an event stream can say who changed what.

    ``who`` is the REST token's name, the OPC UA user, the device source's name or an analytics
    function's name; ``channel`` says through which door it came (``rest``, ``opcua``,
    ``device``, ``analytics``, ``import``...). Create one per client or source and reuse it:
    the hot path must not allocate one per value.
    """

    who: str
    channel: str


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
    origin: Origin | None = None


class WriteStage(enum.Enum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class DeviceWrite:
    """A client write on its way to a device: requested, then accepted or refused by the device
    (or refused at once: a device-fed element without write-back). ``reason`` says why refused."""

    stage: WriteStage
    element: LiveElement
    value: ElementValue | None
    origin: Origin | None
    timestamp: float
    reason: str | None = None


@dataclass(slots=True)
class ValueChanged:
    """A new (value, source timestamp, quality) for one live element, of any element kind.

    ``value`` is the element's value in its Python form: a Property's xs value, a
    ``RangeValue``, a ``MultiLanguageTextType``, a ``Reference``, a ``FileValue`` or a
    ``BlobValue`` (see ``twinbridge.aas.values``). ``origin`` is None for device updates that
    came through ``Twin.update`` without one.
    """

    element: LiveElement
    value: ElementValue
    timestamp: float
    quality: Quality
    origin: Origin | None = None
    logged: bytes | None = None
    """The value in element-log form, for client writes (the twin computed it for the store):
    the journal records this write's value, not whatever the element holds when it gets there."""
