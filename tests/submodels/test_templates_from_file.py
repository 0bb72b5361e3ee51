"""Instantiating a template published as a (not strictly valid) JSON or AASX file."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from basyx.aas import model
from basyx.aas.adapter import aasx

from tests.submodels.conftest import BASE
from twinbridge.aas.errors import InvalidInput
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import build_environment
from twinbridge.submodels.description import PlantDescription

_CARDINALITY = {
    "semanticId": {"type": "ExternalReference",
                   "keys": [{"type": "GlobalReference",
                             "value": "https://admin-shell.io/SubmodelTemplates/Cardinality/1/0"}]},
    "kind": "TemplateQualifier", "type": "SMT/Cardinality", "valueType": "xs:string", "value": "One",
}
TEMPLATE: dict[str, Any] = {
    "submodels": [{
        "idShort": "MaintenanceInstructions", "id": "https://admin-shell.io/idta/SubmodelTemplate/Maint/1/0",
        "kind": "Template", "modelType": "Submodel",
        "semanticId": {"type": "ExternalReference",
                       "keys": [{"type": "GlobalReference", "value": "https://admin-shell.io/idta/Maint/1/0"}]},
        "submodelElements": [
            {"idShort": "IntervalHours", "modelType": "Property", "valueType": "xs:int", "qualifiers": [_CARDINALITY]},
            {"idShort": "Note", "modelType": "MultiLanguageProperty"},
            {"idShort": "Steps", "modelType": "SubmodelElementCollection", "value": [
                {"idShort": "Lubricate", "modelType": "Property", "valueType": "xs:boolean"}]},
            # not valid AAS: a Property without valueType; failsafe loading skips it
            {"idShort": "Broken", "modelType": "Property"},
        ],
    }],
}


def _plant(template_file: Path, values: dict[str, Any]) -> dict[str, Any]:
    return {"base_iri": BASE, "assets": [{
        "id_short": "Press", "level": "machine",
        "templates": [{"file": template_file.name, "values": values}],
    }]}


def test_a_json_template_is_instantiated_failsafe_with_typed_values(tmp_path: Path) -> None:
    (tmp_path / "maint.json").write_text(json.dumps(TEMPLATE))
    raw = _plant(tmp_path / "maint.json", {"IntervalHours": 500, "Note": "weekly", "Steps.Lubricate": "true"})
    twin = Twin()
    build_environment(PlantDescription.model_validate(raw), tmp_path).load_into(twin)
    sm = twin.submodel(f"{BASE}sm/Press/MaintenanceInstructions")
    assert sm.kind is model.ModellingKind.INSTANCE
    assert twin.element(sm.id, "IntervalHours").value == 500  # type: ignore[attr-defined]
    assert not twin.element(sm.id, "IntervalHours").qualifier
    assert twin.element(sm.id, "Steps.Lubricate").value is True  # type: ignore[attr-defined]
    assert twin.element(sm.id, "Note").value == {"en": "weekly"}  # type: ignore[attr-defined]
    assert {e.id_short for e in sm.submodel_element} == {"IntervalHours", "Note", "Steps"}
    assert sm.id in {ref.key[0].value for ref in twin.shell(f"{BASE}aas/Press").submodel}


def test_an_aasx_template_is_read_too(tmp_path: Path) -> None:
    source = io.StringIO(json.dumps(TEMPLATE))
    from basyx.aas.adapter.json import read_aas_json_file

    objects = read_aas_json_file(source, failsafe=True)
    with aasx.AASXWriter(str(tmp_path / "maint.aasx")) as writer:
        writer.write_all_aas_objects("/aasx/t.json", objects, aasx.DictSupplementaryFileContainer(), write_json=True)
    raw = _plant(tmp_path / "maint.aasx", {"IntervalHours": "250"})
    plant = build_environment(PlantDescription.model_validate(raw), tmp_path)
    sm = next(s for s in plant.submodels if s.id_short == "MaintenanceInstructions")
    assert sm.get_referable("IntervalHours").value == 250  # type: ignore[attr-defined]


@pytest.mark.parametrize(("values", "message"), [
    ({"IntervalHours": "often"}, "Press: templates\\[0\\]: IntervalHours: 'often' is not a valid xs:int"),
    ({"Steps": 3}, "Steps: the template element is a SubmodelElementCollection, which takes no value"),
    ({"Steps.Oil": 1}, "no element 'Oil' in Steps"),
    ({"Note": 5}, "Note: a MultiLanguageProperty takes text"),
])
def test_wrong_template_values_are_rejected(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    (tmp_path / "maint.json").write_text(json.dumps(TEMPLATE))
    with pytest.raises(InvalidInput, match=message):
        build_environment(PlantDescription.model_validate(_plant(tmp_path / "maint.json", values)), tmp_path)


def test_missing_or_unreadable_template_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"maint\.json: No such file"):
        build_environment(PlantDescription.model_validate(_plant(tmp_path / "maint.json", {})), tmp_path)
    (tmp_path / "maint.json").write_text("{not json")
    with pytest.raises(InvalidInput, match=r"maint\.json: cannot be read"):
        build_environment(PlantDescription.model_validate(_plant(tmp_path / "maint.json", {})), tmp_path)
    other = copy.deepcopy(TEMPLATE)
    other["submodels"][0]["idShort"] = "Other"
    (tmp_path / "maint.json").write_text(json.dumps(other))
    raw = _plant(tmp_path / "maint.json", {})
    raw["assets"][0]["templates"][0]["submodel"] = "MaintenanceInstructions"
    with pytest.raises(InvalidInput, match="does not contain a submodel 'MaintenanceInstructions'"):
        build_environment(PlantDescription.model_validate(raw), tmp_path)
