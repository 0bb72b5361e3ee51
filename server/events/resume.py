"""Resuming a stream with ``Last-Event-ID``: from the hub's log, or from the journal after a restart.

An id of this run (``{boot}-{seq}...``) is a position in the hub's log: the client reads on from
there. An id of an earlier run carries the journal entry its event followed
(``{boot}-{seq}-{journal seq}.{hash prefix}``, see ``hub.py``): the client is replayed, in journal
order, the structural changes and client writes journaled after that entry and before this run's
first event (as the CloudEvents the live stream sent for them), then reads this run's log from its
start. A replayed event's id is ``r-0-{its entry's mark}``, so a client that drops during the
replay resumes from there.

What the journal does not hold cannot be replayed, and the stream says so in a comment: device
values, write requested/accepted/refused and alarms of the earlier run (device values are in the
value history, ``GET /history/...``), entries beyond ``limit`` (the oldest are left out), and this
run's events the log no longer holds. The hash prefix guards against an id from another server or
a rebuilt journal: then the client continues from now, told so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from basyx.aas import model

from twinbridge.aas import documents, paths, tree, value_only
from twinbridge.aas.events import ChangeKind, ObjectKind
from twinbridge.aas.store.base import ElementOp, LoggedChange
from twinbridge.history.journal import Journal
from twinbridge.server.events.hub import EventHub, parse_id
from twinbridge.server.events.model import KIND_TYPES, MODEL_TYPES, TwinEvent, first_key

REPLAYED_BOOT = "r"
"""The boot part of a replayed event's id: never a run's (those are 8 hex digits)."""


@dataclass
class Resume:
    """Where a client starts reading the hub's log, what it is replayed first, and a comment."""

    cursor: int
    note: bytes = b""
    replayed: list[tuple[str, TwinEvent]] = field(default_factory=list)


async def resume(hub: EventHub, last_event_id: str | None, capacity: int, limit: int) -> Resume:
    if not last_event_id:
        return Resume(hub.head)
    parsed = parse_id(last_event_id)
    shown = last_event_id.encode("utf-8", "replace")[:64]
    if parsed is None:
        return Resume(hub.head, b": Last-Event-ID %s is not an event id of this server; continuing from now\n"
                      % shown)
    boot, seq, mark = parsed
    oldest = max(hub.head - min(capacity, hub.size), 0)
    if boot == hub.boot:
        position = min(seq, hub.head)
        if position < oldest:
            return Resume(oldest, b": %d events after Last-Event-ID are no longer held; resuming with the oldest "
                                  b"held\n" % (oldest - position))
        return Resume(position)
    journal = hub.journal
    if journal is None or mark is None:
        return Resume(hub.head, b": Last-Event-ID %s is not from this run of the server and there is no journal to "
                                b"replay from; continuing from now\n" % shown)
    number = await asyncio.to_thread(journal.holds, mark)
    if number is None or number > hub.start_mark:
        return Resume(hub.head, b": Last-Event-ID %s names no entry of this server's journal; continuing from now\n"
                      % shown)
    replayed = await asyncio.to_thread(lambda: list(journal_events(journal, journal.read(number, hub.start_mark))))
    note = b": replayed %d structural changes and client writes of an earlier run from the journal; device " \
           b"values, write requests and alarms of that run are not replayed (device values: GET /history)\n" \
           % min(len(replayed), limit)
    if len(replayed) > limit:
        note += b": %d older journaled changes after Last-Event-ID are left out (more than %d)\n" % (
            len(replayed) - limit, limit)
        replayed = replayed[-limit:]
    if oldest > 0:
        note += b": %d events of this run are no longer held; resuming with the oldest held\n" % oldest
    return Resume(oldest, note, replayed)


def journal_events(journal: Journal, entries: Iterable[dict[str, Any]]) -> Iterator[tuple[str, TwinEvent]]:
    """(event id, event) for each journal entry, as the live stream sent it. A value write's entry
    holds the element's log form (or, every so often, the whole submodel): the submodel is kept
    decoded while replaying, so each write costs one element update, not a document read."""
    submodels: dict[str, model.Submodel] = {}
    for fields in entries:
        try:
            found = _event(journal, fields, submodels)
        except (KeyError, ValueError, TypeError, paths.PathError):
            continue  # an entry this version cannot read: the journal's verify reports it
        if found is not None:
            yield f"{REPLAYED_BOOT}-0-{fields['seq']}.{str(fields['hash'])[:8]}", found


def _event(journal: Journal, fields: dict[str, Any], submodels: dict[str, model.Submodel]) -> TwinEvent | None:
    action, kind, identifier = str(fields["action"]), ObjectKind(fields["kind"]), str(fields["id"])
    path, moment = fields.get("path"), float(fields["time"])
    origin = f"{fields['channel']}:{fields['who']}"
    if action == "value-written":
        submodel = _written(journal, fields, submodels, identifier, moment)
        if submodel is None or path is None:
            return None
        element = paths.resolve(submodel, path)
        return TwinEvent("valueChanged", kind, identifier, path, moment, value_only.to_value(element),
                         type(element).__name__, first_key(element), "Good", origin)
    document = fields.get("document")
    if action == "baseline":
        # Start-up snapshot: a change only if the object differs from what the journal held before
        # (edited outside the server while it was down); then as a consumer would have seen it.
        before = journal.document_at(kind, identifier, moment - 1e-6)
        if document is None or (before is not None and orjson.loads(before) == document):
            return None
        action = ChangeKind.UPDATED.value if before is not None else ChangeKind.CREATED.value
    obj = None if document is None else documents.decode(orjson.dumps(document))
    if isinstance(obj, model.Submodel):
        submodels[identifier] = obj
    elif path is None:
        submodels.pop(identifier, None)
    short = KIND_TYPES[ChangeKind(action)]
    if obj is None or short == "deleted":
        return TwinEvent(short, kind, identifier, path, moment, None, MODEL_TYPES[kind] if path is None else None,
                         None, None, origin)
    target: model.Referable = obj if path is None or not isinstance(obj, model.Submodel) else paths.resolve(obj, path)
    return TwinEvent(short, kind, identifier, path, moment, documents.to_jsonable(target), type(target).__name__,
                     first_key(target), None, origin)


def _written(journal: Journal, fields: dict[str, Any], submodels: dict[str, model.Submodel], identifier: str,
             moment: float) -> model.Submodel | None:
    document = fields.get("document")
    submodel = submodels.get(identifier)
    if document is not None or submodel is None:
        # a checkpoint, or the first write of this submodel in the replay: its state from the journal
        base = orjson.dumps(document) if document is not None \
            else journal.document_at(ObjectKind.SUBMODEL, identifier, moment)
        obj = None if base is None else documents.decode(base)
        if not isinstance(obj, model.Submodel):
            return None
        submodels[identifier] = obj
        return obj
    tree.replay(submodel, [LoggedChange(ElementOp.VALUE, str(fields["path"]), orjson.dumps(fields["value"]))])
    return submodel
