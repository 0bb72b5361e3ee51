"""Small post-edits of OPC (ZIP) packages that basyx wrote or will read."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

_STRUCTURE_PARTS = {"/[content_types].xml", "/aasx/aasx-origin", "/docprops/core.xml"}


def is_structure_part(name: str) -> bool:
    """Parts that make up the package itself rather than carry a supplementary file."""
    lowered = name.lower()
    return "/_rels/" in lowered or lowered.endswith(".rels") or lowered in _STRUCTURE_PARTS


_TARGET = re.compile(rb"""(\sTarget\s*=\s*)(["'])(/[^"']*)\2""")


def rewrite(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """The package with each entry ``change`` returns new bytes for replaced, others copied as
    they are; ``data`` itself when nothing changed.

    Inflates every entry: call only on packages that passed the zip-bomb checks, or our own.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        changed: dict[str, bytes] = {}
        for entry in package.infolist():
            replacement = change(entry.filename, package.read(entry))
            if replacement is not None:
                changed[entry.filename] = replacement
        if not changed:
            return data
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as copy:
            for entry in package.infolist():
                content = changed.get(entry.filename)
                copy.writestr(entry, content if content is not None else package.read(entry))
    return buffer.getvalue()


def exact_relationship_targets(data: bytes) -> bytes:
    """Relationship targets spelled exactly like the parts they point to.

    pyecma376_2 (under basyx's AASXWriter) lower-cases aas-suppl targets (``/TestFile.pdf`` →
    ``/testfile.pdf``). OPC compares part names case-insensitively, but aas-test-engines and
    plain ZIP readers do not, and then report the attachment as missing.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        spelled = {"/" + name.lower(): "/" + name for name in package.namelist()}

    def fix(match: re.Match[bytes]) -> bytes:
        target = match[3].decode()
        exact = spelled.get(target.lower(), target)
        return match[1] + match[2] + exact.encode() + match[2]

    def change(name: str, content: bytes) -> bytes | None:
        if not name.endswith(".rels"):
            return None
        fixed = _TARGET.sub(fix, content)
        return fixed if fixed != content else None

    return rewrite(data, change)
