"""ValueOnly serialization of every element kind, both ways, and its refusal of bad values."""

from __future__ import annotations

import base64
import copy
import decimal
import json
from typing import Any

import pytest
from basyx.aas import model
from basyx.aas.examples.data.example_aas import create_full_example

from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.errors import InvalidInput
from twinbridge.aas.value_only import (
    apply_submodel_value,
    apply_value,
    has_value,
    property_value,
    submodel_value,
    to_value,
)

TEST_SUBMODEL = "https://example.org/Test_Submodel"
BOM_SUBMODEL = "http://example.org/Submodels/Assets/TestAsset/BillOfMaterial"


@pytest.fixture
def objects() -> dict[str, Any]:
    return {obj.id: obj for obj in create_full_example()}


@pytest.fixture
def example_submodel(objects: dict[str, Any]) -> model.Submodel:
    submodel: model.Submodel = objects[TEST_SUBMODEL]
    return submodel


def _element(submodel: model.Submodel, path: str) -> Any:
    node: Any = submodel
    for part in path.split("."):
        node = node.get_referable(part)
    return node


def _snapshot(submodel: model.Submodel) -> str:
    return json.dumps(to_jsonable(submodel), sort_keys=True)


def test_every_kind_has_its_value_shape(example_submodel: model.Submodel) -> None:
    values = submodel_value(example_submodel, with_blob=True)
    assert "ExampleOperation" not in values and "ExampleCapability" not in values
    collection = values["ExampleSubmodelCollection"]
    assert collection["ExampleBlob"] == {"contentType": "application/pdf",
                                         "value": base64.b64encode(b"\x01\x02\x03\x04\x05").decode()}
    assert collection["ExampleFile"] == {"contentType": "application/pdf", "value": "/TestFile.pdf"}
    assert collection["ExampleRange"] == {"min": 0, "max": 100}
    assert {"de": "Beispielwert für ein MultiLanguageProperty-Element"} in collection["ExampleMultiLanguageProperty"]
    assert collection["ExampleReferenceElement"]["type"] == "ModelReference"
    assert collection["ExampleSubmodelList"] == ["exampleValue", "exampleValue"]
    relation = values["ExampleAnnotatedRelationshipElement"]
    assert set(relation) == {"first", "second", "annotations"}
    assert {"ExampleAnnotatedRange": {"min": 1, "max": 5}} in relation["annotations"]
    assert set(values["ExampleRelationshipElement"]) == {"first", "second"}
    assert values["ExampleBasicEventElement"]["observed"]["keys"][-1]["value"] == "ExampleProperty"


def test_blob_value_only_with_blob_values(example_submodel: model.Submodel) -> None:
    blob = _element(example_submodel, "ExampleSubmodelCollection.ExampleBlob")
    assert to_value(blob) == {"contentType": "application/pdf"}


def test_entity_shape(objects: dict[str, Any]) -> None:
    values = submodel_value(objects[BOM_SUBMODEL])
    assert values["ExampleEntity"] == {
        "statements": {"ExampleProperty": "exampleValue", "ExampleProperty2": "exampleValue2"},
        "entityType": "SelfManagedEntity",
        "globalAssetId": "http://example.org/TestAsset/",
        "specificAssetIds": [{"TestKey": "TestValue"}],
    }
    assert values["ExampleEntity2"] == {"statements": {}, "entityType": "CoManagedEntity"}


def test_core_depth_shows_nested_containers_empty(example_submodel: model.Submodel) -> None:
    values = submodel_value(example_submodel, depth=1)
    assert values["ExampleSubmodelCollection"]["ExampleSubmodelList"] == []
    assert values["ExampleSubmodelCollection"]["ExampleRange"] == {"min": 0, "max": 100}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (5, 5), (2.5, 2.5), (decimal.Decimal("3"), 3), (decimal.Decimal("1.25"), 1.25),
     (float("nan"), "NaN"), ("text", "text"), (None, None)],
)
def test_property_values_are_json_typed(value: Any, expected: Any) -> None:
    result = property_value(value)
    assert result == expected and type(result) is type(expected)


def test_round_trip_of_the_whole_submodel(example_submodel: model.Submodel) -> None:
    values = submodel_value(example_submodel, with_blob=True)
    changed = copy.deepcopy(values)
    changed["ExampleSubmodelCollection"]["ExampleRange"] = {"min": 10, "max": 20}
    changed["ExampleSubmodelCollection"]["ExampleSubmodelList"] = ["a", "b"]
    changed["ExampleSubmodelCollection"]["ExampleMultiLanguageProperty"] = [{"en": "new"}]
    changed["ExampleSubmodelCollection"]["ExampleBlob"]["value"] = base64.b64encode(b"xyz").decode()
    apply_submodel_value(example_submodel, changed)
    assert submodel_value(example_submodel, with_blob=True) == changed
    assert _element(example_submodel, "ExampleSubmodelCollection.ExampleBlob").value == b"xyz"


def test_entity_asset_ids_keep_their_details(objects: dict[str, Any]) -> None:
    entity = objects[BOM_SUBMODEL].get_referable("ExampleEntity")
    apply_value(entity, {"specificAssetIds": [{"TestKey": "TestValue"}, {"Serial": "42"}]})
    kept, added = list(entity.specific_asset_id)
    assert kept.external_subject_id is not None and (added.name, added.value) == ("Serial", "42")


def test_entity_type_change_respects_aasd_014(objects: dict[str, Any]) -> None:
    entity = objects[BOM_SUBMODEL].get_referable("ExampleEntity2")
    apply_value(entity, {"entityType": "SelfManagedEntity", "globalAssetId": "urn:asset:1"})
    assert entity.entity_type is model.EntityType.SELF_MANAGED_ENTITY and entity.global_asset_id == "urn:asset:1"
    with pytest.raises(InvalidInput, match="co-managed"):
        apply_value(entity, {"entityType": "CoManagedEntity"})
    assert entity.entity_type is model.EntityType.SELF_MANAGED_ENTITY


def test_range_bounds_absent_stay_null_clears() -> None:
    bounds = model.Range("Bounds", model.datatypes.Int, 1, 9)
    apply_value(bounds, {"min": 3})
    assert (bounds.min, bounds.max) == (3, 9)
    apply_value(bounds, {"max": None})
    assert (bounds.min, bounds.max) == (3, None)
    with pytest.raises(InvalidInput, match="greater than max"):
        apply_value(bounds, {"min": 5, "max": 4})


def test_typed_property_values() -> None:
    prop = model.Property("Speed", model.datatypes.Short, 1)
    apply_value(prop, 300)
    assert prop.value == 300
    apply_value(prop, "301")
    assert prop.value == 301
    for bad, reason in ((70000, "out of the allowed range"), (True, "boolean"), (1.5, "number"), ("x", "xs:short")):
        with pytest.raises(InvalidInput, match=reason):
            apply_value(prop, bad, "Drive.Speed")
    assert prop.value == 301
    level = model.Property("Level", model.datatypes.Double, 0.0)
    apply_value(level, 5)
    assert level.value == 5.0 and isinstance(level.value, float)
    flag = model.Property("On", model.datatypes.Boolean, False)
    with pytest.raises(InvalidInput):
        apply_value(flag, 1)
    apply_value(flag, "true")
    assert flag.value is True


def test_a_bad_part_leaves_everything_unchanged(example_submodel: model.Submodel) -> None:
    before = _snapshot(example_submodel)
    bad = {"ExampleSubmodelCollection": {"ExampleRange": {"min": 5, "max": 6},
                                         "ExampleSubmodelList": ["ok", 5]}}
    with pytest.raises(InvalidInput) as error:
        apply_submodel_value(example_submodel, bad)
    assert "ExampleSubmodelCollection.ExampleSubmodelList[1]" in str(error.value)
    assert _snapshot(example_submodel) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"ExampleSubmodelCollection": {"Nope": 1}}, "no element 'Nope'"),
        ({"ExampleSubmodelCollection": {"ExampleRange": {"min": 9, "max": 1}}}, "greater than max"),
        ({"ExampleSubmodelCollection": {"ExampleRange": {"low": 1}}}, "unexpected field"),
        ({"ExampleSubmodelCollection": {"ExampleSubmodelList": ["one"]}}, "2 items but 1"),
        ({"ExampleSubmodelCollection": {"ExampleBlob": {"contentType": "a/b", "value": "!!"}}}, "base64"),
        ({"ExampleSubmodelCollection": {"ExampleMultiLanguageProperty": [{"en": 1}]}}, "must be a string"),
        ({"ExampleSubmodelCollection": {"ExampleReferenceElement": {"keys": []}}}, "not a valid Reference"),
        ({"ExampleSubmodelCollection": []}, "expected a JSON object"),
        ({"ExampleOperation": {}}, "has no value"),
        ({"ExampleRelationshipElement": {"first": {}}}, "missing field"),
    ],
)
def test_invalid_values_name_their_path(example_submodel: model.Submodel, data: Any, message: str) -> None:
    before = _snapshot(example_submodel)
    with pytest.raises(InvalidInput, match=message):
        apply_submodel_value(example_submodel, data)
    assert _snapshot(example_submodel) == before


def test_operations_and_capabilities_have_no_value(example_submodel: model.Submodel) -> None:
    operation = example_submodel.get_referable("ExampleOperation")
    assert not has_value(operation)
    with pytest.raises(InvalidInput):
        to_value(operation)
