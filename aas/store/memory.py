"""In-memory store for tests and throw-away runs (``memory:``); it keeps the element log too,
so a Twin reopened over the same MemoryStore replays it exactly as over SQLite."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import (
    Change,
    DeleteDocument,
    DeleteFile,
    LogElement,
    LoggedChange,
    SaveDocument,
    SaveFile,
    StoredDocument,
    content_bytes,
)


class MemoryStore:
    blocking = False
    values_in_place = False

    def __init__(self) -> None:
        self._documents: dict[tuple[ObjectKind, str], bytes] = {}
        self._log: dict[str, list[LoggedChange]] = {}
        self._files: dict[str, tuple[str, bytes]] = {}

    def load(self) -> Iterator[StoredDocument]:
        for (kind, identifier), body in list(self._documents.items()):
            log = list(self._log.get(identifier, ())) if kind is ObjectKind.SUBMODEL else []
            yield StoredDocument(kind, identifier, body, log)

    def load_one(self, kind: ObjectKind, identifier: str) -> StoredDocument | None:
        body = self._documents.get((kind, identifier))
        if body is None:
            return None
        log = list(self._log.get(identifier, ())) if kind is ObjectKind.SUBMODEL else []
        return StoredDocument(kind, identifier, body, log)

    def write(self, changes: Sequence[Change]) -> None:
        for change in changes:
            match change:
                case LogElement(submodel_id, op, path, body):
                    self._log.setdefault(submodel_id, []).append(LoggedChange(op, path, body))
                case SaveDocument(kind, identifier, body):
                    self._documents[(kind, identifier)] = body
                    if kind is ObjectKind.SUBMODEL:
                        self._log.pop(identifier, None)
                case DeleteDocument(kind, identifier):
                    self._documents.pop((kind, identifier), None)
                    if kind is ObjectKind.SUBMODEL:
                        self._log.pop(identifier, None)
                case SaveFile(name, content_type, data):
                    self._files[name] = (content_type, content_bytes(data))
                case DeleteFile(name):
                    self._files.pop(name, None)

    def log_length(self, submodel_id: str) -> int:
        return len(self._log.get(submodel_id, ()))

    def load_file(self, name: str) -> tuple[str, bytes] | None:
        return self._files.get(name)

    def file_names(self, prefix: str = "") -> list[str]:
        return sorted(name for name in self._files if name.startswith(prefix))

    def version(self, kind: ObjectKind, identifier: str) -> int | None:
        return None

    def close(self) -> None:
        self._documents.clear()
        self._log.clear()
