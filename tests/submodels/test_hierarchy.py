"""The plant tree from the description and read back from the BoM submodels; broken trees are refused."""

from __future__ import annotations

import pytest
from basyx.aas import model

from tests.submodels.conftest import BASE, shell_id
from twinbridge.aas.errors import NotFound
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import PlantModel
from twinbridge.submodels.hierarchy import HierarchyError, PlantHierarchy
from twinbridge.submodels.templates import hierarchy_bom


def test_the_tree_read_from_the_twin_equals_the_description(plant: PlantModel, twin: Twin) -> None:
    described, read = PlantHierarchy.from_model(plant), PlantHierarchy.from_twin(twin)
    assert read.shells() == described.shells()
    for shell in described.shells():
        assert read.children(shell) == described.children(shell)
        assert read.level(shell) == described.level(shell)


def test_navigation_both_ways(hierarchy: PlantHierarchy) -> None:
    root = shell_id("DemoPlant")
    assert hierarchy.roots() == [root]
    assert hierarchy.children(root) == [shell_id("DemoPlant/Line1"), shell_id("DemoPlant/Line2")]
    motor = shell_id("DemoPlant/Line1/Cell1/Filler1/Filler1Motor")
    assert hierarchy.parent(motor) == shell_id("DemoPlant/Line1/Cell1/Filler1")
    assert hierarchy.ancestors(motor) == [shell_id(p) for p in (
        "DemoPlant/Line1/Cell1/Filler1", "DemoPlant/Line1/Cell1", "DemoPlant/Line1", "DemoPlant")]
    cell3 = hierarchy.descendants(shell_id("DemoPlant/Line2/Cell3"))
    assert cell3[:3] == [shell_id(p) for p in (
        "DemoPlant/Line2/Cell3/Packer1", "DemoPlant/Line2/Cell3/Packer1/Packer1Motor",
        "DemoPlant/Line2/Cell3/Packer1/Packer1Gripper")]
    assert hierarchy.level(motor) == "component" and hierarchy.level(root) == "plant"
    assert len(hierarchy.descendants(root)) == 20
    with pytest.raises(NotFound, match="no shell with id 'nope'"):
        hierarchy.children("nope")


def test_a_cycle_or_a_double_parent_is_refused() -> None:
    with pytest.raises(HierarchyError, match="cycle"):
        PlantHierarchy(["a", "b", "c", "r"], [("a", "b"), ("b", "c"), ("c", "a")])
    with pytest.raises(HierarchyError, match="'c' is referenced as a part of both 'a' and 'b'"):
        PlantHierarchy(["a", "b", "c"], [("a", "c"), ("b", "c")])
    with pytest.raises(HierarchyError, match="own part"):
        PlantHierarchy(["a"], [("a", "a")])
    with pytest.raises(HierarchyError, match="unknown shell 'x'"):
        PlantHierarchy(["a"], [("a", "x")])


def _add_part(twin: Twin, owner: str, child_asset: str, child_id_short: str) -> None:
    """Edit ``owner``'s BoM through the twin: one more Node plus its HasPart relationship."""
    sm_id = f"{BASE}sm/{owner}/HierarchicalStructures"
    entry = [model.Key(model.KeyTypes.SUBMODEL, sm_id), model.Key(model.KeyTypes.ENTITY, "EntryNode")]
    node = model.Entity(child_id_short, model.EntityType.SELF_MANAGED_ENTITY, global_asset_id=child_asset,
                        semantic_id=model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE,
                                                                       hierarchy_bom.NODE),)))
    twin.add_element(sm_id, "EntryNode", node)
    relation = model.RelationshipElement(
        f"HasPart_{child_id_short}", model.ModelReference(tuple(entry), model.Entity),
        model.ModelReference((*entry, model.Key(model.KeyTypes.ENTITY, child_id_short)), model.Entity),
        semantic_id=model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, hierarchy_bom.HAS_PART),)))
    twin.add_element(sm_id, "EntryNode", relation)


def test_an_edited_bom_with_a_second_parent_or_a_cycle_is_reported(twin: Twin) -> None:
    _add_part(twin, "DemoPlant/Line2", f"{BASE}asset/DemoPlant/Line1/Cell1", "Cell1")
    with pytest.raises(HierarchyError, match="Cell1' is referenced as a part of both"):
        PlantHierarchy.from_twin(twin)


def test_an_edited_bom_forming_a_cycle_is_reported(twin: Twin) -> None:
    _add_part(twin, "DemoPlant/Line1/Cell1/Filler1/Filler1Motor", f"{BASE}asset/DemoPlant", "DemoPlant")
    with pytest.raises(HierarchyError, match="cycle"):
        PlantHierarchy.from_twin(twin)
