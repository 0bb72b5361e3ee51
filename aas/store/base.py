"""The storage interface of the twin.

Identifiables are stored as their AAS JSON documents (bytes), supplementary files
(attachments, thumbnails, AASX packages) as blobs under a name. A backend only has to
keep those two tables durable; all modelling stays in the twin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from twinbridge.aas.events import ObjectKind


class Store(Protocol):
    def load_documents(self) -> Iterator[tuple[ObjectKind, str, bytes]]:
        """Every stored identifiable as (kind, identifier, JSON document)."""
        ...

    def save_document(self, kind: ObjectKind, identifier: str, document: bytes) -> None: ...

    def delete_document(self, kind: ObjectKind, identifier: str) -> None: ...

    def save_file(self, name: str, content_type: str, data: bytes) -> None: ...

    def load_file(self, name: str) -> tuple[str, bytes] | None:
        """(content type, bytes) of a stored file, or None."""
        ...

    def delete_file(self, name: str) -> None: ...

    def file_names(self, prefix: str = "") -> list[str]: ...

    def batch(self) -> AbstractContextManager[None]:
        """Group many writes into one durable commit (imports)."""
        ...

    def close(self) -> None: ...
