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
import math
import time
from dataclasses import dataclass
from typing import Any, Final

import orjson
from basyx.aas import model

from twinbridge.aas import documents, value_only
from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ChangeKind, DeviceWrite, ObjectKind, StructureChanged, ValueChanged, WriteStage
from twinbridge.aas.twin import Twin
from twinbridge.analytics.alarms import AlarmEvent, AlarmEventKind
from twinbridge.server.api.ids import encode_id

TYPE_PREFIX: Final = "io.admin-shell.events.v1."
DATASCHEMA_PREFIX: Final = (
    "https://api.swaggerhub.com/domains/Plattform_i40/Part1-MetaModel-Schemas/V3.1.0#/components/schemas/"
)
EVENT_TYPES: Final = ("created", "updated", "deleted", "valueChanged", "writeRequested", "writeAccepted",
                      "writeRefused", "alarmRaised", "alarmCleared")
"""The short names a client filters on (``types=valueChanged,deleted``). The write and alarm
types extend the async-aas vocabulary in its own naming (FA³ST has none for them)."""

KIND_TYPES: Final = {
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
MODEL_TYPES: Final = {
    ObjectKind.SHELL: "AssetAdministrationShell",
    ObjectKind.SUBMODEL: "Submodel",
    ObjectKind.CONCEPT_DESCRIPTION: "ConceptDescription",
}


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
    resource: str | None = None
    """The source below the API base when it is not a shell, submodel or element (``/alarms/7``)."""

    def source(self, base_url: str) -> str:
        if self.resource is not None:
            return base_url + self.resource
        key = (base_url, self.object_kind, self.identifier, self.path)
        source = _SOURCES.get(key)
        if source is None:
            if len(_SOURCES) >= 100_000:  # bounded; a plant has fewer elements than that
                _SOURCES.clear()
            source = f"{base_url}/{_COLLECTIONS[self.object_kind]}/{encode_id(self.identifier)}"
            if self.path is not None:
                source = f"{source}/submodel-elements/{self.path}"
            _SOURCES[key] = source
        return source

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


    def json(self, event_id: str, base_url: str) -> bytes:
        """``encode`` as JSON bytes. A value event with data is spliced from a template cached
        per element (everything but id, time and data is the same each time): a third of the
        cost of building the dict and dumping it whole, the largest share of publishing."""
        if self.type != "valueChanged" or self.data is None:
            return orjson.dumps(self.encode(event_id, base_url))
        key = (base_url, self.identifier, self.path, self.model_type, self.semantic_id, self.quality, self.origin)
        head, middle, before_data, end = _template(key, self)
        return b"".join((head, event_id.encode(), middle, _rfc3339(self.time).encode(), before_data,
                         orjson.dumps(self.data), end))


def _template(key: _TemplateKey, event: TwinEvent) -> tuple[bytes, bytes, bytes, bytes]:
    """The value event's JSON around its id, time and data, from ``event``'s encoding (cached)."""
    template = _TEMPLATES.get(key)
    if template is None:
        if len(_TEMPLATES) >= 100_000:
            _TEMPLATES.clear()
        whole = orjson.dumps(event.encode("\x00", key[0]) | {"time": "\x01", "data": None})
        head, _, rest = whole.partition(b'"\\u0000"')
        middle, _, tail = rest.partition(b'"\\u0001"')
        before_data, _, end = tail.rpartition(b"null")
        template = _TEMPLATES[key] = (head + b'"', b'"' + middle + b'"', b'"' + before_data, end)
    return template


def value_json(change: ValueChanged, event_id: str, base_url: str) -> bytes:
    """``value_event(change).json(...)`` without making the event (the MQTT publisher's hot path)."""
    handle = change.element
    element = handle.element
    if element is None:
        return value_event(change).json(event_id, base_url)
    origin = change.origin
    key = (base_url, handle.submodel_id, handle.path, type(element).__name__, handle.semantic_id,
           change.quality._value_, None if origin is None else f"{origin.channel}:{origin.who}")
    template = _TEMPLATES.get(key)
    if template is None:
        template = _template(key, value_event(change))
    head, middle, before_data, end = template
    data = value_only.property_value(change.value) if type(element) is model.Property \
        else value_only.to_value(element)
    return b"".join((head, event_id.encode(), middle, _rfc3339(change.timestamp).encode(), before_data,
                     orjson.dumps(data), end))


class ValueEncoder:
    """``value_json`` for runs of value events (the MQTT publisher's and SSE's hot loop): the
    template is found by the live element, quality and origin objects themselves (no 7-tuple of
    strings per event, no origin string formatted per event), the time's whole second is cached,
    and a plain float/int/str/bool is dumped without ``property_value``'s isinstance chain.
    Measured: see BENCHMARKS.md (2026-11-30, events3)."""

    __slots__ = ("_prefix", "_second", "_templates", "base_url")

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._templates: dict[tuple[object, object, object], tuple[bytes, bytes, bytes, bytes] | None] = {}
        self._second = -1
        self._prefix = b""

    def encode(self, change: ValueChanged, event_id: bytes) -> bytes:
        handle = change.element
        key = (handle, change.quality._value_, change.origin)  # an Enum hashes in Python: its value
        templates = self._templates
        template = templates.get(key)
        if template is None and key not in templates:
            if len(templates) >= 100_000:
                templates.clear()
            element = handle.element
            template = templates[key] = None if type(element) is not model.Property else _template(
                (self.base_url, handle.submodel_id, handle.path, "Property", handle.semantic_id, change.quality._value_,
                 None if change.origin is None else f"{change.origin.channel}:{change.origin.who}"),
                value_event(change))
        if template is None:  # not a Property (a Range, a File ...): the general path
            return value_json(change, event_id.decode(), self.base_url)
        value: Any = change.value
        kind = type(value)
        if kind is float:
            data = orjson.dumps(value) if math.isfinite(value) else orjson.dumps(value_only.property_value(value))
        elif kind is int or kind is str or kind is bool:
            data = orjson.dumps(value)
        else:
            data = orjson.dumps(value_only.property_value(value))
        timestamp = change.timestamp
        second = int(timestamp)
        if second != self._second:
            self._second, self._prefix = second, _rfc3339(float(second))[:-1].encode()
        micro = round((timestamp - second) * 1_000_000)
        if micro == 0:
            moment = self._prefix + b"Z"
        elif micro < 1_000_000:
            moment = b"%s.%06dZ" % (self._prefix, micro)
        else:  # rounding reached the next second
            moment = _rfc3339(timestamp).encode()
        head, middle, before_data, end = template
        return b"".join((head, event_id, middle, moment, before_data, data, end))


_SOURCES: dict[tuple[str, ObjectKind, str, str | None], str] = {}
"""Part 2 URLs by (base, kind, id, path): base64url per event was a measurable share of encoding."""
_TemplateKey = tuple[str, str, str | None, str | None, str | None, str | None, str | None]
_TEMPLATES: dict[_TemplateKey, tuple[bytes, bytes, bytes, bytes]] = {}
_SECOND: list[Any] = [None, ""]
"""The last whole second formatted (events come in bursts within one second)."""


def _rfc3339(timestamp: float | None) -> str:
    """RFC 3339 UTC as ``datetime.isoformat`` writes it (microseconds when not zero), with ``Z``."""
    if timestamp is None:
        timestamp = time.time()
    second = int(timestamp // 1)
    if _SECOND[0] != second:
        _SECOND[0], _SECOND[1] = second, datetime.datetime.fromtimestamp(second, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%S")
    micro = round((timestamp - second) * 1_000_000)
    if micro >= 1_000_000:  # rounding reached the next second
        return str(datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat()).replace("+00:00", "Z")
    return f"{_SECOND[1]}.{micro:06d}Z" if micro else f"{_SECOND[1]}Z"


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
                     model_type, handle.semantic_id, change.quality._value_,  # .value: a slow property
                     None if origin is None else f"{origin.channel}:{origin.who}")


def write_event(write: DeviceWrite) -> TwinEvent:
    """writeRequested / writeAccepted / writeRefused of a client write to a device-fed element;
    ``data`` holds the value written (ValueOnly) and, when refused, the reason."""
    handle = write.element
    data: dict[str, Any] = {"value": None if write.value is None else value_only.property_value(write.value)
                            if isinstance(handle.element, model.Property) else _value_of(handle.element)}
    if write.reason is not None:
        data["reason"] = write.reason
    origin = write.origin
    return TwinEvent(_WRITE_TYPES[write.stage], ObjectKind.SUBMODEL, handle.submodel_id, handle.path,
                     write.timestamp, data, None if handle.element is None else type(handle.element).__name__,
                     handle.semantic_id, None, None if origin is None else f"{origin.channel}:{origin.who}")


_WRITE_TYPES: Final = {WriteStage.REQUESTED: "writeRequested", WriteStage.ACCEPTED: "writeAccepted",
                       WriteStage.REFUSED: "writeRefused"}


def _value_of(element: model.SubmodelElement | None) -> Any:
    return None if element is None else value_only.to_value(element)


def alarm_event(event: AlarmEvent) -> TwinEvent | None:
    """alarmRaised / alarmCleared of an analytics alarm (its source is ``/alarms/{id}``); None for
    acknowledgements and confirmations, which are operator actions, not changes of the machine."""
    if event.kind not in (AlarmEventKind.RAISED, AlarmEventKind.CLEARED):
        return None
    alarm = event.alarm
    rule = alarm.rule
    data = {"id": alarm.id, "source": alarm.source, "rule": rule.name, "severity": int(rule.severity),
            "message": rule.message, "value": alarm.value, "state": alarm.state.value}
    short = "alarmRaised" if event.kind is AlarmEventKind.RAISED else "alarmCleared"
    return TwinEvent(short, ObjectKind.SUBMODEL, alarm.source, None, event.timestamp, data, None,
                     resource=f"/alarms/{alarm.id}")


def structure_event(change: StructureChanged, twin: Twin, with_data: bool = True) -> TwinEvent:
    """created/updated/deleted; ``data`` is the object's AAS JSON as it is *now* (absent when
    deleted, or gone again by the time the event is sent)."""
    short = KIND_TYPES[change.kind]
    data: Any = None
    model_type = MODEL_TYPES[change.object_kind] if change.path is None else None
    semantic_id = None
    if change.kind is not ChangeKind.DELETED:
        obj = _current(twin, change)
        if obj is not None:
            model_type = type(obj).__name__
            semantic_id = first_key(obj)
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


def first_key(obj: model.Referable) -> str | None:
    reference = getattr(obj, "semantic_id", None)
    if not isinstance(reference, model.Reference) or not reference.key:
        return None
    return str(reference.key[0].value)

