"""GeneralModelChangeEvents (OPC 10000-3, 9.32.7) for the twin's structure events.

When REST adds, replaces, edits or removes a shell, a submodel or an element, the mirror's nodes
change under a client's feet; a client that browsed once and subscribed would silently hold
NodeIds that are gone. So every batch of structure events the mirror applies becomes one
GeneralModelChangeEvent from the Server object (the notifier every client can subscribe to),
listing each affected node, its type and what happened (Part 3's verbs), and the parent whose
references changed, so a client knows where to re-browse.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from asyncua import Server, ua
from basyx.aas import model

from twinbridge.aas import paths
from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ChangeKind, ObjectKind, StructureChanged
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.compat_asyncua import EventGenerator, model_change_events
from twinbridge.server.opcua.ids import element_node_id, shell_node_id, submodel_node_id
from twinbridge.server.opcua.types import AasTypes

_log = logging.getLogger(__name__)

NODE_ADDED, NODE_DELETED, REFERENCE_ADDED, REFERENCE_DELETED = 1, 2, 4, 8
"""ModelChangeStructureVerbMask (Part 3, Table 43)."""
_REFERENCES = REFERENCE_ADDED | REFERENCE_DELETED
_VERBS = {
    ChangeKind.CREATED: NODE_ADDED | REFERENCE_ADDED,
    ChangeKind.DELETED: NODE_DELETED | REFERENCE_DELETED,
    ChangeKind.REPLACED: NODE_ADDED | NODE_DELETED | _REFERENCES,  # same NodeId, a new node below it
    ChangeKind.UPDATED: _REFERENCES,  # children or fixed slots (Category, SemanticId...) may differ
}
_PARENT_VERBS = {ChangeKind.CREATED: REFERENCE_ADDED, ChangeKind.DELETED: REFERENCE_DELETED}
"""What a parent sees: a reference to a child added or removed (a replaced child keeps its NodeId)."""

Change = tuple[ua.NodeId, ua.NodeId, int]
"""(affected node, its type definition or null, verb mask)."""


class ModelChanges:
    """Turns structure events into ModelChangeStructureDataType entries and fires the event."""

    def __init__(self, twin: Twin, types: AasTypes, environment: ua.NodeId) -> None:
        self._twin = twin
        self._types = types
        self._ns = types.namespace_index
        self._environment = environment
        self._generator: EventGenerator | None = None
        self.emitted = 0
        """Events fired (tests and benchmarks read it)."""

    async def start(self, server: Server) -> None:
        self._generator = await model_change_events(server)

    def changes(self, event: StructureChanged, submodel_parents: Iterable[ua.NodeId] = ()) -> list[Change]:
        """The affected nodes of one structure event; ``submodel_parents`` are the nodes a submodel
        hangs below (its shells or AASEnvironment), before and after the change."""
        verb = _VERBS[event.kind]
        parent_verb = _PARENT_VERBS.get(event.kind)
        if event.object_kind is ObjectKind.SHELL:
            affected = [(shell_node_id(self._ns, event.identifier), self._types.ids["AASAssetAdministrationShellType"],
                         verb)]
            parents = [self._environment]
        elif event.object_kind is ObjectKind.SUBMODEL and event.path is None:
            affected = [(submodel_node_id(self._ns, event.identifier), self._types.ids["AASSubmodelType"], verb)]
            parents = list(dict.fromkeys(submodel_parents))
        elif event.object_kind is ObjectKind.SUBMODEL and event.path:
            affected, parents = self._element(event, verb)
        else:  # concept descriptions are not in the address space
            return []
        if parent_verb is not None:
            affected += [(parent, ua.NodeId(), parent_verb) for parent in parents]
        return affected

    def _element(self, event: StructureChanged, verb: int) -> tuple[list[Change], list[ua.NodeId]]:
        submodel_id, path = event.identifier, event.path or ""
        element = self._found(submodel_id, path) if event.kind is not ChangeKind.DELETED else None
        type_definition = self._types.for_element(element) if element is not None else ua.NodeId()
        affected = [(element_node_id(self._ns, submodel_id, path), type_definition, verb)]
        try:
            segments = paths.parse(path)
        except paths.PathError:
            return affected, []
        parent_path = paths.format_path(segments[:-1])
        parent = element_node_id(self._ns, submodel_id, parent_path) if parent_path \
            else submodel_node_id(self._ns, submodel_id)
        if isinstance(segments[-1], int) and event.kind is not ChangeKind.UPDATED:
            # list items are named by position: the items after this one moved, so the whole list changed
            affected.append((parent, ua.NodeId(), _REFERENCES))
            return affected, []
        return affected, [parent]

    def _found(self, submodel_id: str, path: str) -> model.SubmodelElement | None:
        try:
            return self._twin.element(submodel_id, path)
        except NotFound:
            return None

    async def emit(self, changes: list[Change]) -> None:
        """One GeneralModelChangeEvent listing ``changes`` (nothing when the list is empty)."""
        if not changes or self._generator is None:
            return
        event = self._generator.event
        event.Changes = [ua.ModelChangeStructureDataType(Affected=affected, AffectedType=affected_type, Verb=verb)
                         for affected, affected_type, verb in changes]
        event.Message = ua.LocalizedText(f"{len(changes)} node(s) of the AAS address space changed")
        try:
            await self._generator.trigger()
        except Exception:  # a failed notification must not stop the mirror applying changes
            _log.exception("GeneralModelChangeEvent could not be sent")
            return
        self.emitted += 1

