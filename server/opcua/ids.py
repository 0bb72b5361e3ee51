"""Stable NodeIds, derived from ids and idShortPaths, and their one reading back.

``aas:<shell id>``, ``sm:<submodel id>``, ``sm:<submodel id>#<idShortPath>``; fixed children
(``Value``, ``IdShort``...) are ``<element node id>/<child>`` or ``<shell or submodel node
id>#/<child>``. '%' and '#' in ids are percent-escaped and idShortPaths hold no '/', so every
NodeId has exactly one reading (``parse``).
"""

from __future__ import annotations

from typing import NamedTuple

from asyncua import ua

from twinbridge.server.opcua.datatypes import node_id

SHELL, SUBMODEL = "aas:", "sm:"


def escape(identifier: str) -> str:
    return identifier.replace("%", "%25").replace("#", "%23")


def unescape(escaped: str) -> str:
    return escaped.replace("%23", "#").replace("%25", "%")


def shell_node_id(ns: int, shell_id: str) -> ua.NodeId:
    return node_id(f"{SHELL}{escape(shell_id)}", ns)


def submodel_node_id(ns: int, submodel_id: str) -> ua.NodeId:
    return node_id(f"{SUBMODEL}{escape(submodel_id)}", ns)


def element_node_id(ns: int, submodel_id: str, path: str) -> ua.NodeId:
    return node_id(f"{SUBMODEL}{escape(submodel_id)}#{path}", ns)


def shell_node_text(namespace_uri: str, shell_id: str) -> str:
    """The shell's node as an expanded NodeId string (``nsu=<uri>;s=aas:<id>``): what a registry
    descriptor advertises, valid whatever index the namespace gets in a server's session."""
    return f"nsu={namespace_uri};s={SHELL}{escape(shell_id)}"


def submodel_node_text(namespace_uri: str, submodel_id: str) -> str:
    return f"nsu={namespace_uri};s={SUBMODEL}{escape(submodel_id)}"


class ParsedId(NamedTuple):
    """A computed node's id read back: whose it is, the element path ("" for the identifiable
    itself) and the fixed children below it (``("Value",)``, ``("Value", "Keys")``...)."""

    shell: bool
    identifier: str
    path: str
    names: tuple[str, ...]


def parse(identifier: object) -> ParsedId | None:
    """The reading of a string identifier below a shell or submodel; None for anything else."""
    if type(identifier) is not str:
        return None
    cut = identifier.find("#")
    if cut < 0:
        return None
    if identifier.startswith(SUBMODEL):
        shell, owner = False, identifier[len(SUBMODEL):cut]
    elif identifier.startswith(SHELL):
        shell, owner = True, identifier[len(SHELL):cut]
    else:
        return None
    path, *names = identifier[cut + 1:].split("/")
    if (not path and not names) or (shell and path) or "" in names:
        return None
    return ParsedId(shell, unescape(owner), path, tuple(names))
