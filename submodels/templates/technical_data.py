"""IDTA 02003-2-0 Technical Data: general information, classifications, technical properties.

Kinds, idShorts and semanticIds follow the published template file (IDTA 02003_2-0-2, the
bug-fix edition of 2.0); tests/submodels/test_templates_conformance.py holds its mandatory elements.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from basyx.aas import model

from twinbridge.submodels.description import ProductClassification
from twinbridge.submodels.templates.elements import collection, prop, semantic, submodel, text

SUBMODEL = "0173-1#01-AHX837#002"
GENERAL = "0173-1#02-ABK161#002/0173-1#01-AHX838#002"
CLASSIFICATIONS = "0173-1#02-ABK162#002"
CLASSIFICATION_ITEM = "0173-1#02-ABK162#002/0173-1#01-AHX839#002"
AREAS = "0173-1#02-ABK163#002"
AREA = "0173-1#02-ABL358#002/0173-1#01-AHX773#002"
ARBITRARY = "https://admin-shell.io/SMT/General/Arbitrary"
_S = model.datatypes.String


@dataclass(frozen=True)
class GeneralInformation:
    """The four mandatory GeneralInformation values (the plant schema makes sure each has a source)."""

    manufacturer_name: str
    product_designation: str
    article_number: str
    order_code: str


def _classification(item: ProductClassification) -> model.SubmodelElementCollection:
    elements: list[model.SubmodelElement] = [
        prop("ClassificationSystem", _S, item.system, semantic("0173-1#02-ABL424#001")),
    ]
    if item.version:
        elements.append(prop("ClassificationSystemVersion", _S, item.version, semantic("0173-1#02-AAR710#003")))
    elements.append(prop("ProductClassId", _S, item.class_id, semantic("0173-1#02-ABG776#003")))
    elements.append(prop("ProductClassCodedName", _S, item.coded_name, semantic("0173-1#02-ABK128#002")))
    if item.name:
        elements.append(text("ProductClassName", item.name, "0173-1#02-ABK273#002"))
    return collection(None, CLASSIFICATION_ITEM, elements)


def build(identifier: str, general: GeneralInformation, classifications: Iterable[ProductClassification],
          properties: Iterable[model.SubmodelElement]) -> model.Submodel:
    """``properties`` are ready elements (typed, with their unit-bearing semanticIds)."""
    elements: list[model.SubmodelElement] = [collection("GeneralInformation", GENERAL, [
        prop("ManufacturerName", _S, general.manufacturer_name, semantic("0173-1#02-AAO677#004")),
        text("ManufacturerProductDesignation", general.product_designation, "0173-1#02-AAW338#003"),
        prop("ManufacturerArticleNumber", _S, general.article_number, semantic("0173-1#02-AAO676#005")),
        prop("ManufacturerOrderCode", _S, general.order_code, semantic("0173-1#02-AAO227#004")),
    ])]
    items = [_classification(item) for item in classifications]
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
