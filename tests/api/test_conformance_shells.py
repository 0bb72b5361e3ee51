"""IDTA conformance of the AAS Repository and the single-shell AAS Service, with the real
``aas_test_engines check_server`` command over real HTTP: it must exit with status 0."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.api.conftest import SHELL_ID
from twinbridge.server.api.ids import encode_id

SUITE_PREFIX = "https://admin-shell.io/aas/API/3/0/"


def check_server(url: str, suite: str, *options: str) -> None:
    command = [sys.executable, "-m", "aas_test_engines", "check_server", url, SUITE_PREFIX + suite, *options]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    print(f"{suite}: exit {completed.returncode} in {time.perf_counter() - started:.1f} s")
    failures = [line for line in completed.stdout.splitlines() if "Fail" in line or "unexpected" in line]
    assert completed.returncode == 0, "\n".join(failures[:40]) or completed.stdout[-4000:] + completed.stderr


def test_shell_repository_conformance(live_server: str) -> None:
    check_server(live_server, "AssetAdministrationShellRepositoryServiceSpecification/SSP-002")


def test_single_shell_service_conformance(live_server: str) -> None:
    """The AAS Service profile, served by the repository at ``/shells/{id}``: the tool's paths start
    with ``/aas``, which ``--remove-path-prefix`` strips so they land on that shell's routes."""
    check_server(f"{live_server}/shells/{encode_id(SHELL_ID)}",
                 "AssetAdministrationShellServiceSpecification/SSP-002", "--remove-path-prefix", "/aas")
