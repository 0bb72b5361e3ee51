"""The ``twinbridge`` command: validate, export, and serve surviving restarts and ``kill -9``."""

from __future__ import annotations

import asyncio
import base64
import copy
import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port
from twinbridge.server.cli import EXAMPLE_PLANT, main

TOKEN = "cli-test-token-0123456789abcdef"



def test_validate_accepts_the_example_plant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLE_PLANT)]) == 0
    assert "valid (2 sources, 48 bindings)" in capsys.readouterr().out


def test_validate_names_a_binding_whose_element_does_not_exist(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    text = EXAMPLE_PLANT.read_text().replace("Records.Current.Vibration}", "Records.Current.Vibratoin}", 1)
    broken = tmp_path / "plant.yaml"
    broken.write_text(text)
    assert main(["validate", str(broken)]) == 2
    error = capsys.readouterr().err
    assert "bindings[" in error and "Vibratoin" in error


def test_validate_reports_schema_errors_with_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "plant.yaml"
    broken.write_text("sources:\n  - {kind: modbus, name: plc, port: 0}\n")
    assert main(["validate", str(broken)]) == 2
    assert "sources[0].port (line 2)" in capsys.readouterr().err


def test_validate_reports_schema_and_binding_problems_in_one_run(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Each problem with its field path, line and, for a misspelt name, what it probably meant."""
    text = EXAMPLE_PLANT.read_text()
    text = text.replace("manufacturer_product_family: Modulfill", "manufacturer_product_famly: Modulfill", 1)
    text = text.replace("opcua: {port: 4840}", "opcua: {port: 4840, enable: true}", 1)
    text = text.replace("{shell: Capper1, submodel: OperationalData, path: Segments.LiveValues.Records.Current"
                        ".Temperature}", "{shell: Caper1, submodel: OperationalData, path: Segments.LiveValues"
                        ".Records.Current.Temperature}", 1)
    text = text.replace("Records.Current.Vibration}", "Records.Current.Vibratoin}", 1)
    broken = tmp_path / "plant.yaml"
    broken.write_text(text)
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(number for number, line in enumerate(lines, start=1) if fragment in line)

    assert main(["validate", str(broken)]) == 2
    error = capsys.readouterr().err
    assert "4 problem(s)" in error, error
    family = line_of("manufacturer_product_famly")
    assert (f"manufacturer_product_famly (line {family}): Extra inputs are not permitted "
            "(did you mean 'manufacturer_product_family'?)") in error
    assert f"server.opcua.enable (line {line_of('enable: true')}): Extra inputs are not permitted " \
           "(did you mean 'enabled'?)" in error
    assert f".target.shell (line {line_of('shell: Caper1')}): no shell with idShort or id 'Caper1' " \
           "(did you mean 'Capper1'?)" in error
    assert f".target.path (line {line_of('Vibratoin')}): " in error
    assert "(did you mean 'Segments.LiveValues.Records.Current.Vibration'?)" in error


def test_validate_places_a_plant_build_error_at_its_asset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = EXAMPLE_PLANT.read_text().replace(
        "{id_short: Availability, function: mean, input: Availability, unit: \"%\"}",
        "{id_short: Availability, function: mean, input: Availabilty, unit: \"%\"}", 1)
    broken = tmp_path / "plant.yaml"
    broken.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if "- id_short: Line1" in row)
    assert main(["validate", str(broken)]) == 2
    error = capsys.readouterr().err
    assert (f"plant.assets[0].children[0] (line {line}): roll-up Availability reads 'Availabilty', but none of its "
            "children has a signal or roll-up of that name") in error, error
    assert main(["export", "--memory", "--config", str(broken)]) == 2
    assert "roll-up Availability reads 'Availabilty'" in capsys.readouterr().err


def test_export_writes_the_described_plant(tmp_path: Path) -> None:
    out = tmp_path / "plant.json"
    assert main(["export", "--memory", "--config", str(EXAMPLE_PLANT), "--format", "json", "-o", str(out)]) == 0
    environment = json.loads(out.read_bytes())
    assert len(environment["assetAdministrationShells"]) == 21
    aasx = tmp_path / "plant.aasx"
    assert main(["export", "--memory", "--config", str(EXAMPLE_PLANT), "--format", "aasx", "-o", str(aasx)]) == 0
    assert aasx.read_bytes()[:2] == b"PK"


def test_export_refuses_a_missing_data_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--data", str(tmp_path / "absent")]) == 2
    assert "no repository at" in capsys.readouterr().err
    assert not (tmp_path / "absent").exists()


def test_export_beside_the_demo_store_names_it_and_creates_nothing(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``make demo`` writes data/demo; ``export`` (default --data data) must not export an empty new store."""
    demo_store = tmp_path / "data" / "demo"
    assert main(["export", "--memory", "--config", str(EXAMPLE_PLANT), "-o", str(tmp_path / "x.json")]) == 0
    from twinbridge.aas.store import STORE_FILE_NAME, open_store, store_url_for

    open_store(store_url_for(demo_store)).close()
    assert main(["export", "--data", str(tmp_path / "data")]) == 2
    error = capsys.readouterr().err
    assert "no repository at" in error and "data/demo" in error
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["demo"]
    assert (demo_store / STORE_FILE_NAME).is_file()


def test_import_keeps_what_exists_unless_replace_is_given(tmp_path: Path) -> None:
    from twinbridge.aas.twin import Twin
    from twinbridge.server.content import import_files

    package = tmp_path / "plant.json"
    assert main(["export", "--memory", "--config", str(EXAMPLE_PLANT), "-o", str(package)]) == 0
    twin = Twin()
    first = import_files(twin, [package])
    assert " 0 kept" in first[0]
    nameplate = copy.deepcopy(next(sm for sm in twin.submodels.values() if sm.id_short == "Nameplate"))
    nameplate.id_short = "EditedOverRest"  # as a PUT over REST would
    twin.upsert(nameplate)
    again = import_files(twin, [package])
    assert "0 created, 0 replaced" in again[0] and "(--replace overwrites them)" in again[0]
    assert twin.submodel(nameplate.id).id_short == "EditedOverRest"
    replaced = import_files(twin, [package], replace=True)
    assert " 0 kept" in replaced[0]
    assert twin.submodel(nameplate.id).id_short == "Nameplate"


def _long_number_environment(digits: int) -> dict[str, object]:
    return {"submodels": [{
        "modelType": "Submodel", "id": "urn:twinbridge:test:sm:long", "idShort": "Long",
        "submodelElements": [{"modelType": "Property", "idShort": "Big", "valueType": "xs:integer",
                              "value": "7" * digits}]}]}


def test_import_and_export_hold_files_to_the_configured_limits(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """``--import`` (export, serve, validate) reads with the plant file's ``server.rest.limits``, not the
    defaults: a raised bound admits what the default refuses, a lowered one refuses what it admits."""
    long_number = tmp_path / "long.json"
    long_number.write_text(json.dumps(_long_number_environment(1_500)))  # over the default 1,000 digits
    raised, lowered = tmp_path / "raised.yaml", tmp_path / "lowered.yaml"
    raised.write_text("server:\n  rest: {limits: {number_digits: 2000}}\n")
    lowered.write_text("server:\n  rest: {limits: {json_depth: 3}}\n")
    out = tmp_path / "out.json"

    assert main(["export", "--memory", "--import", str(long_number), "-o", str(out)]) == 2
    assert "server.rest.limits.number_digits" in capsys.readouterr().err
    assert main(["export", "--memory", "--config", str(raised), "--import", str(long_number), "-o", str(out)]) == 0
    exported = json.loads(out.read_text())
    assert exported["submodels"][0]["submodelElements"][0]["value"] == "7" * 1_500

    short = tmp_path / "short.json"
    short.write_text(json.dumps(_long_number_environment(3)))
    assert main(["export", "--memory", "--import", str(short), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["export", "--memory", "--config", str(lowered), "--import", str(short), "-o", str(out)]) == 2
    assert "server.rest.limits.json_depth" in capsys.readouterr().err


async def test_the_demo_broker_port_taken_says_which_flag_chooses_another() -> None:
    import socket

    from twinbridge.server.config import load_plant_file
    from twinbridge.server.demo import BrokerPortTaken, DemoDevices

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        devices = DemoDevices(load_plant_file(EXAMPLE_PLANT), mqtt_port=port)
        devices.settings = devices.settings.model_copy(update={"modbus": None})
        with pytest.raises(BrokerPortTaken, match=f"port {port} .* in use.*--mqtt-port PORT.*--mqtt-url"):
            await devices.start()
        await devices.stop()


@contextmanager
def _serve(data: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "twinbridge.server.cli", "serve", "--data", str(data), "--port", str(port), "--no-opcua",
         "--token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v3.0/description", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _submodel(index: int) -> dict[str, object]:
    return {
        "modelType": "Submodel", "id": f"urn:test:restart:{index}", "idShort": f"S{index}",
        "submodelElements": [{"modelType": "Property", "idShort": "P", "valueType": "xs:int", "value": str(index)}],
    }


def test_writes_survive_a_clean_restart_and_a_kill_9_mid_load(tmp_path: Path) -> None:
    port = free_port()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = f"http://127.0.0.1:{port}/api/v3.0"
    acknowledged: list[int] = []
    with _serve(tmp_path, port) as process:
        first = httpx.post(f"{base}/submodels", json=_submodel(0), headers=headers)
        assert first.status_code == 201, first.text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    with _serve(tmp_path, port) as process, httpx.Client(headers=headers, timeout=5) as http:
        first_id = base64.urlsafe_b64encode(b"urn:test:restart:0").decode()
        assert http.get(f"{base}/submodels/{first_id}").status_code == 200
        for index in range(1, 400):
            if index == 150:
                process.send_signal(signal.SIGKILL)
            try:
                if http.post(f"{base}/submodels", json=_submodel(index)).status_code == 201:
                    acknowledged.append(index)
            except httpx.TransportError:
                break
    assert len(acknowledged) >= 100
    with _serve(tmp_path, port), httpx.Client(timeout=5) as http:
        listed = http.get(f"{base}/submodels", params={"limit": 1000}).json()["result"]
        stored = {submodel["id"] for submodel in listed}
        assert {f"urn:test:restart:{index}" for index in [0, *acknowledged]} <= stored


def test_serve_runs_on_uvloop_and_collects_young_objects_less_often_than_cpython_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import uvloop

    from twinbridge.server import application, cli

    seen: list[tuple[int, ...]] = []
    loops: list[asyncio.AbstractEventLoop] = []

    async def run(self: application.Application) -> None:
        seen.append(gc.get_threshold())
        loops.append(asyncio.get_running_loop())

    monkeypatch.setattr(application.Application, "run", run)
    before = gc.get_threshold()
    try:
        assert main(["serve", "--memory", "--no-opcua", "--port", str(free_port()), "--token", TOKEN]) == 0
    finally:
        gc.set_threshold(*before)
    assert seen == [(cli.YOUNG_OBJECTS_PER_COLLECTION, *before[1:])]
    assert len(loops) == 1 and isinstance(loops[0], uvloop.Loop)
