"""IDTA 02048 Predictive Maintenance 1.0, for an asset whose remaining useful life twinbridge predicts.

Follows the published template file (IDTA 02048_Template_PredictiveMaintenance.json): the one
``RemainingUsefulLifePrediction`` holds ``RemainingUsefulLifetime`` (a CoManagedEntity with its
mandatory fields), ``ConfidenceInterval`` (a Range), ``ListRULBoundaryConditions`` (at least one
``RULCondition``: cardinality OneToMany) and ``PredictionModelInformation`` (``ModelType`` One).
The values of the lifetime and interval are written by the RUL monitor (analytics/maintenance.py)
once it has an estimate.

The template's mandatory content exists only where an RUL model does, so the builder emits this
submodel for the assets the plant file's ``analytics`` section gives an ``rul`` (the asset that
receives the results, ``maintenance_asset`` or ``asset``), and fills each condition from that
configuration: the indicator signal, its failure level (where :class:`~twinbridge.analytics.rul.
TrendRul` puts the end of life) and the signal's unit. An asset that is only watched for anomalies
gets :func:`build_monitoring`: a ``PredictiveMaintenance`` submodel for the anomaly scores that
does not claim the template (it could not hold its mandatory RUL prediction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from basyx.aas import model

from twinbridge.submodels.templates.elements import collection, english, semantic, submodel

SUBMODEL = "https://admin-shell.io/idta/SubmodelTemplate/PredictiveMaintenance/1/0"
MONITORING = "https://twinbridge.example/analytics/ConditionMonitoring/1/0"
ID_SHORT = "PredictiveMaintenance"
_BASE = "https://admin-shell.io/idta/PredictiveMaintenance/"
RUL_PATH = "RemainingUsefulLifePrediction.RemainingUsefulLifetime"
# The template's enumeration (ModelType: "physical based methods, data-driven methods, hybrid
# methods"): TrendRul fits the indicator's own history and needs no model of the machine.
MODEL_TYPE = "data-driven methods"
MODEL_DESCRIPTION = ("twinbridge TrendRul: a hinge fit of the health indicator (a healthy level, then a drift "
                     "from an onset found by least squares) extrapolated to the failure level; the confidence "
                     "interval is a residual bootstrap of the same fit")


@dataclass(frozen=True)
class WatchedSignal:
    """An analytics signal as the builder needs it; the server maps the plant file's
    ``analytics.signals`` entries onto these (``server/analytics_config.watched_signals``).

    ``asset`` holds the signal in its OperationalData; ``maintenance_asset`` gets the results
    (both a shell idShort or id, as the plant file names them). ``failure_level`` is None for a
    signal only watched for anomalies."""

    asset: str
    signal: str
    maintenance_asset: str
    failure_level: float | None = None
    healthy_level: float | None = None
    filters: int = 0


@dataclass(frozen=True)
class RulCondition:
    """One RULCondition: the indicator the RUL model trends and the level that ends the life."""

    name: str
    failure_level: float
    unit: str | None
    description: str


def condition(watched: WatchedSignal, unit: str | None) -> RulCondition:
    """The RULCondition of an ``rul`` signal, in the words of its configuration."""
    assert watched.failure_level is not None
    cleaned = f" after its {watched.filters} filter(s)" if watched.filters else ""
    start = (f"from its healthy level {watched.healthy_level:g}" if watched.healthy_level is not None
             else "from its level over the first samples")
    in_unit = f" {unit}" if unit else ""
    return RulCondition(
        f"{watched.asset}_{watched.signal}".replace(".", "_"), watched.failure_level, unit,
        f"The remaining useful life is the time until {watched.signal} of {watched.asset}{cleaned}, trended "
        f"{start}, reaches the failure level {watched.failure_level:g}{in_unit}.")


def _p(id_short: str, value_type: type, value: object = None) -> model.Property:
    return model.Property(id_short, value_type, value, semantic_id=semantic(f"{_BASE}{id_short}/1/0"))


def _condition(item: RulCondition) -> model.SubmodelElementCollection:
    d = model.datatypes
    return collection(None, f"{_BASE}RULCondition/1/0", [
        _p("ConditionName", d.String, item.name),
        _p("IsBoundaryConditionUsedInModel", d.Boolean, True),
        _p("BoundaryValueRange", d.Double, item.failure_level),
        _p("BoundaryEngineeringUnit", d.String, item.unit),
        _p("BoundaryDescription", d.String, item.description),
    ])


def build(identifier: str, conditions: Sequence[RulCondition]) -> model.Submodel:
    """The submodel of an asset with an RUL model; ``conditions`` are that model's (at least one)."""
    if not conditions:
        raise ValueError(f"{identifier}: IDTA 02048 needs at least one RULCondition (an RUL model's indicator)")
    d = model.datatypes
    lifetime = model.Entity(
        "RemainingUsefulLifetime", model.EntityType.CO_MANAGED_ENTITY,
        [_p("IndicationType", d.String), _p("DurationValue", d.Double), _p("EngineeringUnit", d.String),
         _p("StartValue", d.Double), _p("StartDateTime", d.DateTime)],
        semantic_id=semantic(f"{_BASE}RemainingUsefulLifetime/1/0"),
    )
    confidence = model.Range("ConfidenceInterval", d.Double, None, None,
                             semantic_id=semantic(f"{_BASE}ConfidenceInterval/1/0"))
    items: model.SubmodelElementList[model.SubmodelElementCollection] = model.SubmodelElementList(
        "ListRULBoundaryConditions", model.SubmodelElementCollection, [_condition(c) for c in conditions],
        semantic_id=semantic(f"{_BASE}ListRULBoundaryConditions/1/0"),
        semantic_id_list_element=semantic(f"{_BASE}RULCondition/1/0"))
    information = collection("PredictionModelInformation", f"{_BASE}PredictionModelInformation/1/0", [
        _p("ModelType", d.String, MODEL_TYPE), _p("ModelDescription", d.String, MODEL_DESCRIPTION)])
    prediction = collection("RemainingUsefulLifePrediction", f"{_BASE}RemainingUsefulLifePrediction/1/0",
                            [lifetime, confidence, items, information])
    return submodel(identifier, ID_SHORT, SUBMODEL, [prediction], ("1", "0"))


def build_monitoring(identifier: str) -> model.Submodel:
    """An asset watched for anomalies only: where the anomaly monitor puts its scores."""
    sm = submodel(identifier, ID_SHORT, MONITORING, [])
    sm.description = english("Condition monitoring results (anomaly scores); no remaining useful life is "
                             "predicted for this asset, so it is not an IDTA 02048 instance")
    return sm
