"""One event model for every northbound channel, encoded as CloudEvents 1.0 (JSON format).

Types, sources and payloads follow the Factory-X async-aas specification that FA³ST's
CloudEvents message bus implements, so a consumer written for FA³ST reads ours unchanged:

- ``type``: ``io.admin-shell.events.v1.created|updated|deleted|valueChanged`` (one vocabulary
  for shells, submodels, elements and concept descriptions; the ``source`` says which).
- ``source``: the resource's Part 2 URL (``{base}/shells/{b64url id}``,
  ``{base}/submodels/{b64url id}/submodel-elements/{idShortPath}``, ...).
- ``dataschema``: the Part 1 schema of the model type; ``semanticid``: the first key of the
  element's semanticId (FA³ST's extension attribute).
- ``data``: for created/updated the object's AAS JSON; absent for deleted (the spec says so);
  for valueChanged the element's value in ValueOnly form (what ``GET .../$value`` answers),
  with the *source* timestamp as ``time`` and the ``quality`` extension (Good/Uncertain/Bad).

Plain dicts following the spec rather than PyPI ``cloudevents``: the library's structured JSON
mode is a thin dict wrapper whose conversion step would run per value event on the hot side
of every stream, and its pydantic v1/v2 shim is one more thing to keep in step; what the spec
requires (specversion, id, source, type) is checked by the tests instead.
"""

from __future__ import annotations

import datetime
import itertools
import os
from dataclasses import dataclass
from typing import Any, Final

from basyx.aas import model

from twinbridge.aas import documents, value_only
from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ChangeKind, ObjectKind, StructureChanged, ValueChanged
from twinbridge.aas.twin import Twin
from twinbridge.server.api.ids import encode_id

TYPE_PREFIX: Final = "io.admin-shell.events.v1."
DATASCHEMA_PREFIX: Final = (
    "https://api.swaggerhub.com/domains/Plattform_i40/Part1-MetaModel-Schemas/V3.1.0#/components/schemas/"
)
EVENT_TYPES: Final = ("created", "updated", "deleted", "valueChanged")
"""The short names a client filters on (``types=valueChanged,deleted``)."""

_KIND_TYPE: Final = {
    ChangeKind.CREATED: "created",
    ChangeKind.REPLACED: "updated",
    ChangeKind.UPDATED: "updated",
    ChangeKind.DELETED: "deleted",
}
_COLLECTIONS: Final = {
    ObjectKind.SHELL: "shells",
    ObjectKind.SUBMODEL: "submodels",
    ObjectKind.CONCEPT_DESCRIPTION: "concept-descriptions",
}
_MODEL_TYPES: Final = {
    ObjectKind.SHELL: "AssetAdministrationShell",
    ObjectKind.SUBMODEL: "Submodel",
    ObjectKind.CONCEPT_DESCRIPTION: "ConceptDescription",
}


class EventIds:
    """Ids unique for the life of the process: ``{boot}-{sequence}``.

    ``boot`` tells a reconnecting client (``Last-Event-ID``) whether its id is from this process;
    resuming from a position needs the history journal and comes with it.
    """

    def __init__(self) -> None:
        self.boot = os.urandom(4).hex()
        self._next = itertools.count(1).__next__

    def next(self) -> str:
        return f"{self.boot}-{self._next()}"


@dataclass(frozen=True, slots=True)
class TwinEvent:
    """What changed, in the words every channel uses; ``encode`` makes the CloudEvent."""

    type: str
    """Short type: one of ``EVENT_TYPES``."""
    object_kind: ObjectKind
    identifier: str
    path: str | None
    time: float | None
    data: Any
    model_type: str | None
    semantic_id: str | None = None
    quality: str | None = None
    origin: str | None = None

    def source(self, base_url: str) -> str:
        source = f"{base_url}/{_COLLECTIONS[self.object_kind]}/{encode_id(self.identifier)}"
        return source if self.path is None else f"{source}/submodel-elements/{self.path}"

    def encode(self, event_id: str, base_url: str) -> dict[str, Any]:
        """The CloudEvent (structured JSON mode) as a dict ready for orjson."""
        cloud: dict[str, Any] = {
            "specversion": "1.0",
            "id": event_id,
            "source": self.source(base_url),
            "type": TYPE_PREFIX + self.type,
            "time": _rfc3339(self.time),
        }
        if self.path is not None:
            cloud["subject"] = self.path
        if self.model_type is not None:
            cloud["dataschema"] = DATASCHEMA_PREFIX + self.model_type
        if self.semantic_id is not None:
            cloud["semanticid"] = self.semantic_id
        if self.quality is not None:
            cloud["quality"] = self.quality
        if self.origin is not None:
            cloud["origin"] = self.origin
        if self.data is not None:
            cloud["datacontenttype"] = "application/json"
            cloud["data"] = self.data
        return cloud


def _rfc3339(timestamp: float | None) -> str:
    moment = datetime.datetime.now(datetime.UTC) if timestamp is None else \
        datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def value_event(change: ValueChanged) -> TwinEvent:
    """``valueChanged`` with the ValueOnly value, the source timestamp and the quality."""
    handle = change.element
    element = handle.element
    data: Any = None
    model_type = None
    if element is not None:
        model_type = type(element).__name__
        # a Property's value is the one the event carries (EVERY mode may deliver it after newer ones)
        data = value_only.property_value(change.value) if isinstance(element, model.Property) \
            else value_only.to_value(element)
    origin = change.origin
    return TwinEvent("valueChanged", ObjectKind.SUBMODEL, handle.submodel_id, handle.path, change.timestamp, data,
                     model_type, handle.semantic_id, change.quality.value,
                     None if origin is None else f"{origin.channel}:{origin.who}")


def structure_event(change: StructureChanged, twin: Twin, with_data: bool = True) -> TwinEvent:
    """created/updated/deleted; ``data`` is the object's AAS JSON as it is *now* (absent when
    deleted, or gone again by the time the event is sent)."""
    short = _KIND_TYPE[change.kind]
    data: Any = None
    model_type = _MODEL_TYPES[change.object_kind] if change.path is None else None
    semantic_id = None
    if change.kind is not ChangeKind.DELETED:
        obj = _current(twin, change)
        if obj is not None:
            model_type = type(obj).__name__
            semantic_id = _first_key(obj)
            if with_data:
                data = documents.to_jsonable(obj)
    origin = change.origin
    return TwinEvent(short, change.object_kind, change.identifier, change.path, None, data, model_type,
                     semantic_id, None, None if origin is None else f"{origin.channel}:{origin.who}")


def _current(twin: Twin, change: StructureChanged) -> model.Referable | None:
    try:
        if change.path is not None:
            return twin.element(change.identifier, change.path)
        return twin.get(change.object_kind, change.identifier)
    except NotFound:
        return None


def _first_key(obj: model.Referable) -> str | None:
    reference = getattr(obj, "semantic_id", None)
    if not isinstance(reference, model.Reference) or not reference.key:
        return None
    return str(reference.key[0].value)

