"""idShortPath parsing and resolution (Part 2: dots between idShorts, ``[n]`` for list items).

basyx can resolve paths too, but its errors do not say *which* segment failed; a REST
client deserves "no element 'Speed' in 'Spindle'" rather than a bare KeyError.
"""

from __future__ import annotations

import re
from typing import Any

from basyx.aas import model

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\.")


class PathError(LookupError):
    """The idShortPath is malformed or names an element that does not exist."""


def parse(path: str) -> list[str | int]:
    """Split ``a.b[2].c`` into ``["a", "b", 2, "c"]``; raises PathError on malformed input."""
    if not path:
        raise PathError("the idShortPath is empty")
    segments: list[str | int] = []
    position = 0
    expect_name = True
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None:
            raise PathError(f"malformed idShortPath {path!r} at character {position + 1}")
        name, index, = match.group(1), match.group(2)
        if name is not None:
            if not expect_name:
                raise PathError(f"malformed idShortPath {path!r}: missing '.' before {name!r}")
            segments.append(name)
            expect_name = False
        elif index is not None:
            if not segments:
                raise PathError(f"malformed idShortPath {path!r}: an index needs a list before it")
            segments.append(int(index))
            expect_name = False
        else:
            if expect_name:
                raise PathError(f"malformed idShortPath {path!r}: empty idShort at character {position + 1}")
            expect_name = True
        position = match.end()
    if expect_name:
        raise PathError(f"malformed idShortPath {path!r}: it ends with '.'")
    return segments


def format_path(segments: list[str | int]) -> str:
    out = ""
    for segment in segments:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += f".{segment}" if out else segment
    return out


def children(element: model.Referable) -> list[model.SubmodelElement]:
    """The directly contained elements of a container element (empty for leaves)."""
    if isinstance(element, model.Submodel):
        return list(element.submodel_element)
    if isinstance(element, (model.SubmodelElementCollection, model.SubmodelElementList)):
        return list(element.value)
    if isinstance(element, model.Entity):
        return list(element.statement)
    if isinstance(element, model.AnnotatedRelationshipElement):
        return list(element.annotation)
    return []


def child(parent: model.Referable, segment: str | int, where: str) -> model.SubmodelElement:
    if isinstance(segment, int):
        if not isinstance(parent, model.SubmodelElementList):
            raise PathError(f"{where or 'the submodel'} is not a SubmodelElementList, index [{segment}] is invalid")
        items = parent.value
        if segment >= len(items):
            raise PathError(f"index [{segment}] is out of range in {where} ({len(items)} items)")
        return list(items)[segment] if not isinstance(items, list) else items[segment]
    if isinstance(parent, model.SubmodelElementList):
        raise PathError(f"{where} is a SubmodelElementList: address its items by [index], not {segment!r}")
    container: Any
    if isinstance(parent, model.Submodel):
        container = parent.submodel_element
    elif isinstance(parent, model.SubmodelElementCollection):
        container = parent.value
    elif isinstance(parent, model.Entity):
        container = parent.statement
    elif isinstance(parent, model.AnnotatedRelationshipElement):
        container = parent.annotation  # type: ignore[assignment]
    else:
        raise PathError(f"{where} is a {type(parent).__name__} and has no child elements")
    found = container.get("id_short", segment)
    if found is None:
        raise PathError(f"no element {segment!r} in {where or 'the submodel'}")
    return found  # type: ignore[no-any-return]


def resolve(submodel: model.Submodel, path: str) -> model.SubmodelElement:
    """The element at ``path`` inside ``submodel``; raises PathError naming the failing segment."""
    node: model.Referable = submodel
    done: list[str | int] = []
    for segment in parse(path):
        node = child(node, segment, format_path(done))
        done.append(segment)
    assert isinstance(node, model.SubmodelElement)
    return node


def path_of(element: model.SubmodelElement) -> str:
    """The idShortPath of an element from its submodel (inverse of ``resolve``)."""
    segments: list[str | int] = []
    node: object = element
    while isinstance(node, model.SubmodelElement):
        parent = node.parent
        if isinstance(parent, model.SubmodelElementList):
            segments.append(list(parent.value).index(node))
        else:
            segments.append(node.id_short or "")
        node = parent
    segments.reverse()
    return format_path(segments)
