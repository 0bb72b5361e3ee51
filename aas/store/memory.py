"""In-memory store for tests and throw-away runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext

from twinbridge.aas.events import ObjectKind


class MemoryStore:
    def __init__(self) -> None:
        self._documents: dict[tuple[ObjectKind, str], bytes] = {}
        self._files: dict[str, tuple[str, bytes]] = {}

    def load_documents(self) -> Iterator[tuple[ObjectKind, str, bytes]]:
        for (kind, identifier), document in list(self._documents.items()):
            yield kind, identifier, document

    def save_document(self, kind: ObjectKind, identifier: str, document: bytes) -> None:
        self._documents[(kind, identifier)] = document

    def delete_document(self, kind: ObjectKind, identifier: str) -> None:
        self._documents.pop((kind, identifier), None)

    def save_file(self, name: str, content_type: str, data: bytes) -> None:
        self._files[name] = (content_type, data)

    def load_file(self, name: str) -> tuple[str, bytes] | None:
        return self._files.get(name)

    def delete_file(self, name: str) -> None:
        self._files.pop(name, None)

    def file_names(self, prefix: str = "") -> list[str]:
        return sorted(name for name in self._files if name.startswith(prefix))

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()

    def close(self) -> None:
        self._documents.clear()
