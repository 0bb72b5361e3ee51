"""IDTA 02011-1-1 Hierarchical Structures enabling Bills of Material.

Each shell gets one such submodel whose EntryNode is the asset itself. The archetype decides
what the EntryNode holds, as the template says ("either this or HasPart, not both"):
- OneDown (a shell with parts): a Node per child linked by HasPart, nothing about the parent;
- Full: as OneDown, with each child's own parts nested inside its Node;
- OneUp (a shell without parts): its parent as a Node linked by IsPartOf.
The parent/child edge is therefore stated once from each side of the tree (the parent's
HasPart, the leaf's IsPartOf). Each Node carries ``SameAs``, a RelationshipElement from the
Node to the EntryNode of the other shell's BoM, so a client can walk the tree by reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from basyx.aas import model

from twinbridge.submodels.templates.elements import semantic, submodel

SUBMODEL = "https://admin-shell.io/idta/HierarchicalStructures/1/1/Submodel"
_BASE = "https://admin-shell.io/idta/HierarchicalStructures/"
ENTRY_NODE = f"{_BASE}EntryNode/1/0"
NODE = f"{_BASE}Node/1/0"
HAS_PART = f"{_BASE}HasPart/1/0"
IS_PART_OF = f"{_BASE}IsPartOf/1/0"
SAME_AS = f"{_BASE}SameAs/1/0"
ARCHETYPE = f"{_BASE}ArcheType/1/0"
BULK_COUNT = f"{_BASE}BulkCount/1/0"
ID_SHORT = "HierarchicalStructures"

_Path = list[tuple[model.KeyTypes, str]]


@dataclass(frozen=True)
class Part:
    """Another asset as seen from this BoM: its idShort, globalAssetId and BoM submodel id."""

    id_short: str
    asset_id: str
    bom_id: str
    bulk_count: int = 1
    parts: list[Part] = field(default_factory=list)


def _ref(keys: _Path) -> model.ModelReference[model.Entity]:
    return model.ModelReference(tuple(model.Key(kind, value) for kind, value in keys), model.Entity)


def _same_as(part: Part, node: _Path) -> model.RelationshipElement:
    target = _ref([(model.KeyTypes.SUBMODEL, part.bom_id), (model.KeyTypes.ENTITY, "EntryNode")])
    return model.RelationshipElement("SameAs", _ref(node), target, semantic_id=semantic(SAME_AS))


def _node(part: Part, prefix: _Path, id_short: str, *, with_parts: bool) -> model.Entity:
    path = [*prefix, (model.KeyTypes.ENTITY, id_short)]
    statements: list[model.SubmodelElement] = [
        model.Property("BulkCount", model.datatypes.UnsignedLong, model.datatypes.UnsignedLong(part.bulk_count),
                       semantic_id=semantic(BULK_COUNT)),
        _same_as(part, path),
    ]
    if with_parts:
        statements += _parts(part.parts, path)
    return model.Entity(id_short, model.EntityType.SELF_MANAGED_ENTITY, statements, global_asset_id=part.asset_id,
                        semantic_id=semantic(NODE))


def _parts(parts: list[Part], owner: _Path) -> list[model.SubmodelElement]:
    """Nodes for ``parts`` and the HasPart relationships from ``owner`` to each."""
    elements: list[model.SubmodelElement] = []
    for part in parts:
        elements.append(_node(part, owner, part.id_short, with_parts=True))
        elements.append(model.RelationshipElement(
            f"HasPart_{part.id_short}", _ref(owner), _ref([*owner, (model.KeyTypes.ENTITY, part.id_short)]),
            semantic_id=semantic(HAS_PART)))
    return elements


def build(identifier: str, *, asset_id: str, parts: list[Part], parent: Part | None,
          archetype: str) -> model.Submodel:
    """``archetype`` is "OneDown" or "Full" (``parts`` nested) for shells with parts; a shell without
    parts gets "OneUp" and names its ``parent`` (a root without parts has an EntryNode and nothing else)."""
    entry: _Path = [(model.KeyTypes.SUBMODEL, identifier), (model.KeyTypes.ENTITY, "EntryNode")]
    if parts:
        kind = archetype
        statements = _parts(parts, entry)
    else:
        kind = "OneUp"
        statements = []
        if parent is not None:
            statements.append(_node(parent, entry, parent.id_short, with_parts=False))
            statements.append(model.RelationshipElement(
                "IsPartOf", _ref(entry), _ref([*entry, (model.KeyTypes.ENTITY, parent.id_short)]),
                semantic_id=semantic(IS_PART_OF)))
    entry_node = model.Entity("EntryNode", model.EntityType.SELF_MANAGED_ENTITY, statements,
                              global_asset_id=asset_id, semantic_id=semantic(ENTRY_NODE))
    return submodel(identifier, ID_SHORT, SUBMODEL, [
        model.Property("ArcheType", model.datatypes.String, kind, semantic_id=semantic(ARCHETYPE)),
        entry_node,
    ], ("1", "1"))
