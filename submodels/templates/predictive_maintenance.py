"""IDTA 02048 Predictive Maintenance: the empty skeleton that analytics fills in later.

Holds the mandatory elements of the published template's RemainingUsefulLifePrediction
(IDTA 02048_Template_PredictiveMaintenance.json): RemainingUsefulLifetime with its fields,
ConfidenceInterval (a Range) and ListRULBoundaryConditions. The list starts empty although the
template asks for at least one RULCondition: the conditions are those of the RUL model that
fills this submodel, and no plant file states them.
"""

from __future__ import annotations

from basyx.aas import model

from twinbridge.submodels.templates.elements import collection, semantic, submodel

SUBMODEL = "https://admin-shell.io/idta/SubmodelTemplate/PredictiveMaintenance/1/0"
_BASE = "https://admin-shell.io/idta/PredictiveMaintenance/"
RUL_PATH = "RemainingUsefulLifePrediction.RemainingUsefulLifetime"


def _field(id_short: str, value_type: type) -> model.Property:
    return model.Property(id_short, value_type, None, semantic_id=semantic(f"{_BASE}{id_short}/1/0"))


def build(identifier: str) -> model.Submodel:
    d = model.datatypes
    lifetime = model.Entity(
        "RemainingUsefulLifetime", model.EntityType.CO_MANAGED_ENTITY,
        [_field("IndicationType", d.String), _field("DurationValue", d.Double), _field("EngineeringUnit", d.String),
         _field("StartValue", d.Double), _field("StartDateTime", d.DateTime)],
        semantic_id=semantic(f"{_BASE}RemainingUsefulLifetime/1/0"),
    )
    confidence = model.Range("ConfidenceInterval", d.Double, None, None,
                             semantic_id=semantic(f"{_BASE}ConfidenceInterval/1/0"))
    conditions: model.SubmodelElementList[model.SubmodelElementCollection] = model.SubmodelElementList(
        "ListRULBoundaryConditions", model.SubmodelElementCollection, [],
        semantic_id=semantic(f"{_BASE}ListRULBoundaryConditions/1/0"),
        semantic_id_list_element=semantic(f"{_BASE}RULCondition/1/0"))
    prediction = collection("RemainingUsefulLifePrediction", f"{_BASE}RemainingUsefulLifePrediction/1/0",
                            [lifetime, confidence, conditions])
    return submodel(identifier, "PredictiveMaintenance", SUBMODEL, [prediction], ("1", "0"))
