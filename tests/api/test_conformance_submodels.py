"""IDTA conformance (aas-test-engines) of the Submodel Repository and the single-submodel service, over real HTTP."""

from __future__ import annotations

import time

import pytest
from aas_test_engines import api as test_engines
from aas_test_engines.config import CheckApiConfig
from aas_test_engines.http import HttpClient
from aas_test_engines.result import AasTestResult

from tests.api.conftest import SHELL_ID, SUBMODEL_ID, load_full_example
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.server.api.ids import encode_id

SUITE_PREFIX = "https://admin-shell.io/aas/API/3/0/"


@pytest.fixture(params=["as-loaded", "every-kind-first"])
def full_twin(request: pytest.FixtureRequest) -> Twin:
    """The tool probes the first submodel it lists; "every-kind-first" makes that the one with every element kind."""
    twin = load_full_example(Twin())
    if request.param == "every-kind-first":
        for submodel in [sm for identifier, sm in twin.submodels.items() if identifier != SUBMODEL_ID]:
            twin.delete(ObjectKind.SUBMODEL, submodel.id)
            twin.create(submodel)
    return twin


def _failures(result: AasTestResult, path: str = "") -> list[str]:
    here = f"{path} / {result.message}" if path else str(result.message)
    if result.ok():
        return []
    below = [line for sub in result.sub_results for line in _failures(sub, here)]
    return below or [here]


def _run(url: str, suite: str, remove_path_prefix: str = "") -> AasTestResult:
    client = HttpClient(url, remove_path_prefix=remove_path_prefix)
    started = time.perf_counter()
    result, _ = test_engines.execute_tests(client, CheckApiConfig(suite=SUITE_PREFIX + suite))
    print(f"{suite}: {time.perf_counter() - started:.1f} s")
    return result


def test_submodel_repository_conformance(live_server: str) -> None:
    result = _run(live_server, "SubmodelRepositoryServiceSpecification/SSP-002")
    assert result.ok(), "\n".join(_failures(result))


def test_single_submodel_service_conformance(live_server: str) -> None:
    """The Submodel Service profile at ``/shells/{id}/submodels/{id}`` (the tool's ``/submodel`` removed)."""
    root = f"{live_server}/shells/{encode_id(SHELL_ID)}/submodels/{encode_id(SUBMODEL_ID)}"
    result = _run(root, "SubmodelServiceSpecification/SSP-002", remove_path_prefix="/submodel")
    assert result.ok(), "\n".join(_failures(result))
