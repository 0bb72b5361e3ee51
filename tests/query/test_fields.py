"""Field identifiers: the specification's own lists of allowed and refused ones (its
``test_field_identifier_regex.py``, repository fields; registry fields are refused here anyway)."""

from __future__ import annotations

import pytest

from twinbridge.query.syntax import QuerySyntaxError, Root, parse_field

ALLOWED = [
    "$aas#idShort", "$aas#id", "$aas#assetInformation.assetKind", "$aas#assetInformation.assetType",
    "$aas#assetInformation.globalAssetId", "$aas#assetInformation.specificAssetIds[].name",
    "$aas#assetInformation.specificAssetIds[0].name", "$aas#assetInformation.specificAssetIds[].value",
    "$aas#assetInformation.specificAssetIds[].externalSubjectId",
    "$aas#assetInformation.specificAssetIds[].externalSubjectId.type",
    "$aas#assetInformation.specificAssetIds[].externalSubjectId.keys[].type",
    "$aas#assetInformation.specificAssetIds[].externalSubjectId.keys[0].value",
    "$aas#submodels[].type", "$aas#submodels[].keys[].type", "$aas#submodels[0].keys[0].value",
    "$sm#semanticId", "$sm#semanticId.type", "$sm#semanticId.keys[].type", "$sm#semanticId.keys[0].value",
    "$sm#supplementalSemanticIds", "$sm#supplementalSemanticIds[]", "$sm#supplementalSemanticIds[0]",
    "$sm#supplementalSemanticIds.type", "$sm#supplementalSemanticIds[].type",
    "$sm#supplementalSemanticIds[].keys[].type", "$sm#supplementalSemanticIds[0].keys[0].value",
    "$sm#idShort", "$sm#id", "$sme#semanticId", "$sme#semanticId.type", "$sme#semanticId.keys[].type",
    "$sme#semanticId.keys[0].value", "$sme#supplementalSemanticIds", "$sme#supplementalSemanticIds[]",
    "$sme#supplementalSemanticIds[0].type", "$sme#supplementalSemanticIds[].keys[].type",
    "$sme#supplementalSemanticIds[0].keys[0].value", "$sme#idShort", "$sme#value", "$sme#valueType",
    "$sme#language", "$sme.AddressInformation#supplementalSemanticIds",
    "$sme.AddressInformation#supplementalSemanticIds[].keys[].value", "$sme.AddressInformation#value",
    "$sme.AddressInformation.Zipcode#value", "$sme.AddressInformation[]#value",
    "$sme.AddressInformation[0].Zipcode#value", "$cd#idShort", "$cd#id",
    # the query-language page's own shortcut (its comparison table uses it)
    "$aas#submodels",
    # descriptors (the grammar's FieldIdentifierAasDescriptor / FieldIdentifierSmDescriptor; the
    # page's examples, as written there)
    "$aasdesc#idShort", "$aasdesc#id", "$aasdesc#assetKind", "$aasdesc#assetType", "$aasdesc#globalAssetId",
    "$aasdesc#specificAssetIds[].name", "$aasdesc#specificAssetIds[1].value",
    "$aasdesc#specificAssetIds[0].externalSubjectId.type",
    "$aasdesc#specificAssetIds[0].externalSubjectId.keys[].value",
    "$aasdesc#specificAssetIds[0].externalSubjectId.keys[].type", "$aasdesc#endpoints[0].interface",
    "$aasdesc#submodelDescriptors[0].endpoints[0].protocolinformation.href",
    "$aasdesc#submodelDescriptors.semanticId", "$aasdesc#submodelDescriptors.semanticId.type",
    "$aasdesc#submodelDescriptors.semanticId.keys[].type", "$aasdesc#submodelDescriptors.semanticId.keys[].value",
    "$aasdesc#submodelDescriptors.id", "$aasdesc#submodelDescriptors.idShort",
    "$aasdesc#submodelDescriptors.endpoints[0].interface",
    "$aasdesc#submodelDescriptors.endpoints[].protocolinformation.href",
    "$smdesc#endpoints[0].protocolinformation.href", "$smdesc#endpoints[].protocolInformation.href",
    "$smdesc#id", "$smdesc#idShort", "$smdesc#semanticId", "$smdesc#semanticId.keys[0].value",
]

REFUSED = [
    "$aas#assetInformation.specificAssetIds", "$aas#assetInformation.specificAssetIds[]",
    "$aas#assetInformation.specificAssetIds[].externalSubjectId.keys",
    "$aas#assetInformation.specificAssetIds[].externalSubjectId.keys[]", "$aas#submodels[].keys",
    "$aas#submodels[].keys[]", "$sm#semanticId.keys", "$sm#semanticId.keys[]", "$sm#supplementalSemanticIds.keys",
    "$sm#supplementalSemanticIds.keys[]", "$sm#supplementalSemanticIds[].keys", "$sm#supplementalSemanticIds[].keys[]",
    "$sme", "$sme.AddressInformation", "$sme.AddressInformation[]", "$sme.AddressInformation#id",
    "$sme.AddressInformation#bogus", "$sme.AddressInformation#supplementalSemanticIds.keys",
    "$sme.AddressInformation#supplementalSemanticIds[].keys", "$sme.1Invalid#value", "$cd", "$cd#description",
    "$aasdesc#endpoints", "$aasdesc#endpoints[].href", "$aasdesc#endpoints[0].protocolinformation",
    "$aasdesc#submodelDescriptors", "$aasdesc#submodelDescriptors[].assetKind",
    "$aasdesc#submodelDescriptors.submodelDescriptors.id", "$aasdesc#semanticId", "$smdesc#assetKind",
    "$smdesc#specificAssetIds[].name", "$aasdesc", "$smdesc#", "$aasdescr#id",
]


@pytest.mark.parametrize("text", ALLOWED)
def test_allowed(text: str) -> None:
    field = parse_field(text, "$field")
    assert field.root in Root


@pytest.mark.parametrize("text", REFUSED)
def test_refused(text: str) -> None:
    with pytest.raises(QuerySyntaxError, match=r"query at \$field"):
        parse_field(text, "$field")


def test_supplemental_semantic_ids_and_submodel_references_are_read() -> None:
    from basyx.aas import model

    from tests.query.spec_data import SHELL_ID, example_shell
    from twinbridge.query.json_form import parse_query
    from twinbridge.query.plan import naive
    from twinbridge.query.world import RepositoryWorld

    def reference(value: str) -> model.ExternalReference:
        return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, value),))

    submodel = model.Submodel("urn:sm:s", supplemental_semantic_id=[reference("urn:a"), reference("urn:b")])
    world = RepositoryWorld({}, {})

    def submodels(field: str, value: str) -> list[str]:
        query = parse_query({"$condition": {"$eq": [{"$field": field}, {"$strVal": value}]}})
        return naive(query, Root.SM, [submodel], world)

    assert submodels("$sm#supplementalSemanticIds[].keys[].value", "urn:b") == ["urn:sm:s"]
    assert submodels("$sm#supplementalSemanticIds[0]", "urn:b") == []
    assert submodels("$sm#supplementalSemanticIds", "urn:b") == ["urn:sm:s"]  # no index: any of them
    shell = example_shell()  # its submodel references are a set: [n] of them names no fixed one
    for field, value in (("$aas#submodels[].type", "ModelReference"),
                         ("$aas#submodels[].keys[0].value", "https://example.com/submodel-2")):
        query = parse_query({"$condition": {"$eq": [{"$field": field}, {"$strVal": value}]}})
        assert naive(query, Root.AAS, [shell], world) == [SHELL_ID]
