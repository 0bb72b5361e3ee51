"""IDTA 02011-1-1 Hierarchical Structures enabling Bills of Material.

Each shell gets one such submodel: its EntryNode is the asset itself; a Node per child is
linked by a HasPart relationship (and, under archetype Full, the children's own parts
nest inside their Node), and the parent appears as a Node linked by IsPartOf. Nodes point
to the other shell's EntryNode through ``SameAs`` so a client can walk the tree by reference.
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


@dataclass(frozen=True)
class Part:
    """Another asset as seen from this BoM: its idShort, globalAssetId and BoM submodel id."""

    id_short: str
    asset_id: str
    bom_id: str
    bulk_count: int = 1
    parts: list[Part] = field(default_factory=list)


def _ref(keys: list[tuple[model.KeyTypes, str]]) -> model.ModelReference[model.Entity]:
    return model.ModelReference(tuple(model.Key(kind, value) for kind, value in keys), model.Entity)


def _same_as(part: Part) -> model.ReferenceElement:
    target = _ref([(model.KeyTypes.SUBMODEL, part.bom_id), (model.KeyTypes.ENTITY, "EntryNode")])
    return model.ReferenceElement("SameAs", target, semantic_id=semantic(SAME_AS))


def _node(part: Part, prefix: list[tuple[model.KeyTypes, str]], id_short: str) -> model.Entity:
    path = [*prefix, (model.KeyTypes.ENTITY, id_short)]
    statements: list[model.SubmodelElement] = [
        model.Property("BulkCount", model.datatypes.UnsignedLong, model.datatypes.UnsignedLong(part.bulk_count),
                       semantic_id=semantic(BULK_COUNT)),
        _same_as(part),
    ]
    statements += _parts(part.parts, path)
    return model.Entity(id_short, model.EntityType.SELF_MANAGED_ENTITY, statements, global_asset_id=part.asset_id,
                        semantic_id=semantic(NODE))


def _parts(parts: list[Part], owner: list[tuple[model.KeyTypes, str]]) -> list[model.SubmodelElement]:
    """Nodes for ``parts`` and the HasPart relationships from ``owner`` to each."""
    elements: list[model.SubmodelElement] = []
    for part in parts:
        elements.append(_node(part, owner, part.id_short))
        elements.append(model.RelationshipElement(
            f"HasPart_{part.id_short}", _ref(owner), _ref([*owner, (model.KeyTypes.ENTITY, part.id_short)]),
            semantic_id=semantic(HAS_PART)))
    return elements


def build(identifier: str, *, asset_id: str, parts: list[Part], parent: Part | None,
          archetype: str) -> model.Submodel:
    """``archetype`` is "OneDown" or "Full" (``parts`` nested) for shells with parts, else "OneUp"."""
    entry = [(model.KeyTypes.SUBMODEL, identifier), (model.KeyTypes.ENTITY, "EntryNode")]
    statements = _parts(parts, entry)
    if parent is not None:
        names = {part.id_short for part in parts}
        node_id = parent.id_short if parent.id_short not in names else f"{parent.id_short}_Parent"
        statements.append(_node(Part(parent.id_short, parent.asset_id, parent.bom_id), entry, node_id))
        statements.append(model.RelationshipElement(
            "IsPartOf", _ref(entry), _ref([*entry, (model.KeyTypes.ENTITY, node_id)]),
            semantic_id=semantic(IS_PART_OF)))
    entry_node = model.Entity("EntryNode", model.EntityType.SELF_MANAGED_ENTITY, statements,
                              global_asset_id=asset_id, semantic_id=semantic(ENTRY_NODE))
    kind = archetype if parts else "OneUp"
    return submodel(identifier, ID_SHORT, SUBMODEL, [
        model.Property("ArcheType", model.datatypes.String, kind, semantic_id=semantic(ARCHETYPE)),
        entry_node,
    ], ("1", "1"))
