"""The journal's file: the form of one entry, the check of the hash chain, and reading it back.

Kept apart from the live ``Journal`` (which follows the bus and appends): ``twinbridge journal
verify`` and ``restore`` check a file with no twin running, through these alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

GENESIS = "0" * 64
"""The ``prev`` of the first entry."""
OPTIONS = orjson.OPT_SORT_KEYS
"""Canonical JSON: the hash must not depend on the order a dict was built in."""


@dataclass(frozen=True, slots=True)
class Broken:
    """The first entry that is not what was written, and why."""

    entry: int  # 1-based line number: the entry's position in the file
    reason: str

    def __str__(self) -> str:
        return f"journal entry {self.entry}: {self.reason}"


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON (sorted keys) of every field but ``hash``."""
    content = {key: value for key, value in fields.items() if key != "hash"}
    return hashlib.sha256(orjson.dumps(content, option=OPTIONS)).hexdigest()


def verify(path: Path) -> tuple[int, Broken | None]:
    """Check the whole chain; returns (entries checked, the first broken entry or None)."""
    previous = GENESIS
    count = 0
    for count, (_, line) in enumerate(lines(path), start=1):
        try:
            fields = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            return count, Broken(count, f"not valid JSON ({error}): edited or truncated")
        if not isinstance(fields, dict) or not isinstance(fields.get("hash"), str):
            return count, Broken(count, "has no hash field: edited")
        if fields.get("seq") != count:
            return count, Broken(count, f"is numbered {fields.get('seq')!r} but stands at position {count}: "
                                        "an entry before it was deleted, or entries were reordered")
        if fields.get("prev") != previous:
            return count, Broken(count, "does not chain to the entry before it (prev hash differs): "
                                        "the entry before it was edited, deleted or reordered")
        if entry_hash(fields) != fields["hash"]:
            return count, Broken(count, "its content does not match its hash: the entry was edited")
        previous = fields["hash"]
    return count, None


def lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(offset, line without newline) for every non-empty line."""
    if not path.exists():
        return
    with path.open("rb") as stream:
        offset = 0
        for line in stream:
            if line.strip():
                yield offset, line.rstrip(b"\n")
            offset += len(line)


def digest(document: Any) -> bytes | None:
    """A comparable digest of a document (key order does not matter): 32 bytes held per object
    instead of its canonical JSON (the whole environment a second time)."""
    return None if document is None else hashlib.sha256(orjson.dumps(document, option=OPTIONS)).digest()


class Limited:
    """A reader that stops at ``size`` bytes (the journal's length when the backup began)."""

    def __init__(self, stream: Any, size: int) -> None:
        self._stream = stream
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = self._stream.read(self._left if n < 0 else min(n, self._left))
        self._left -= len(data)
        return bytes(data)
