"""What an edge sends for each change, and how a central applies it (idempotently).

A record is one JSON object; the outbox adds ``seq``:

- ``{"op": "value", "sm": id, "path": p, "value": v, "ts": t, "q": "Good"}``: a Property's new
  value (ValueOnly form), with its source timestamp and quality;
- ``{"op": "put", "kind": "shell|submodel|concept_description", "doc": {...}}``: an identifiable
  as it is now (a created, replaced or changed one; an element edit or a non-Property value
  sends its whole submodel);
- ``{"op": "delete", "kind": ..., "id": ...}``.

Records carry state, not deltas, so applying one twice, or applying a resent run again in
order, leaves the central where one pass would: that makes redelivery harmless.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson
from basyx.aas import model

from twinbridge.aas import documents, value_only
from twinbridge.aas.bus import ChangeBatch
from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ChangeKind, ObjectKind, Origin
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.aas.values import coerce_xs

_KINDS = {kind.value: kind for kind in ObjectKind}


def put(kind: ObjectKind, obj: model.Identifiable) -> bytes:
    return orjson.dumps({"op": "put", "kind": kind.value, "doc": documents.to_jsonable(obj)})


def delete(kind: ObjectKind, identifier: str) -> bytes:
    return orjson.dumps({"op": "delete", "kind": kind.value, "id": identifier})


def snapshot(twin: Twin) -> list[bytes]:
    """Everything the twin holds, as puts (a new edge's first records, or after lost events)."""
    return [put(kind, obj) for kind, table in ((ObjectKind.CONCEPT_DESCRIPTION, twin.concept_descriptions),
                                               (ObjectKind.SUBMODEL, twin.submodels),
                                               (ObjectKind.SHELL, twin.shells)) for obj in table.values()]


def of_batch(twin: Twin, batch: ChangeBatch) -> Iterator[bytes]:
    """The records of one bus batch: structure first (as the bus orders it), then values in order."""
    for change in batch.structure:
        kind, identifier = change.object_kind, change.identifier
        if change.kind is ChangeKind.DELETED and change.path is None:
            yield delete(kind, identifier)
            continue
        with contextlib.suppress(NotFound):  # gone again since: its delete follows in this batch or the next
            yield put(kind, twin.get(kind, identifier))
    for event in batch.values:
        handle = event.element
        element = handle.element
        if element is None:
            continue
        if isinstance(element, model.Property):
            yield orjson.dumps({"op": "value", "sm": handle.submodel_id, "path": handle.path,
                                "value": value_only.property_value(event.value), "ts": event.timestamp,
                                "q": event.quality.value})
        elif handle.submodel_id in twin.submodels:
            yield put(ObjectKind.SUBMODEL, twin.submodels[handle.submodel_id])


def apply(twin: Twin, record: dict[str, Any], origin: Origin) -> None:
    """Apply one record to the central twin; a record about something gone is a no-op."""
    op = record["op"]
    if op == "value":
        try:
            handle = twin.live(record["sm"], record["path"])
        except NotFound:
            return
        element = handle.element
        if not isinstance(element, model.Property):
            return
        value = None if record["value"] is None else coerce_xs(record["value"], element.value_type, handle.path)
        twin.update(handle, value, record["ts"], Quality(record["q"]), origin)
        return
    kind = _KINDS[record["kind"]]
    if op == "delete":
        with contextlib.suppress(NotFound):
            twin.delete(kind, record["id"], origin=origin)
        return
    twin.upsert(documents.decode(orjson.dumps(record["doc"])), origin=origin)
