"""IDTA 02003-2-0 Technical Data: general information, classifications, technical properties."""

from __future__ import annotations

from collections.abc import Iterable

from basyx.aas import model

from twinbridge.submodels.templates.elements import collection, prop, semantic, submodel, text

SUBMODEL = "0173-1#01-AHX837#002"
GENERAL = "0173-1#02-ABK161#002/0173-1#01-AHX838#002"
CLASSIFICATIONS = "0173-1#02-ABK162#002"
CLASSIFICATION_ITEM = "0173-1#02-ABK162#002/0173-1#01-AHX839#002"
AREAS = "0173-1#02-ABK163#002"
AREA = "0173-1#02-ABL358#002/0173-1#01-AHX773#002"
ARBITRARY = "https://admin-shell.io/SMT/General/Arbitrary"
_S = model.datatypes.String


def build(identifier: str, *, manufacturer_name: str | None, product_designation: str | None,
          article_number: str | None, order_code: str | None, classifications: Iterable[str],
          properties: Iterable[model.SubmodelElement]) -> model.Submodel:
    """``properties`` are ready elements (typed, with their unit-bearing semanticIds)."""
    general: list[model.SubmodelElement] = []
    if manufacturer_name:
        general.append(prop("ManufacturerName", _S, manufacturer_name, semantic("0173-1#02-AAO677#004")))
    if product_designation:
        general.append(text("ManufacturerProductDesignation", product_designation, "0173-1#02-AAW338#003"))
    if article_number:
        general.append(prop("ManufacturerArticleNumber", _S, article_number, semantic("0173-1#02-AAO676#005")))
    if order_code:
        general.append(prop("ManufacturerOrderCode", _S, order_code, semantic("0173-1#02-AAO227#004")))
    elements: list[model.SubmodelElement] = [collection("GeneralInformation", GENERAL, general)]
    items = [
        collection(None, CLASSIFICATION_ITEM, [
            prop("ProductClassificationSystem", _S, "ECLASS", semantic("0173-1#02-ABH915#003")),
            prop("ProductClassId", _S, class_id, semantic("0173-1#02-ABH914#003")),
        ])
        for class_id in classifications
    ]
    if items:
        elements.append(_list("ProductClassifications", CLASSIFICATIONS, CLASSIFICATION_ITEM, items))
    area_items = list(properties)
    if area_items:
        elements.append(_list("TechnicalPropertyAreas", AREAS, AREA, [collection(None, AREA, area_items)]))
    return submodel(identifier, "TechnicalData", SUBMODEL, elements, ("2", "0"))


def _list(id_short: str, semantic_id: str, item_semantic_id: str,
          items: list[model.SubmodelElementCollection]) -> model.SubmodelElementList[model.SubmodelElementCollection]:
    return model.SubmodelElementList(id_short, model.SubmodelElementCollection, items,
                                     semantic_id=semantic(semantic_id),
                                     semantic_id_list_element=semantic(item_semantic_id))
