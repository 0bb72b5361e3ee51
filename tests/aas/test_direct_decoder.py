"""The direct submodel decoder (``aas/formats/direct.py``) gives what basyx's decoder gives.

Every stored document of the test plant is decoded both ways and compared by its AAS JSON
re-encoding and by the attribute layout of every element (the same names in the same order:
the memory layout the constructor would have made). Hand-written and generated documents cover
the fields the plant does not use; for those the direct decoder must either reproduce basyx or
hand the document to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from basyx.aas import model
from hypothesis import given, settings
from hypothesis import strategies as st

from twinbridge.aas import documents
from twinbridge.aas.formats import direct, jsontree
from twinbridge.submodels.builder import build_environment
from twinbridge.submodels.description import PlantDescription

PLANT_FILE = Path(__file__).parents[1] / "submodels" / "plant.yaml"


def generic(body: bytes) -> Any:
    return jsontree.build(orjson.loads(body), failsafe=True)


def elements(node: object) -> Iterator[object]:
    yield node
    children: Any = ()
    if isinstance(node, model.Submodel):
        children = node.submodel_element
    elif isinstance(node, model.SubmodelElementCollection | model.SubmodelElementList):
        children = node.value
    elif isinstance(node, model.Entity):
        children = node.statement
    for child in children:
        yield from elements(child)


def assert_same(body: bytes) -> None:
    expected = generic(body)
    if not isinstance(expected, model.Identifiable):  # basyx gives up on the whole document: so does decode
        with pytest.raises(ValueError, match="not an AAS identifiable"):
            documents.decode(body)
        return
    assert_same_objects(documents.decode(body), expected)


def assert_same_objects(actual: object, expected: object) -> None:
    assert documents.to_jsonable(actual) == documents.to_jsonable(expected)
    for mine, theirs in zip(elements(actual), elements(expected), strict=True):
        assert type(mine) is type(theirs)
        # the same attributes; in the same order too, but for basyx's containers that twinbridge
        # keeps only once they hold something (set later by basyx's decoder, at once by the constructor)
        assert vars(mine).keys() == vars(theirs).keys()
        assert [name for name in vars(mine) if not name.startswith("_twinbridge_")] == [
            name for name in vars(theirs) if not name.startswith("_twinbridge_")]


def test_every_plant_document_decodes_as_basyx_does() -> None:
    data = yaml.safe_load(PLANT_FILE.read_text())
    plant = build_environment(PlantDescription.model_validate(data["plant"]), PLANT_FILE.parent)
    kinds: set[str] = set()
    for submodel in plant.submodels:
        body = documents.encode(submodel)
        direct.submodel(orjson.loads(body))  # the plant's documents take the direct road, none falls back
        assert_same(body)
        kinds.update(type(element).__name__ for element in elements(generic(body)))
    for other in [*plant.shells, *plant.concept_descriptions]:
        assert_same(documents.encode(other))
    assert {"Property", "MultiLanguageProperty", "SubmodelElementCollection", "RelationshipElement",
            "Entity"} <= kinds


SEMANTIC = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:sem"}]}
MODEL_REF = {"type": "ModelReference", "keys": [{"type": "Submodel", "value": "urn:sm"},
                                                 {"type": "Property", "value": "p"}]}
LANG = [{"language": "en", "text": "hello"}, {"language": "de", "text": "hallo"}]


def submodel(*elements: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"modelType": "Submodel", "id": "urn:sm", "idShort": "Sm",
                         "submodelElements": list(elements), **extra})


def prop(**extra: Any) -> dict[str, Any]:
    return {"modelType": "Property", "idShort": "P", "valueType": "xs:int", "value": "3", **extra}


ODD = {
    "qualifiers": submodel(prop(qualifiers=[{"type": "q", "valueType": "xs:string", "value": "v",
                                              "kind": "ConceptQualifier", "valueId": SEMANTIC}])),
    "extensions": submodel(prop(extensions=[{"name": "e", "valueType": "xs:string", "value": "x"}])),
    "embedded data specification": submodel(prop(embeddedDataSpecifications=[{
        "dataSpecification": {"type": "ExternalReference", "keys": [
            {"type": "GlobalReference", "value": "https://admin-shell.io/DataSpecificationTemplates/"
             "DataSpecificationIec61360/3"}]},
        "dataSpecificationContent": {"modelType": "DataSpecificationIec61360",
                                     "preferredName": [{"language": "en", "text": "P"}]}}])),
    "valueId": submodel(prop(valueId=SEMANTIC, semanticId=SEMANTIC)),
    "model reference valueId": submodel(prop(valueId=MODEL_REF)),
    "referredSemanticId": submodel(prop(semanticId={**SEMANTIC, "referredSemanticId": SEMANTIC})),
    "langstrings": submodel(prop(description=LANG, displayName=LANG),
                            {"modelType": "MultiLanguageProperty", "idShort": "M", "value": LANG,
                             "valueId": SEMANTIC}),
    "category and supplemental ids": submodel(prop(category="PARAMETER", semanticId=SEMANTIC,
                                                   supplementalSemanticIds=[SEMANTIC])),
    "supplemental without semanticId": submodel(prop(supplementalSemanticIds=[SEMANTIC])),
    "range file reference": submodel(
        {"modelType": "Range", "idShort": "R", "valueType": "xs:double", "min": "1.5"},
        {"modelType": "File", "idShort": "F", "contentType": "text/plain", "value": "/a.txt"},
        {"modelType": "File", "idShort": "G", "value": None},
        {"modelType": "ReferenceElement", "idShort": "Ref", "value": MODEL_REF},
        {"modelType": "ReferenceElement", "idShort": "Empty"}),
    "entity with specific asset ids": submodel({
        "modelType": "Entity", "idShort": "E", "entityType": "SelfManagedEntity", "globalAssetId": "urn:a",
        "specificAssetIds": [{"name": "serial", "value": "1"}], "statements": [prop()]}),
    "list": submodel({"modelType": "SubmodelElementList", "idShort": "L", "typeValueListElement": "Property",
                      "valueTypeListElement": "xs:int", "orderRelevant": False, "semanticIdListElement": SEMANTIC,
                      "value": [{"modelType": "Property", "valueType": "xs:int", "value": "1",
                                 "semanticId": SEMANTIC}]}),
    "list of the wrong kind": submodel({"modelType": "SubmodelElementList", "idShort": "L",
                                        "typeValueListElement": "Range", "valueTypeListElement": "xs:int",
                                        "value": [{"modelType": "Property", "valueType": "xs:int"}]}),
    "collection with category": submodel({"modelType": "SubmodelElementCollection", "idShort": "C",
                                          "category": "PARAMETER", "value": [prop(category="VARIABLE")]}),
    "entity without entityType": submodel({"modelType": "Entity", "idShort": "E", "statements": []}),
    "blob": submodel({"modelType": "Blob", "idShort": "B", "contentType": "a/b", "value": "AAEC"}),
    "relationship": submodel({"modelType": "RelationshipElement", "idShort": "Rel", "first": MODEL_REF,
                              "second": SEMANTIC, "category": "VARIABLE"}),
    "bad idShort": submodel(prop(idShort="1bad"), prop(idShort="Good")),
    "duplicate idShort": submodel(prop(), prop()),
    "bad value": submodel(prop(value="abc"), prop(idShort="Q")),
    "null value": submodel(prop(value=None), prop(idShort="N", idShortX=1)),
    "administration": submodel(prop(), administration={"version": "1", "revision": "2"}),
    "template kind": submodel(prop(), kind="Template"),
}


@pytest.mark.parametrize("body", ODD.values(), ids=ODD.keys())
def test_odd_fields_decode_as_basyx_does(body: bytes) -> None:
    assert_same(body)


def test_shared_references_are_equal_to_fresh_ones() -> None:
    body = submodel(prop(semanticId=SEMANTIC), prop(idShort="Q", semanticId=SEMANTIC))
    first, second = documents.decode(body).submodel_element  # type: ignore[attr-defined]
    assert first.semantic_id == second.semantic_id == generic(body).get_referable("P").semantic_id


names = st.text(alphabet="abcXYZ019_-", min_size=1, max_size=6)
values = st.one_of(st.none(), st.text(max_size=5), st.integers(-5, 5).map(str), st.integers(-1000, 1000))
leaves = st.fixed_dictionaries(
    {"modelType": st.sampled_from(["Property", "Range", "MultiLanguageProperty", "File", "ReferenceElement"]),
     "idShort": names},
    optional={"valueType": st.sampled_from(["xs:int", "xs:string", "xs:double", "xs:bogus"]),
              "value": values, "min": values, "category": st.sampled_from(["PARAMETER", "1x"]),
              "semanticId": st.just(SEMANTIC), "valueId": st.sampled_from([SEMANTIC, MODEL_REF]),
              "description": st.sampled_from([LANG, [{"language": "en"}], "x"])})
trees = st.recursive(leaves, lambda children: st.fixed_dictionaries(
    {"modelType": st.just("SubmodelElementCollection"), "idShort": names, "value": st.lists(children, max_size=3)}),
    max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(trees, max_size=4))
def test_generated_documents_decode_as_basyx_does(tree: list[dict[str, Any]]) -> None:
    assert_same(submodel(*tree))


@settings(max_examples=150, deadline=None)
@given(trees)
def test_a_generated_element_alone_decodes_as_basyx_does(tree: dict[str, Any]) -> None:
    """``documents.element_of``: one element (a value write to an evicted submodel reads it so)."""
    try:
        expected = jsontree.build(tree, failsafe=True)
    except Exception as error:  # basyx refuses it: so does element_of, with the same error class
        with pytest.raises(type(error)):
            documents.element_of(tree)
        return
    if not isinstance(expected, model.SubmodelElement):
        with pytest.raises(ValueError, match="not an AAS submodel element"):
            documents.element_of(tree)
        return
    assert_same_objects(documents.element_of(tree), expected)
