"""The demo plant served over real HTTP (uvicorn in a thread) for browser and third-party client tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.serving import serving_in_thread
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.submodels.builder import build_environment
from twinbridge.submodels.description import PlantDescription

PREFIX = "/api/v3.0"
PLANT_FILE = Path(__file__).resolve().parents[2] / "examples" / "plant.yaml"


@pytest.fixture(scope="module")
def plant_twin() -> Twin:
    raw = yaml.safe_load(PLANT_FILE.read_text())
    twin = Twin()
    build_environment(PlantDescription.model_validate(raw["plant"]), PLANT_FILE.parent).load_into(twin)
    return twin


@pytest.fixture(scope="module")
def live_api(plant_twin: Twin) -> Iterator[str]:
    """The demo plant's Part 2 API on a free loopback port; yields ``http://127.0.0.1:<port>``."""
    app = create_app(plant_twin, prefix=PREFIX, cors_origins=["*"])
    with serving_in_thread(app) as base:
        yield base
