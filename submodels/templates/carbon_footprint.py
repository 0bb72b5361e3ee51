"""IDTA 02023-0-9 Carbon Footprint: one ProductCarbonFootprint per declared life cycle phase."""

from __future__ import annotations

from basyx.aas import model

from twinbridge.submodels.description import CarbonFootprint
from twinbridge.submodels.templates.elements import collection, prop, semantic, submodel

SUBMODEL = "https://admin-shell.io/idta/CarbonFootprint/CarbonFootprint/0/9"
PCF = "https://admin-shell.io/idta/CarbonFootprint/ProductCarbonFootprint/0/9"
_S = model.datatypes.String


def build(identifier: str, footprints: list[CarbonFootprint]) -> model.Submodel:
    entries = [
        collection(f"ProductCarbonFootprint{index:02d}" if len(footprints) > 1 else "ProductCarbonFootprint", PCF, [
            prop("PCFCalculationMethod", _S, pcf.calculation_method, semantic("0173-1#02-ABG854#001")),
            prop("PCFCO2eq", model.datatypes.Double, pcf.co2_eq, semantic("0173-1#02-ABG855#001")),
            prop("PCFReferenceValueForCalculation", _S, pcf.reference_unit, semantic("0173-1#02-ABG856#001")),
            prop("PCFQuantityOfMeasureForCalculation", model.datatypes.Double, pcf.quantity,
                 semantic("0173-1#02-ABG857#001")),
            prop("PCFLifeCyclePhase", _S, pcf.life_cycle_phase, semantic("0173-1#02-ABG858#001")),
        ])
        for index, pcf in enumerate(footprints, start=1)
    ]
    return submodel(identifier, "CarbonFootprint", SUBMODEL, entries, ("0", "9"))
