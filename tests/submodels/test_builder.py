"""Plant description → shells and template submodels; the export judged by the IDTA tool and aas-core."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aas_core3 import jsonization, verification
from aas_test_engines.result import AasTestResult
from aas_test_engines.test_cases.v3_0 import json_to_obj, submodel_templates
from aas_test_engines.test_cases.v3_0.adapter import AdapterPath
from aas_test_engines.test_cases.v3_0.parse_submodel import _parse_elements
from basyx.aas import model
from pydantic import ValidationError

from tests.submodels.conftest import BASE, shell_id
from twinbridge.aas import documents
from twinbridge.aas.errors import InvalidInput
from twinbridge.aas.serialization import collect, read_environment, write_environment
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import PlantModel, build_environment
from twinbridge.submodels.description import PlantDescription
from twinbridge.submodels.templates import hierarchy_bom, time_series


def _semantic(obj: model.HasSemantics) -> str:
    assert obj.semantic_id is not None
    return str(obj.semantic_id.key[0].value)


def _build(raw: dict[str, Any]) -> PlantModel:
    return build_environment(PlantDescription.model_validate(raw))


def test_every_asset_becomes_a_shell_with_stable_ids_and_asset_information(plant: PlantModel, twin: Twin) -> None:
    assert len(twin.shells) == 21
    filler = twin.shell(shell_id("DemoPlant/Line1/Cell1/Filler1"))
    info = filler.asset_information
    assert info.asset_kind is model.AssetKind.INSTANCE
    assert info.global_asset_id == f"{BASE}asset/DemoPlant/Line1/Cell1/Filler1"
    assert [(s.name, s.value) for s in info.specific_asset_id] == [("SerialNumber", "F-1001")]
    submodel_ids = sorted(ref.key[0].value for ref in filler.submodel)
    prefix = f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/"
    assert submodel_ids == sorted(prefix + name for name in (
        "Nameplate", "ContactInformation", "TechnicalData", "OperationalData", "HierarchicalStructures",
        "PredictiveMaintenance", "CarbonFootprint"))


def test_ids_are_the_same_on_every_build(raw_description: dict[str, Any]) -> None:
    first, second = _build(raw_description), _build(raw_description)
    assert [s.id for s in first.shells] == [s.id for s in second.shells]
    assert [documents.encode(s) for s in first.submodels] == [documents.encode(s) for s in second.submodels]


def test_templates_carry_their_exact_semantic_ids(twin: Twin) -> None:
    prefix = f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/"
    expected = {
        "Nameplate": "https://admin-shell.io/idta/nameplate/3/0/Nameplate",
        "TechnicalData": "0173-1#01-AHX837#002",
        "OperationalData": "https://admin-shell.io/idta/TimeSeries/1/1",
        "HierarchicalStructures": "https://admin-shell.io/idta/HierarchicalStructures/1/1/Submodel",
        "PredictiveMaintenance": "https://admin-shell.io/idta/SubmodelTemplate/PredictiveMaintenance/1/0",
        "CarbonFootprint": "https://admin-shell.io/idta/CarbonFootprint/CarbonFootprint/0/9",
        "ContactInformation": "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations",
    }
    for name, semantic_id in expected.items():
        assert _semantic(twin.submodel(prefix + name)) == semantic_id
    nameplate = twin.submodel(prefix + "Nameplate")
    assert _semantic(twin.element(nameplate.id, "ManufacturerName")) == "0112/2///61987#ABA565#009"
    assert twin.element(nameplate.id, "YearOfConstruction").value == "2019"  # type: ignore[attr-defined]
    assert isinstance(twin.element(nameplate.id, "DateOfManufacture").value, model.datatypes.Date)  # type: ignore[attr-defined]
    rated = twin.element(prefix + "TechnicalData", "TechnicalPropertyAreas[0].RatedPower")
    assert isinstance(rated, model.Property) and rated.value == 18.5 and rated.value_type is float
    unit_cd = next(cd for cd in twin.concept_descriptions.values() if cd.id == _semantic(rated))
    content = unit_cd.embedded_data_specifications[0].data_specification_content
    assert isinstance(content, model.DataSpecificationIEC61360) and content.unit == "kW"


def test_signals_land_in_the_time_series_live_record(plant: PlantModel, twin: Twin) -> None:
    sm_id, path = plant.signal_target(shell_id("DemoPlant/Line1/Cell1/Filler1"), "SpindleSpeed")
    assert path == "Segments.LiveValues.Records.Current.SpindleSpeed" == time_series.signal_path("SpindleSpeed")
    assert twin.submodel(sm_id).id_short == "OperationalData"
    assert twin.element(sm_id, "Segments.LiveValues.Records.Current.Availability").value == 100.0  # type: ignore[attr-defined]
    assert twin.element(sm_id, "Metadata.Record.SpindleSpeed").value is None  # type: ignore[attr-defined]


def test_bill_of_material_links_down_from_parents_and_up_from_leaves(twin: Twin) -> None:
    """IDTA 02011-1-1: a OneDown EntryNode holds HasPart only ("either this or HasPart, not both");
    a shell without parts is OneUp and names its parent by IsPartOf. SameAs is a RelationshipElement."""
    cell = twin.submodel(f"{BASE}sm/DemoPlant/Line1/Cell1/HierarchicalStructures")
    assert twin.element(cell.id, "ArcheType").value == "OneDown"  # type: ignore[attr-defined]
    entry = twin.element(cell.id, "EntryNode")
    assert isinstance(entry, model.Entity) and entry.global_asset_id == f"{BASE}asset/DemoPlant/Line1/Cell1"
    names = {e.id_short: _semantic(e) for e in entry.statement}
    assert names["Filler1"] == hierarchy_bom.NODE and names["HasPart_Filler1"] == hierarchy_bom.HAS_PART
    assert hierarchy_bom.IS_PART_OF not in names.values() and "Line1" not in names
    same_as = twin.element(cell.id, "EntryNode.Filler1.SameAs")
    assert isinstance(same_as, model.RelationshipElement) and _semantic(same_as) == hierarchy_bom.SAME_AS
    assert [k.value for k in same_as.first.key] == [cell.id, "EntryNode", "Filler1"]
    assert [k.value for k in same_as.second.key] == [
        f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/HierarchicalStructures", "EntryNode"]
    valves = twin.submodel(f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/HierarchicalStructures")
    assert twin.element(valves.id, "EntryNode.Filler1Valves.BulkCount").value == 40  # type: ignore[attr-defined]
    leaf = twin.submodel(f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/Filler1Valves/HierarchicalStructures")
    assert twin.element(leaf.id, "ArcheType").value == "OneUp"  # type: ignore[attr-defined]
    leaf_entry = twin.element(leaf.id, "EntryNode")
    assert isinstance(leaf_entry, model.Entity)
    assert {_semantic(e) for e in leaf_entry.statement} == {hierarchy_bom.NODE, hierarchy_bom.IS_PART_OF}
    assert twin.element(leaf.id, "EntryNode.Filler1").global_asset_id == (  # type: ignore[attr-defined]
        f"{BASE}asset/DemoPlant/Line1/Cell1/Filler1")


def test_archetype_full_nests_the_whole_subtree(raw_description: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_description)
    raw["hierarchy"] = {"archetype": "Full"}
    twin = Twin()
    _build(raw).load_into(twin)
    root = f"{BASE}sm/DemoPlant/HierarchicalStructures"
    assert twin.element(root, "ArcheType").value == "Full"  # type: ignore[attr-defined]
    deep = twin.element(root, "EntryNode.Line1.Cell1.Filler1.Filler1Motor")
    assert isinstance(deep, model.Entity)


@pytest.mark.parametrize(("change", "message"), [
    (lambda a: a[0]["children"][0].update(level="plant"), "not below plant"),
    (lambda a: a[0]["children"].append(copy.deepcopy(a[0]["children"][0])), "listed twice"),
    (lambda a: a[0]["children"][0].update(colour="red"), "colour"),
    (lambda a: a[0]["children"][0].update(id_short="1Line"), "not a valid idShort"),
    (lambda a: a[0]["children"][0]["rollups"][0].update(function="median"), "function"),
    (lambda a: a[0]["children"][0]["rollups"][0].update(value_type="xs:string"), "not numeric"),
])
def test_bad_descriptions_are_rejected_with_the_place(raw_description: dict[str, Any], change: Any,
                                                       message: str) -> None:
    raw = copy.deepcopy(raw_description)
    change(raw["assets"])
    with pytest.raises(ValidationError, match=message):
        PlantDescription.model_validate(raw)


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: f["technical_data"]["properties"][0].update(value="fast"),
     "Filler1: technical_data.RatedPower: 'fast' is not a valid xs:double"),
    (lambda f: f["signals"].__setitem__(4, {**f["signals"][4], "initial": 3.5}),
     "Filler1: signals.Running: 3.5 is not a valid xs:boolean"),
    (lambda f: f["technical_data"]["properties"].append({"id_short": "Torque", "value_type": "xs:double",
                                                         "semantic_id": "0173-1#02-AAV590#001", "unit": "Nm"}),
     "signals.Power: semanticId '0173-1#02-AAV590#001' has unit 'kW' here but 'Nm' at .*technical_data.Torque"),
])
def test_wrongly_typed_template_values_are_rejected(raw_description: dict[str, Any], change: Any,
                                                   message: str) -> None:
    raw = copy.deepcopy(raw_description)
    filler = raw["assets"][0]["children"][0]["children"][0]["children"][0]
    filler["signals"] = copy.deepcopy(filler["signals"])
    change(filler)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        _build(raw)


def test_a_rollup_reading_a_signal_no_child_has_is_rejected(raw_description: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_description)
    raw["assets"][0]["children"][0]["rollups"][0]["input"] = "Pressure"
    with pytest.raises(InvalidInput, match="Line1: roll-up TotalPower reads 'Pressure'"):
        _build(raw)


def test_the_exported_aasx_passes_the_idta_tool_and_aas_core(twin: Twin, tmp_path: Path) -> None:
    package = tmp_path / "plant.aasx"
    package.write_bytes(write_environment(collect(twin, None, None, True), "aasx"))
    tool = Path(sys.executable).with_name("aas_test_engines")
    run = subprocess.run([str(tool), "check_file", str(package), "--format", "aasx"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    contacts = [sm for sm in twin.submodels.values() if sm.id_short == "ContactInformation"]
    assert run.stdout.count("Template: ContactInformations") == len(contacts) > 0
    packed = read_environment(package.read_bytes(), "aasx")
    assert len(packed.shells) == len(twin.shells) and len(packed.submodels) == len(twin.submodels)
    assert len(packed.concept_descriptions) == len(twin.concept_descriptions) > 0
    environment = jsonization.environment_from_jsonable({
        "assetAdministrationShells": [documents.to_jsonable(s) for s in twin.shells.values()],
        "submodels": [documents.to_jsonable(s) for s in twin.submodels.values()],
        "conceptDescriptions": [documents.to_jsonable(c) for c in twin.concept_descriptions.values()],
    })
    assert [f"{error.path}: {error.cause}" for error in verification.verify(environment)] == []


def test_the_nameplate_address_passes_the_tool_contact_information_check(twin: Twin) -> None:
    """The IDTA tool ships a template check for Nameplate 2.0 only; our 3.0 nameplate's AddressInformation
    reuses the ContactInformation collection, so the tool's ContactInformation check applies to it."""
    data = json.loads(documents.encode(twin.submodel(f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/Nameplate")))
    parsed_result, environment = json_to_obj({"submodels": [data]}, "Environment")
    assert parsed_result.ok()
    submodel = environment.submodels[0]  # type: ignore[attr-defined]
    address = next(e for e in submodel.submodel_elements if e.id_short.raw_value == "AddressInformation")
    result = AasTestResult("AddressInformation")
    contact = _parse_elements(result, submodel_templates.ContactInformation, address.value, AdapterPath())
    assert result.ok(), result.to_dict() if hasattr(result, "to_dict") else result
    assert contact.company == {"en": "Krones AG"} and contact.national_code == {"en": "DE"}
