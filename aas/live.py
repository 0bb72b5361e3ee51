"""Live element handles: a binding resolves its element once and then writes through this.

A handle survives structural edits: when its submodel is replaced over REST the twin
re-resolves every handle of that submodel by path, and a handle whose element vanished
turns ``element`` to None so updates are dropped instead of writing into a detached object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from basyx.aas import model

from twinbridge.aas.quality import Quality

if TYPE_CHECKING:
    from twinbridge.aas.values import ElementValue

DeviceWriter = Callable[["ElementValue"], Awaitable[None]]
"""Sends a client-written value to the device; raises to refuse it (the message reaches the client)."""


class SubmodelState:
    """Per-submodel bookkeeping the hot path touches without string lookups.

    ``logged`` counts the element-log entries written since the submodel's document was last
    saved whole; past a bound the twin compacts (see ``Twin``).
    """

    __slots__ = ("identifier", "logged", "revision")

    def __init__(self, identifier: str) -> None:
        self.identifier = identifier
        self.revision = 0
        self.logged = 0


def first_semantic_key(element: model.HasSemantics | None) -> str | None:
    """The value of the first key of the element's semanticId (what subscriptions filter on)."""
    reference = element.semantic_id if element is not None else None
    if reference is None or not reference.key:
        return None
    return str(reference.key[0].value)


class LiveElement:
    """A resolved element plus its live metadata (source timestamp and quality).

    ``dirty`` is set by ``Twin.update`` until the next ``flush`` persists the value;
    ``semantic_id`` is computed when the handle is made (and when its element is re-resolved).
    """

    __slots__ = (
        "dirty",
        "element",
        "key",
        "path",
        "quality",
        "semantic_id",
        "state",
        "submodel_id",
        "timestamp",
        "writer",
    )

    def __init__(self, key: int, state: SubmodelState, path: str, element: model.SubmodelElement) -> None:
        self.key = key
        self.state = state
        self.submodel_id = state.identifier
        self.path = path
        self.element: model.SubmodelElement | None = element
        self.semantic_id: str | None = first_semantic_key(element)
        self.timestamp: float | None = None
        self.quality = Quality.GOOD
        self.writer: DeviceWriter | None = None
        self.dirty = False

    @property
    def value_type(self) -> type | None:
        """The Python type of a Property's value (None for other element kinds)."""
        element = self.element
        return element.value_type if isinstance(element, model.Property) else None

    def __repr__(self) -> str:
        return f"<LiveElement {self.submodel_id}#{self.path} {self.quality.value}>"
