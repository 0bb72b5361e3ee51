"""The demo plant and the test plant, exported, judged by independent tools: ``aas-submodel-validate``
(IDTA template conformance, carrying the published template files) and aas-core (the metamodel)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aas_core3 import jsonization, verification

from tests.submodels.conftest import watched
from twinbridge.aas.serialization import Environment, write_environment
from twinbridge.submodels.builder import PlantModel, build_environment
from twinbridge.submodels.description import PlantDescription

ROOT = Path(__file__).resolve().parents[2]
PLANTS = {"demo": ROOT / "examples" / "plant.yaml", "test": ROOT / "tests" / "submodels" / "plant.yaml"}
# Templates the tool has tables for and our builders emit (Carbon Footprint 0.9 and Time Series
# are not among its tables; they are held by test_templates_conformance.py).
JUDGED = ("Nameplate", "ContactInformation", "TechnicalData", "HierarchicalStructures")


def _plant(path: Path) -> PlantModel:
    raw = yaml.safe_load(path.read_text())
    return build_environment(PlantDescription.model_validate(raw["plant"]), path.parent, watched(path))


def _smtv(package: Path) -> dict[str, Any]:
    tool = Path(sys.executable).with_name("smtv")
    run = subprocess.run([str(tool), "-f", "json", str(package)], capture_output=True, text=True, timeout=300)
    assert run.returncode in (0, 1), run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert isinstance(report, dict)
    return report


@pytest.mark.parametrize("fmt", ["json", "aasx"])
@pytest.mark.parametrize("name", sorted(PLANTS))
def test_aas_submodel_validate_finds_no_error_and_no_warning(name: str, fmt: str, tmp_path: Path) -> None:
    plant = _plant(PLANTS[name])
    package = tmp_path / f"{name}.{fmt}"
    package.write_bytes(write_environment(
        Environment(plant.shells, plant.submodels, plant.concept_descriptions), "json" if fmt == "json" else "aasx"))
    report = _smtv(package)
    findings = [f"{f.get('severity')} {f.get('rule')} {f.get('at')}: {f.get('message')}"
                for f in report["findings"] if f.get("severity") in ("error", "warning")]
    assert findings == []
    summary = report["summary"]
    assert summary["errors"] == 0 and summary["warnings"] == 0 and summary["complete"]
    expected = sum(1 for sm in plant.submodels if sm.id_short in JUDGED)
    assert summary["submodelsJudged"] == expected > 0


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_aas_core_verifies_the_export(name: str) -> None:
    plant = _plant(PLANTS[name])
    data = write_environment(Environment(plant.shells, plant.submodels, plant.concept_descriptions), "json")
    environment = jsonization.environment_from_jsonable(json.loads(data))
    assert [f"{error.path}: {error.cause}" for error in verification.verify(environment)] == []
