"""The specification's example data (query-language page), and data for the examples that give none."""

from __future__ import annotations

from basyx.aas import model

SHELL_ID = "https://example.com/asset-administration-shell-1"


def _submodel_reference(identifier: str) -> model.ModelReference[model.Submodel]:
    return model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, identifier),), model.Submodel)


def example_shell() -> model.AssetAdministrationShell:
    """The Asset Administration Shell of the clause "Comparison Operators", as printed."""
    return model.AssetAdministrationShell(
        asset_information=model.AssetInformation(
            asset_kind=model.AssetKind.INSTANCE,
            global_asset_id="urn:asset-administration-shell-1",
            specific_asset_id=[
                model.SpecificAssetId("supplierId", "aas-1"),
                model.SpecificAssetId("customerId", "aas-2"),
            ],
        ),
        id_=SHELL_ID,
        submodel={_submodel_reference("https://example.com/submodel-1"),
                  _submodel_reference("https://example.com/submodel-2")},
    )


def _property(id_short: str, value: object, value_type: type = model.datatypes.String,
              semantic_id: str | None = None) -> model.Property:
    semantic = None if semantic_id is None else model.ExternalReference(
        (model.Key(model.KeyTypes.GLOBAL_REFERENCE, semantic_id),))
    return model.Property(id_short, value_type, value, semantic_id=semantic)


def technical_data(identifier: str, class_id: str, width: float) -> model.Submodel:
    """A TechnicalData submodel with a product class and a width (ECLASS 0173-1#02-BAF016#006)."""
    return model.Submodel(identifier, id_short="TechnicalData", submodel_element=[
        model.SubmodelElementCollection("ProductClassifications", [
            model.SubmodelElementCollection("ProductClassificationItem", [
                _property("ProductClassId", class_id),
            ]),
        ]),
        model.SubmodelElementCollection("TechnicalProperties", [
            _property("Width", width, model.datatypes.Double, "0173-1#02-BAF016#006"),
        ]),
    ])


def _document(class_id: str, languages: list[str]) -> model.SubmodelElementCollection:
    return model.SubmodelElementCollection(None, [
        model.SubmodelElementCollection("DocumentClassification", [_property("Class", class_id)]),
        model.SubmodelElementCollection("DocumentVersion", [
            model.SubmodelElementList("SMLLanguages", model.MultiLanguageProperty, [
                model.MultiLanguageProperty(None, model.MultiLanguageTextType({language: f"text in {language}"}))
                for language in languages
            ]),
        ]),
    ])


def handover_documentation(identifier: str, documents: list[tuple[str, list[str]]]) -> model.Submodel:
    """HandoverDocumentation "as expected with SubmodelElementList": ``Documents`` lists documents
    with a VDI 2770 class and the languages of their version."""
    return model.Submodel(identifier, id_short="HandoverDocumentation", submodel_element=[
        model.SubmodelElementList("Documents", model.SubmodelElementCollection,
                                  [_document(class_id, languages) for class_id, languages in documents]),
    ])
