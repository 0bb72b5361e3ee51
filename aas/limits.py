"""The bounds every input is held to, and the checks at the door that enforce them.

A request or a package is checked completely *before* anything in the twin changes, so a
refusal leaves memory and store exactly as they were. The checks also keep out what the
twin could take but never give back: text the metamodel forbids (an XML or AASX export would
fail for everyone afterwards), nesting deeper than the JSON printer goes (orjson stops at 255
levels), numbers Python will not print (``int`` refuses to render more than 4,300 digits).

``Limits`` carries the configured bounds (``server.rest.limits`` in the plant file); each
refusal names the limit and its configuration key, so an operator knows what to raise.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from basyx.aas import model

from twinbridge.aas.errors import InvalidInput, LimitExceeded
from twinbridge.aas.paths import children

MIB = 1024 * 1024

CONFIG_PREFIX = "server.rest.limits"

# The xs:string production aas-core checks (Part 1, "xs:string"): the XML 1.0 Char set, i.e.
# no control characters but tab, LF and CR, no U+FFFE/U+FFFF, no lone surrogates.
# Where a forbidden character can be in JSON text: a \u escape of a control character, of a
# surrogate or of U+FFFE/U+FFFF, a \b or \f escape, or U+FFFE/U+FFFF in UTF-8. A match (even a
# false one, such as an escaped backslash before "u0001") only means the exact walk runs.
_SUSPECT_ESCAPE = re.compile(rb"\\(?:u00[01][0-9a-fA-F]|[bf]|u[dD][89a-fA-F]|u[fF]{3}[eEfF])")


def _suspect_text(raw: bytes) -> bool:
    if b"\xef\xbf\xbe" in raw or b"\xef\xbf\xbf" in raw:
        return True
    return b"\\" in raw and _SUSPECT_ESCAPE.search(raw) is not None


_HEADER_UNSAFE = re.compile("[\x00-\x1f\x7f]")
_FORBIDDEN_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_NUMERIC_TYPES = frozenset(f"xs:{name}" for name in (
    "decimal", "integer", "long", "int", "short", "byte", "nonNegativeInteger", "positiveInteger",
    "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte", "nonPositiveInteger", "negativeInteger",
    "double", "float"))


@dataclass(frozen=True, slots=True)
class Limits:
    """Configured bounds; the field names are the keys under ``server.rest.limits``."""

    body_bytes: int = 32 * MIB
    """A JSON or XML request body (bigger ones are parsed off the event loop, up to this)."""
    attachment_bytes: int = 64 * MIB
    """An uploaded File attachment."""
    thumbnail_bytes: int = 16 * MIB
    """An uploaded shell thumbnail."""
    package_bytes: int = 256 * MIB
    """An uploaded AASX package or environment file, as sent."""
    package_inflated_bytes: int = 512 * MIB
    """The sum of an AASX package's entries once inflated."""
    package_entries: int = 10_000
    """Entries in one AASX package."""
    package_ratio: int = 200
    """Compression ratio of one AASX entry (entries under 1 MiB are exempt)."""
    package_seconds: float = 10.0
    """Time to inflate an AASX package's entries while checking them."""
    json_depth: int = 128
    """Nesting of a JSON document (objects and arrays)."""
    number_digits: int = 1_000
    """Characters of one number (a JSON number, or an xs:integer/xs:decimal/xs:double value)."""
    path_depth: int = 64
    """Levels of an idShortPath, and of element nesting in a submodel."""
    submodel_elements: int = 100_000
    """Elements in one submodel, counted at every level."""

    def key(self, name: str) -> str:
        return f"{CONFIG_PREFIX}.{name}"


DEFAULT = Limits()

_CURRENT: contextvars.ContextVar[Limits] = contextvars.ContextVar("twinbridge_limits", default=DEFAULT)


def current() -> Limits:
    """The limits in force: the serving app's (set per request), else the defaults."""
    return _CURRENT.get()


@contextlib.contextmanager
def applied(limits: Limits) -> Iterator[None]:
    """``limits`` in force inside the block (and in worker threads started from it)."""
    token = _CURRENT.set(limits)
    try:
        yield
    finally:
        _CURRENT.reset(token)


# ------------------------------------------------------------------ text
def check_text(text: str, where: str) -> None:
    """Refuse a string the metamodel's xs:string pattern forbids."""
    found = _FORBIDDEN_CHARACTER.search(text)
    if found is not None:
        raise InvalidInput(
            f"{where}: the character U+{ord(found.group()):04X} at position {found.start()} is not "
            "allowed in AAS text (xs:string: no control characters but tab, LF and CR, no U+FFFE/U+FFFF, "
            "no unpaired surrogates)"
        )


# ------------------------------------------------------------- JSON trees
def check_json(tree: Any, limits: Limits = DEFAULT, what: str = "the document", raw: bytes | None = None) -> None:
    """Depth, number length and characters of parsed JSON (keys included), iteratively so a
    deep document cannot exhaust Python's stack; ``InvalidInput`` names the first offence.

    With ``raw``, the JSON text ``tree`` was parsed from: one regular expression over it finds
    every place a forbidden character could hide (JSON can carry them only escaped, or U+FFFE/
    U+FFFF raw), and when there is none only the containers are walked, without building a path
    per node (a 16.8 MB element: 1.7 s -> 0.7 s, measured at load 15 on 2 cores).
    """
    if raw is not None and not _suspect_text(raw) and _structure_within(tree, limits):
        return
    _report(tree, limits, what)


def _structure_within(tree: Any, limits: Limits) -> bool:
    """Depth, integers and the typed strings (numeric values, content types) within the limits."""
    bits = limits.number_digits * 3.32
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if type(node) is int:
            if node.bit_length() > bits:
                return False
            continue
        if depth > limits.json_depth:
            return False
        if type(node) is dict:
            if "valueType" in node or "contentType" in node:
                try:
                    _check_typed(node, "", limits, "")
                except InvalidInput:
                    return False
            children: Iterable[Any] = node.values()
        elif type(node) is list:
            children = node
        else:
            continue
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is int and child.bit_length() > bits:
                return False
    return True


def _check_typed(node: dict[str, Any], where: str, limits: Limits, what: str) -> None:
    if node.get("valueType") in _NUMERIC_TYPES:
        for key in ("value", "min", "max"):
            text = node.get(key)
            if isinstance(text, str) and len(text) > limits.number_digits:
                check_number_text(text, f"{what} at {where}.{key}", limits)
    content_type = node.get("contentType")
    if isinstance(content_type, str) and _HEADER_UNSAFE.search(content_type) is not None:
        raise InvalidInput(f"{what} at {where}.contentType: {content_type!r} is not a media type "
                           "(no control characters; it becomes an HTTP header)")


def _report(tree: Any, limits: Limits, what: str) -> None:
    """The walk that names the first offence with its JSON path (slower: a path string per node)."""
    stack: list[tuple[Any, int, str]] = [(tree, 1, "$")]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, str):
            if _FORBIDDEN_CHARACTER.search(node) is not None:
                check_text(node, f"{what} at {where}")
            continue
        if isinstance(node, (int, float)):
            if isinstance(node, int) and not isinstance(node, bool):
                _check_number(node, f"{what} at {where}", limits)
            continue
        if depth > limits.json_depth:
            raise InvalidInput(f"{what} is nested deeper than {limits.json_depth} levels at {where} "
                               f"(limit {limits.key('json_depth')})")
        if isinstance(node, dict):
            _check_typed(node, where, limits, what)
            for key, value in node.items():
                if _FORBIDDEN_CHARACTER.search(key) is not None:
                    check_text(key, f"{what} at {where} (a key)")
                if value is not None:
                    stack.append((value, depth + 1, f"{where}.{key}"))
        elif isinstance(node, list):
            stack.extend((value, depth + 1, f"{where}[{index}]") for index, value in enumerate(node)
                         if value is not None)


def _check_number(value: int, where: str, limits: Limits) -> None:
    if value.bit_length() > limits.number_digits * 3.32:  # log2(10) bits per digit
        raise InvalidInput(f"{where}: a number of more than {limits.number_digits} digits "
                           f"(limit {limits.key('number_digits')})")


def check_number_text(text: str, where: str, limits: Limits = DEFAULT) -> None:
    """A numeric lexical value (xs:integer, xs:decimal...) no longer than the limit."""
    if len(text) > limits.number_digits:
        raise InvalidInput(f"{where}: a number of {len(text)} characters; at most {limits.number_digits} "
                           f"are accepted (limit {limits.key('number_digits')})")


def check_size(size: int, limit: int, what: str, key: str, limits: Limits = DEFAULT) -> None:
    if size > limit:
        raise LimitExceeded(f"{what} is larger than {_bytes(limit)}; refused (limit {limits.key(key)})")


def _bytes(count: int) -> str:
    return f"{count // MIB} MiB" if count >= MIB and count % MIB == 0 else f"{count} bytes"


# ------------------------------------------------------------ model trees
def count_and_depth(root: model.Referable) -> tuple[int, int]:
    """Elements below ``root`` (itself included unless it is a submodel) and its nesting depth."""
    count, deepest = 0, 0
    stack: list[tuple[model.Referable, int]] = [(child, 1) for child in children(root)]
    if not isinstance(root, model.Submodel):
        stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children(element))
    return count, deepest


def check_submodel(submodel: model.Submodel, limits: Limits = DEFAULT) -> None:
    """A whole submodel within ``path_depth`` and ``submodel_elements``."""
    count, depth = count_and_depth(submodel)
    _check_shape(count, depth, f"submodel {submodel.id!r}", limits)


def check_new_element(submodel: model.Submodel, parent_depth: int, element: model.SubmodelElement,
                      replaced: model.SubmodelElement | None = None, limits: Limits = DEFAULT) -> None:
    """Adding ``element`` ``parent_depth`` levels down (replacing ``replaced``) keeps the submodel
    within the limits."""
    added, depth = count_and_depth(element)
    removed = count_and_depth(replaced)[0] if replaced is not None else 0
    if parent_depth + depth > limits.path_depth:
        raise InvalidInput(f"the element would sit {parent_depth + depth} levels deep in submodel "
                           f"{submodel.id!r}; at most {limits.path_depth} (limit {limits.key('path_depth')})")
    if added - removed > 0:
        existing = count_and_depth(submodel)[0]
        _check_shape(existing + added - removed, 0, f"submodel {submodel.id!r}", limits)


def _check_shape(count: int, depth: int, what: str, limits: Limits) -> None:
    if depth > limits.path_depth:
        raise InvalidInput(f"{what} nests elements {depth} levels deep; at most {limits.path_depth} "
                           f"(limit {limits.key('path_depth')})")
    if count > limits.submodel_elements:
        raise LimitExceeded(f"{what} would hold {count} elements; at most {limits.submodel_elements} "
                            f"(limit {limits.key('submodel_elements')})")


def check_path(path: str, limits: Limits = DEFAULT) -> None:
    """An idShortPath no deeper than ``path_depth`` (counted before it is resolved)."""
    segments = path.count(".") + path.count("[") + 1
    if segments > limits.path_depth:
        raise InvalidInput(f"the idShortPath has {segments} levels; at most {limits.path_depth} "
                           f"(limit {limits.key('path_depth')})")


def check_media_type(content_type: str, where: str) -> None:
    """A content type that can be sent as an HTTP header (File, Blob, thumbnail, upload)."""
    check_text(content_type, where)
    if _HEADER_UNSAFE.search(content_type) is not None:
        raise InvalidInput(f"{where}: {content_type!r} is not a media type (no control characters)")
