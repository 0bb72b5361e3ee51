"""The AAS XML namespace bridge between basyx 2.2 (metamodel 3.1) and AAS 3.0 documents.

basyx-python-sdk 2.2 reads and writes only ``https://admin-shell.io/aas/3/1``. twinbridge
serves the AAS 3.0 API, and the 3.0 tooling (aas-core3.0, aas-test-engines, AASX Package
Explorer 3.0 packages) uses ``https://admin-shell.io/aas/3/0``; the element structure of the
two schemas is the same for everything basyx emits. So output is moved to 3.0, and 3.0 input
to 3.1 before basyx reads it.

Only namespace *declarations* change (``xmlns="…"`` / ``xmlns:p="…"`` inside a tag), byte for
byte, so the document is not re-parsed and basyx's error messages keep their line numbers.
Text cannot contain ``<``, so element content is never touched (CDATA sections could be; a
declaration-shaped string inside CDATA is the accepted corner case).
"""

from __future__ import annotations

import re

from twinbridge.aas.formats import zip_package

NS_30 = "https://admin-shell.io/aas/3/0"
NS_31 = "https://admin-shell.io/aas/3/1"


def _declaration(namespace: str) -> re.Pattern[bytes]:
    return re.compile(rb"(<[^<>]*?\sxmlns(?::[\w.\-]+)?\s*=\s*)([\"'])" + re.escape(namespace.encode()) + rb"\2")


_DECLARATIONS = {NS_30: _declaration(NS_30), NS_31: _declaration(NS_31)}


def renamed(data: bytes, source: str, target: str) -> bytes:
    """``data`` with its declarations of namespace ``source`` pointing to ``target`` instead."""
    if source.encode() not in data:
        return data
    replacement = target.encode()
    return _DECLARATIONS[source].sub(lambda match: match[1] + match[2] + replacement + match[2], data)


def as_31(data: bytes) -> bytes:
    """The document basyx can read."""
    return renamed(data, NS_30, NS_31)


def as_30(data: bytes) -> bytes:
    """The document AAS 3.0 tools read."""
    return renamed(data, NS_31, NS_30)


def package_renamed(data: bytes, source: str, target: str) -> bytes:
    """An AASX whose XML parts declaring ``source`` declare ``target``; other entries are copied unchanged."""
    marker = source.encode()

    def candidate(name: str) -> bool:
        return name.lower().endswith(".xml") and "_rels/" not in name

    def change(name: str, content: bytes) -> bytes | None:
        return renamed(content, source, target) if marker in content else None

    return zip_package.rewrite(data, change, candidate)
