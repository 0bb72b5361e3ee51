"""Each template builder against the mandatory elements of the template file IDTA publishes.

The tables below were read from admin-shell-io/submodel-templates (``published/...``) and
copied here, so the test needs no network: element kind, idShort, semanticId and value type
of every element with cardinality One/OneToMany, plus the optional elements our builders
emit (whose kind and type must match too). ``[]`` in a path is "every item of the list".
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import pytest
from basyx.aas import model
from pydantic import ValidationError

from tests.submodels.conftest import BASE
from twinbridge.aas import paths
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import build_environment
from twinbridge.submodels.description import PlantDescription
from twinbridge.submodels.templates import predictive_maintenance


@dataclass(frozen=True)
class Row:
    path: str
    kind: type[model.SubmodelElement]
    semantic_id: str
    value_type: str | None = None
    mandatory: bool = True


P, MLP, SMC, SML, ENT, REL = (model.Property, model.MultiLanguageProperty, model.SubmodelElementCollection,
                              model.SubmodelElementList, model.Entity, model.RelationshipElement)
S, DATE, URI, DBL, ULONG = "xs:string", "xs:date", "xs:anyURI", "xs:double", "xs:unsignedLong"

# IDTA 02006-3-0-2_Template_Digital Nameplate.json
NAMEPLATE = ("https://admin-shell.io/idta/nameplate/3/0/Nameplate", [
    Row("URIOfTheProduct", P, "0112/2///61987#ABN590#002", URI),
    Row("ManufacturerName", MLP, "0112/2///61987#ABA565#009"),
    Row("ManufacturerProductDesignation", MLP, "0112/2///61987#ABA567#009"),
    Row("AddressInformation", SMC, "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/AddressInformation"),
    Row("OrderCodeOfManufacturer", P, "0112/2///61987#ABA950#008", S),
    Row("ManufacturerProductFamily", MLP, "0112/2///61987#ABP464#002", mandatory=False),
    Row("ManufacturerProductType", P, "0112/2///61987#ABA300#008", S, mandatory=False),
    Row("ProductArticleNumberOfManufacturer", P, "0112/2///61987#ABA581#007", S, mandatory=False),
    Row("SerialNumber", P, "0112/2///61987#ABA951#009", S, mandatory=False),
    Row("YearOfConstruction", P, "0112/2///61987#ABP000#002", S, mandatory=False),
    Row("DateOfManufacture", P, "0112/2///61987#ABB757#007", DATE, mandatory=False),
    Row("HardwareVersion", P, "0112/2///61987#ABA926#008", S, mandatory=False),
    Row("FirmwareVersion", P, "0112/2///61987#ABA302#006", S, mandatory=False),
    Row("SoftwareVersion", P, "0112/2///61987#ABA601#008", S, mandatory=False),
    Row("CountryOfOrigin", P, "0112/2///61987#ABP462#001", S, mandatory=False),
    Row("AddressInformation.Company", MLP, "0173-1#02-AAW001#001", mandatory=False),
    Row("AddressInformation.CityTown", MLP, "0173-1#02-AAO132#002", mandatory=False),
    Row("AddressInformation.NationalCode", MLP, "0173-1#02-AAO134#002", mandatory=False),
])
# IDTA 02002-1-0-2_Template_ContactInformation.json
CONTACT = ("https://admin-shell.io/zvei/nameplate/1/0/ContactInformations", [
    Row("ContactInformation", SMC, "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/ContactInformation"),
    Row("ContactInformation.RoleOfContactPerson", P, "0173-1#02-AAO204#003", S, mandatory=False),
    Row("ContactInformation.Street", MLP, "0173-1#02-AAO128#002", mandatory=False),
    Row("ContactInformation.Zipcode", MLP, "0173-1#02-AAO129#002", mandatory=False),
    Row("ContactInformation.Phone.TelephoneNumber", MLP, "0173-1#02-AAO136#002", mandatory=False),
    Row("ContactInformation.Phone.TypeOfTelephone", P, "0173-1#02-AAO137#003", S, mandatory=False),
    Row("ContactInformation.Email", SMC, "0173-1#02-AAQ836#005", mandatory=False),
    Row("ContactInformation.Email.EmailAddress", P, "0173-1#02-AAO198#002", S, mandatory=False),
    Row("ContactInformation.Email.TypeOfEmailAddress", P, "0173-1#02-AAO199#003", S, mandatory=False),
])
# IDTA 02003_2-0-2_Template_TechnicalData.json (bug-fix edition of 02003-2-0)
TECHNICAL_DATA = ("0173-1#01-AHX837#002", [
    Row("GeneralInformation", SMC, "0173-1#02-ABK161#002/0173-1#01-AHX838#002"),
    Row("GeneralInformation.ManufacturerName", P, "0173-1#02-AAO677#004", S),
    Row("GeneralInformation.ManufacturerProductDesignation", MLP, "0173-1#02-AAW338#003"),
    Row("GeneralInformation.ManufacturerArticleNumber", P, "0173-1#02-AAO676#005", S),
    Row("GeneralInformation.ManufacturerOrderCode", P, "0173-1#02-AAO227#004", S),
    Row("ProductClassifications", SML, "0173-1#02-ABK162#002", mandatory=False),
    Row("ProductClassifications[]", SMC, "0173-1#02-ABK162#002/0173-1#01-AHX839#002", mandatory=False),
    Row("ProductClassifications[].ClassificationSystem", P, "0173-1#02-ABL424#001", S, mandatory=False),
    Row("ProductClassifications[].ClassificationSystemVersion", P, "0173-1#02-AAR710#003", S, mandatory=False),
    Row("ProductClassifications[].ProductClassId", P, "0173-1#02-ABG776#003", S, mandatory=False),
    Row("ProductClassifications[].ProductClassCodedName", P, "0173-1#02-ABK128#002", S, mandatory=False),
    Row("ProductClassifications[].ProductClassName", MLP, "0173-1#02-ABK273#002", mandatory=False),
    Row("TechnicalPropertyAreas", SML, "0173-1#02-ABK163#002", mandatory=False),
    Row("TechnicalPropertyAreas[]", SMC, "0173-1#02-ABL358#002/0173-1#01-AHX773#002", mandatory=False),
])
# the mandatory children of a ProductClassifications item (cardinality One) when the list is there
CLASSIFICATION_ITEM = ("ClassificationSystem", "ProductClassId", "ProductClassCodedName")
# IDTA 02011-1-1-2_Template_HSEBoM.json
_HS = "https://admin-shell.io/idta/HierarchicalStructures/"
HIERARCHY = (f"{_HS}1/1/Submodel", [
    Row("EntryNode", ENT, f"{_HS}EntryNode/1/0"),
    Row("ArcheType", P, f"{_HS}ArcheType/1/0", S),
])
# IDTA_2023-0-9_Template_CarbonFootprint.json
_CF = "https://admin-shell.io/idta/CarbonFootprint/"
CARBON = (f"{_CF}CarbonFootprint/0/9", [
    Row("ProductCarbonFootprint", SMC, f"{_CF}ProductCarbonFootprint/0/9"),
    Row("ProductCarbonFootprint.PCFCalculationMethod", P, "0173-1#02-ABG854#001", S),
    Row("ProductCarbonFootprint.PCFCO2eq", P, "0173-1#02-ABG855#001", DBL),
    Row("ProductCarbonFootprint.PCFReferenceValueForCalculation", P, "0173-1#02-ABG856#001", S),
    Row("ProductCarbonFootprint.PCFQuantityOfMeasureForCalculation", P, "0173-1#02-ABG857#001", DBL),
    Row("ProductCarbonFootprint.PCFLifeCyclePhase", P, "0173-1#02-ABG858#001", S),
    Row("ProductCarbonFootprint.PCFGoodsAddressHandover", SMC, "0173-1#02-ABI497#001"),
    Row("ProductCarbonFootprint.PCFGoodsAddressHandover.Street", P, "0173-1#02-ABH956#001", S, mandatory=False),
    Row("ProductCarbonFootprint.PCFGoodsAddressHandover.ZipCode", P, "0173-1#02-ABH958#001", S, mandatory=False),
    Row("ProductCarbonFootprint.PCFGoodsAddressHandover.CityTown", P, "0173-1#02-ABH959#001", S, mandatory=False),
    Row("ProductCarbonFootprint.PCFGoodsAddressHandover.Country", P, "0173-1#02-AAO259#005", S, mandatory=False),
    Row("ProductCarbonFootprint.PublicationDate", P, f"{_CF}PublicationDate/1/0", S),
])
# IDTA 02048_Template_PredictiveMaintenance.json (1.0): everything under RemainingUsefulLifePrediction
# (One). The rows a monitor adds at run time (RemainingUsfulLifeDateTime) and the template's optional
# elements we do not emit (ListPreAlerts, AlertAfterExceedingRemainingUsableLife, DriftInfoAIModel, ...)
# are listed too: PM_CLOSED below refuses any element the table does not name.
_PM = "https://admin-shell.io/idta/PredictiveMaintenance/"
_RUL = "RemainingUsefulLifePrediction"
_COND = f"{_RUL}.ListRULBoundaryConditions[]"
PREDICTIVE = ("https://admin-shell.io/idta/SubmodelTemplate/PredictiveMaintenance/1/0", [
    Row(_RUL, SMC, f"{_PM}RemainingUsefulLifePrediction/1/0"),
    Row(f"{_RUL}.RemainingUsefulLifetime", ENT, f"{_PM}RemainingUsefulLifetime/1/0"),
    Row(f"{_RUL}.RemainingUsefulLifetime.IndicationType", P, f"{_PM}IndicationType/1/0", S),
    Row(f"{_RUL}.RemainingUsefulLifetime.DurationValue", P, f"{_PM}DurationValue/1/0", DBL),
    Row(f"{_RUL}.RemainingUsefulLifetime.EngineeringUnit", P, f"{_PM}EngineeringUnit/1/0", S),
    Row(f"{_RUL}.RemainingUsefulLifetime.StartValue", P, f"{_PM}StartValue/1/0", DBL),
    Row(f"{_RUL}.RemainingUsefulLifetime.StartDateTime", P, f"{_PM}StartDateTime/1/0", "xs:dateTime",
        mandatory=False),
    Row(f"{_RUL}.RemainingUsefulLifetime.Description", P, f"{_PM}Description/1/0", S, mandatory=False),
    Row(f"{_RUL}.RemainingUsfulLifeDateTime", P, f"{_PM}RemainingUsfulLifeDateTime/1/0", "xs:dateTime",
        mandatory=False),
    Row(f"{_RUL}.ConfidenceInterval", model.Range, f"{_PM}ConfidenceInterval/1/0", DBL),
    Row(f"{_RUL}.ListRULBoundaryConditions", SML, f"{_PM}ListRULBoundaryConditions/1/0"),
    Row(_COND, SMC, f"{_PM}RULCondition/1/0"),  # OneToMany: an empty list is "missing"
    Row(f"{_COND}.ConditionName", P, f"{_PM}ConditionName/1/0", S),
    Row(f"{_COND}.IsBoundaryConditionUsedInModel", P, f"{_PM}IsBoundaryConditionUsedInModel/1/0", "xs:boolean"),
    Row(f"{_COND}.BoundaryValueRange", P, f"{_PM}BoundaryValueRange/1/0", DBL),  # a Property in the file
    Row(f"{_COND}.BoundaryEngineeringUnit", P, f"{_PM}BoundaryEngineeringUnit/1/0", S),
    Row(f"{_COND}.DriftInfoAIModel", model.Range, f"{_PM}DriftInfoAIModel/1/0", DBL, mandatory=False),
    Row(f"{_COND}.MeanValue", P, f"{_PM}MeanValue/1/0", DBL, mandatory=False),
    Row(f"{_COND}.Standarddeviation", P, f"{_PM}Standarddeviation/1/0", DBL, mandatory=False),
    Row(f"{_COND}.Skewness", P, f"{_PM}Skewness/1/0", DBL, mandatory=False),
    Row(f"{_COND}.BoundaryDescription", P, f"{_PM}BoundaryDescription/1/0", S, mandatory=False),
    Row(f"{_RUL}.PredictionModelInformation", SMC, f"{_PM}PredictionModelInformation/1/0"),
    Row(f"{_RUL}.PredictionModelInformation.ModelType", P, f"{_PM}ModelType/1/0", S),
    Row(f"{_RUL}.PredictionModelInformation.ModelDescription", P, f"{_PM}ModelDescription/1/0", S, mandatory=False),
    Row(f"{_RUL}.PredictionModelInformation.SMAIModelNamePlate", model.ReferenceElement,
        f"{_PM}SMAIModelNamePlate/1/0", mandatory=False),
    Row(f"{_RUL}.ListPreAlerts", SML, f"{_PM}ListPreAlerts/1/0", mandatory=False),
    Row(f"{_RUL}.AlertAfterExceedingRemainingUsableLife", SMC, f"{_PM}AlertAfterExceedingRemainingUsableLife/1/0",
        mandatory=False),
])
# Top-level collections of ours that analytics adds beside the template's (twinbridge semanticIds).
PM_OURS = ("AnomalyDetection", "HealthAssessment")
# The template's ModelType enumeration
MODEL_TYPES = ("physical based methods", "data-driven methods", "hybrid methods")
# IDTA 02008-1-1_Template_TimeSeriesData.json (Metadata and an internal segment). Records and segments
# are ZeroToMany collections: an instance names them (ours: LiveValues, Current) and the template
# judges them by semanticId; the record's time is "Time" (AllowedIdShort Time[\d{2,3}]), its
# semanticId one of the four time concepts of 02008 (UtcTime: xs:dateTime).
_TS = "https://admin-shell.io/idta/TimeSeries/"
TIME_SERIES = (f"{_TS}1/1", [
    Row("Metadata", SMC, f"{_TS}Metadata/1/1"),
    Row("Metadata.Name", MLP, f"{_TS}Metadata/Name/1/1"),
    Row("Metadata.Description", MLP, f"{_TS}Metadata/Description/1/1", mandatory=False),
    Row("Metadata.Record", SMC, f"{_TS}Record/1/1"),
    Row("Segments", SMC, f"{_TS}Segments/1/1"),
    Row("Segments.LiveValues", SMC, f"{_TS}Segments/InternalSegment/1/1", mandatory=False),
    Row("Segments.LiveValues.Name", MLP, f"{_TS}Segment/Name/1/1", mandatory=False),
    Row("Segments.LiveValues.RecordCount", P, f"{_TS}Segment/RecordCount/1/1", "xs:long", mandatory=False),
    Row("Segments.LiveValues.Records", SMC, f"{_TS}Records/1/1", mandatory=False),
])
TIME_CONCEPTS = {f"{_TS}UtcTime/1/1": "xs:dateTime", f"{_TS}TaiTime/1/1": "xs:dateTime",
                 f"{_TS}RelativePointInTime/1/1": "xs:long", f"{_TS}RelativeTimeDuration/1/1": "xs:long"}
SEGMENTS = {f"{_TS}Segments/{kind}/1/1" for kind in ("InternalSegment", "LinkedSegment", "ExternalSegment")}
TEMPLATES = {
    "OperationalData": TIME_SERIES, "Nameplate": NAMEPLATE, "ContactInformation": CONTACT,
    "TechnicalData": TECHNICAL_DATA, "HierarchicalStructures": HIERARCHY, "CarbonFootprint": CARBON,
    "PredictiveMaintenance": PREDICTIVE,
}


def _semantic(obj: model.HasSemantics) -> str | None:
    return obj.semantic_id.key[0].value if obj.semantic_id is not None and obj.semantic_id.key else None


def _resolve(root: model.Submodel, path: str) -> list[model.SubmodelElement]:
    """Every element at ``path``; ``[]`` fans out over a list's items."""
    found: list[Any] = [root]
    for step in path.split("."):
        name, fan_out = (step[:-2], True) if step.endswith("[]") else (step, False)
        found = [child for node in found for child in paths.children(node) if child.id_short == name]
        if fan_out:
            found = [item for node in found for item in paths.children(node)]
    return found


def _value_type(element: model.SubmodelElement) -> str | None:
    value_type = getattr(element, "value_type", None)
    return model.datatypes.XSD_TYPE_NAMES[value_type] if value_type is not None else None


def _submodels(twin: Twin, id_short: str) -> list[model.Submodel]:
    """The instances of a template: submodels that claim its semanticId (a PredictiveMaintenance
    submodel for anomaly scores only claims none; test_monitoring_only_... holds it)."""
    semantic_id = TEMPLATES[id_short][0]
    return [sm for sm in twin.submodels.values() if sm.id_short == id_short and _semantic(sm) == semantic_id]


@pytest.mark.parametrize("id_short", sorted(TEMPLATES))
def test_every_instance_has_the_mandatory_elements_of_the_published_template(twin: Twin, id_short: str) -> None:
    semantic_id, rows = TEMPLATES[id_short]
    instances = _submodels(twin, id_short)
    assert instances, f"the example plant builds no {id_short}"
    problems: list[str] = []
    for sm in instances:
        if _semantic(sm) != semantic_id:
            problems.append(f"{sm.id}: semanticId {_semantic(sm)!r}, template {semantic_id!r}")
        for row in rows:
            elements = _resolve(sm, row.path)
            if not elements and row.mandatory:
                problems.append(f"{sm.id}: mandatory {row.path} is missing")
            for element in elements:
                seen = (type(element).__name__, _semantic(element), _value_type(element))
                wanted = (row.kind.__name__, row.semantic_id, row.value_type)
                if seen != wanted:
                    problems.append(f"{sm.id}: {row.path} is {seen}, template {wanted}")
    assert problems == []


def test_classification_items_carry_the_template_mandatory_children(twin: Twin) -> None:
    items = [item for sm in _submodels(twin, "TechnicalData") for item in _resolve(sm, "ProductClassifications[]")]
    assert items
    for item in items:
        assert {c.id_short for c in paths.children(item)} >= set(CLASSIFICATION_ITEM)


def test_a_bom_entry_node_holds_either_has_part_or_is_part_of(twin: Twin) -> None:
    """IDTA 02011-1-1 on the EntryNode: "either this [IsPartOf] or HasPart, not both"."""
    for sm in _submodels(twin, "HierarchicalStructures"):
        entry = _resolve(sm, "EntryNode")[0]
        kinds = {_semantic(e) for e in paths.children(entry) if isinstance(e, model.RelationshipElement)}
        archetype = _resolve(sm, "ArcheType")[0].value  # type: ignore[attr-defined]
        has_part, is_part_of = f"{_HS}HasPart/1/0", f"{_HS}IsPartOf/1/0"
        assert kinds <= ({has_part} if archetype in ("OneDown", "Full") else {is_part_of}), sm.id
        for same_as in (e for e in _walk(entry) if e.id_short == "SameAs"):
            assert isinstance(same_as, model.RelationshipElement) and _semantic(same_as) == f"{_HS}SameAs/1/0"


def _walk(node: model.Referable) -> list[model.Referable]:
    out: list[model.Referable] = []
    for child in paths.children(node):
        out.append(child)
        out.extend(_walk(child))
    return out


def test_the_order_code_is_never_made_up(raw_description: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_description)
    del raw["assets"][0]["nameplate"]["order_code_of_manufacturer"]
    with pytest.raises(ValidationError, match="order_code_of_manufacturer"):
        PlantDescription.model_validate(raw)


@pytest.mark.parametrize(("field", "plate_field"), [
    ("manufacturer_article_number", "product_article_number_of_manufacturer"),
    ("manufacturer_order_code", "order_code_of_manufacturer"),
])
def test_technical_data_needs_a_source_for_each_mandatory_general_field(
        raw_description: dict[str, Any], field: str, plate_field: str) -> None:
    raw = copy.deepcopy(raw_description)
    filler = raw["assets"][0]["children"][0]["children"][0]["children"][0]
    filler["nameplate"] = dict(filler["nameplate"])
    if plate_field == "order_code_of_manufacturer":  # required on the nameplate: test without a nameplate
        filler.pop("nameplate")
        filler.pop("carbon_footprint")
        filler["technical_data"] = {**filler["technical_data"], "manufacturer_name": "Krones",
                                    "manufacturer_product_designation": "Rotary filler",
                                    "manufacturer_article_number": "MF40-0040"}
    else:
        filler["nameplate"].pop(plate_field, None)
    with pytest.raises(ValidationError, match=f"technical_data.{field} is mandatory"):
        PlantDescription.model_validate(raw)
    filler["technical_data"] = {**filler["technical_data"], field: "X-1"}
    plant = build_environment(PlantDescription.model_validate(raw))
    technical = next(sm for sm in plant.submodels if sm.id == f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/TechnicalData")
    name = {"manufacturer_article_number": "ManufacturerArticleNumber",
            "manufacturer_order_code": "ManufacturerOrderCode"}[field]
    assert _resolve(technical, f"GeneralInformation.{name}")[0].value == "X-1"  # type: ignore[attr-defined]


def _element_paths(node: model.Referable, prefix: str = "") -> list[tuple[str, model.Referable]]:
    """(path as the tables write it, element) for every element below ``node``."""
    out: list[tuple[str, model.Referable]] = []
    for child in paths.children(node):
        path = f"{prefix}[]" if isinstance(node, model.SubmodelElementList) else \
            f"{prefix}.{child.id_short}" if prefix else str(child.id_short)
        out.append((path, child))
        out.extend(_element_paths(child, path))
    return out


def test_a_predictive_maintenance_instance_holds_nothing_the_template_does_not_name(twin: Twin) -> None:
    known = {row.path for row in PREDICTIVE[1]}
    instances = _submodels(twin, "PredictiveMaintenance")
    assert len(instances) == 2  # Filler1 and Packer1: the assets the test plant gives an rul
    for sm in instances:
        strays = [path for path, _ in _element_paths(sm) if path not in known and path.split(".")[0] not in PM_OURS]
        assert strays == [], sm.id


def test_each_rul_condition_is_the_rul_configuration_of_the_plant_file(twin: Twin) -> None:
    """Filler1's RUL trends Filler1Motor's filtered vibration towards 4.5 mm/s, Packer1's its power
    towards 30 kW (tests/submodels/plant.yaml, analytics): that is what their RULConditions state."""
    def conditions(machine: str) -> list[dict[str, Any]]:
        sm = twin.submodel(f"{BASE}sm/{machine}/PredictiveMaintenance")
        return [{c.id_short: c.value for c in paths.children(item)}  # type: ignore[attr-defined]
                for item in _resolve(sm, _COND)]

    filler, packer = conditions("DemoPlant/Line1/Cell1/Filler1"), conditions("DemoPlant/Line2/Cell3/Packer1")
    assert [{k: v for k, v in c.items() if k != "BoundaryDescription"} for c in filler] == [
        {"ConditionName": "Filler1Motor_Vibration", "IsBoundaryConditionUsedInModel": True,
         "BoundaryValueRange": 4.5, "BoundaryEngineeringUnit": "mm/s"}]
    assert "after its 1 filter(s)" in filler[0]["BoundaryDescription"]
    assert "healthy level 0.8" in filler[0]["BoundaryDescription"]
    assert "4.5 mm/s" in filler[0]["BoundaryDescription"]
    assert [(c["ConditionName"], c["BoundaryValueRange"], c["BoundaryEngineeringUnit"]) for c in packer] == [
        ("Packer1_Power", 30.0, "kW")]
    for sm in _submodels(twin, "PredictiveMaintenance"):
        model_type = _resolve(sm, f"{_RUL}.PredictionModelInformation.ModelType")[0]
        assert model_type.value in MODEL_TYPES  # type: ignore[attr-defined]


def test_an_asset_watched_for_anomalies_only_gets_no_claim_to_the_template(twin: Twin) -> None:
    capper = twin.submodel(f"{BASE}sm/DemoPlant/Line1/Cell1/Capper1/PredictiveMaintenance")
    assert _semantic(capper) == predictive_maintenance.MONITORING and list(capper.submodel_element) == []
    maintained = [sm.id for sm in twin.submodels.values() if sm.id_short == "PredictiveMaintenance"]
    assert len(maintained) == 3  # no analytics, no Predictive Maintenance (Labeller1, Conveyor1, ...)
    with pytest.raises(ValueError, match="at least one RULCondition"):
        predictive_maintenance.build("urn:x:pm", [])


def test_time_series_records_follow_the_metadata_record(twin: Twin) -> None:
    """IDTA 02008-1-1: every record of a segment has the variables Metadata.Record declares (same
    idShort, semanticId, value type), a time of one of the template's time concepts, and carries
    the Record semanticId; every segment is one of the template's three kinds."""
    instances = _submodels(twin, "OperationalData")
    assert instances
    for sm in instances:
        declared = [(e.id_short, _semantic(e), _value_type(e)) for e in _resolve(sm, "Metadata.Record")[0]
                    .value]  # type: ignore[attr-defined]
        time_name, time_concept, time_type = declared[0]
        assert re.fullmatch(r"Time(\d{2,3})?", str(time_name)) and TIME_CONCEPTS.get(str(time_concept)) == time_type
        segments = list(paths.children(_resolve(sm, "Segments")[0]))
        assert segments and {_semantic(segment) for segment in segments} <= SEGMENTS
        records = [record for segment in segments for records in paths.children(segment)
                   if records.id_short == "Records" for record in paths.children(records)]
        assert records, sm.id
        for record in records:
            assert _semantic(record) == f"{_TS}Record/1/1"  # type: ignore[arg-type]
            assert [(e.id_short, _semantic(e), _value_type(e)) for e in paths.children(record)] == declared
