"""IDTA 02023-0-9 Carbon Footprint: one ProductCarbonFootprint per declared life cycle phase.

Kinds, idShorts, semanticIds and value types follow the published template file
(IDTA_2023-0-9_Template_CarbonFootprint.json), including its choices (PublicationDate is an
xs:string there). The submodel's semanticId has the template's value as an ExternalReference:
the file writes it as a ModelReference to a Submodel, which no instance can resolve. The mandatory
PCFGoodsAddressHandover is filled from the footprint's own address or, as documented on the
plant schema, from the nameplate's address.
"""

from __future__ import annotations

from basyx.aas import model

from twinbridge.submodels.description import Address, CarbonFootprint
from twinbridge.submodels.templates.elements import collection, prop, semantic, submodel

SUBMODEL = "https://admin-shell.io/idta/CarbonFootprint/CarbonFootprint/0/9"
PCF = "https://admin-shell.io/idta/CarbonFootprint/ProductCarbonFootprint/0/9"
HANDOVER = "0173-1#02-ABI497#001"
PUBLICATION_DATE = "https://admin-shell.io/idta/CarbonFootprint/PublicationDate/1/0"
_S = model.datatypes.String
_HANDOVER_FIELDS = (  # (Address field, idShort, semanticId) as the 0.9 template names them
    ("street", "Street", "0173-1#02-ABH956#001"),
    ("zip_code", "ZipCode", "0173-1#02-ABH958#001"),
    ("city_town", "CityTown", "0173-1#02-ABH959#001"),
    ("national_code", "Country", "0173-1#02-AAO259#005"),
)


def _handover(address: Address) -> model.SubmodelElementCollection:
    values = address.model_dump()
    return collection("PCFGoodsAddressHandover", HANDOVER, [
        prop(id_short, _S, values[field], semantic(semantic_id))
        for field, id_short, semantic_id in _HANDOVER_FIELDS if values[field]
    ])


def build(identifier: str, footprints: list[CarbonFootprint], address: Address | None) -> model.Submodel:
    """``address`` stands in for a footprint's missing goods_handover_address (the nameplate's)."""
    entries = []
    for index, pcf in enumerate(footprints, start=1):
        handover = pcf.goods_handover_address or address or Address()
        entries.append(collection(
            f"ProductCarbonFootprint{index:02d}" if len(footprints) > 1 else "ProductCarbonFootprint", PCF, [
                prop("PCFCalculationMethod", _S, pcf.calculation_method, semantic("0173-1#02-ABG854#001")),
                prop("PCFCO2eq", model.datatypes.Double, pcf.co2_eq, semantic("0173-1#02-ABG855#001")),
                prop("PCFReferenceValueForCalculation", _S, pcf.reference_unit, semantic("0173-1#02-ABG856#001")),
                prop("PCFQuantityOfMeasureForCalculation", model.datatypes.Double, pcf.quantity,
                     semantic("0173-1#02-ABG857#001")),
                prop("PCFLifeCyclePhase", _S, pcf.life_cycle_phase, semantic("0173-1#02-ABG858#001")),
                _handover(handover),
                prop("PublicationDate", _S, pcf.publication_date.isoformat(), semantic(PUBLICATION_DATE)),
            ]))
    return submodel(identifier, "CarbonFootprint", SUBMODEL, entries, ("0", "9"))
