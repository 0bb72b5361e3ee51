"""Scenario jobs over real HTTP, the plant file's simulation block and the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ports import free_port
from tests.serving import serving
from twinbridge.server.application import Application, Options
from twinbridge.server.config import ConfigError, parse_plant_file

TOKEN = "s" * 32
PLANT = """
plant:
  base_iri: "urn:test:"
  assets:
    - id_short: P
      level: plant
      children:
        - id_short: L1
          level: line
          children:
            - {id_short: A, level: machine, signals: [{id_short: Running, value_type: "xs:boolean", initial: true}]}
            - {id_short: B, level: machine}
simulation:
  workers: 2
  machines:
    A:
      cycle_time_s: 20
      buffer_after: 5
      failures:
        time_between_h: {kind: weibull, shape: 2.5, scale: 8}
        time_to_repair_h: {kind: exponential, mean: 0.5}
      power_kw: {running: 5, idle: 1, down: 0.2}
    B: {cycle_time_s: 22}
"""


@pytest.fixture
async def application(tmp_path: Path) -> AsyncIterator[tuple[Application, str]]:
    plant_file = parse_plant_file(PLANT)
    options = Options(host="127.0.0.1", port=free_port(), data=tmp_path / "data", token=TOKEN, opcua=False)
    async with serving(Application(plant_file, options)) as application:
        yield application, f"http://127.0.0.1:{options.port}/api/v3.0"


@pytest.fixture
def server(application: tuple[Application, str]) -> str:
    return application[1]


async def _finished(client: httpx.AsyncClient, url: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job: dict[str, Any] = (await client.get(url)).json()
        if job["status"] not in ("queued", "running"):
            return job
        assert asyncio.get_running_loop().time() < deadline, job
        await asyncio.sleep(0.2)


async def test_a_scenario_runs_in_workers_and_its_result_is_a_submodel(server: str) -> None:
    scenario = {"name": "predictive", "horizon_h": 48, "warmup_h": 2, "replications": 4, "seed": 3,
                "maintenance": {"kind": "predictive", "rul_threshold_h": 1, "duration_h": 0.2}}
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        started = await client.post(f"{server}/simulations", json=scenario)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        job = await _finished(client, server.removesuffix("/api/v3.0") + location)
        assert job["status"] == "done", job
        assert job["replicationsDone"] == job["replicationsTotal"] == 8  # scenario + baseline
        difference = job["result"]["difference"]["L1"]["kpis"]
        failures = job["result"]["scenario"]["L1"]["machines"]["A"]["failures"]
        baseline_failures = job["result"]["baseline"]["L1"]["machines"]["A"]["failures"]
        # wear-out failures seen coming are serviced before they happen
        assert failures["mean"] < baseline_failures["mean"]
        assert difference["failures"]["high"] < 0
        kpis = job["result"]["scenario"]["L1"]["kpis"]
        assert kpis["throughput_per_h"]["low"] <= kpis["throughput_per_h"]["mean"] <= kpis["throughput_per_h"]["high"]
        assert 0 < kpis["throughput_per_h"]["mean"] <= 3600 / 22  # never faster than the slowest machine
        stored = await client.get(server.removesuffix("/api/v3.0") + job["resultSubmodel"])
        assert stored.status_code == 200, stored.text
        names = [e["idShort"] for e in stored.json()["submodelElements"]]
        assert {"Scenario", "Results", "Baseline", "DifferenceToBaseline"} <= set(names)
        listed = await client.get(f"{server}/simulations")
        assert [j["id"] for j in listed.json()["result"]] == [job["id"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"changes": [{"machine": "Nope", "speed_factor": 1.2}]}, "changes[0].machine"),
    ({"horizon_h": -1}, "horizon_h"),
    ({"horizon_h": 100_000}, "horizon_h"),
    ({"replications": 10_000}, "replications"),
    ({"horizon_h": 10, "warmup_h": 10}, "warmup_h"),
    ({"changes": [{"machine": "A", "buffer_after": -3}]}, "changes.0.buffer_after"),
    ({"line": "L9"}, "line"),
    ({"maintenance": {"kind": "psychic"}}, "maintenance"),
])
async def test_a_bad_scenario_is_refused_naming_the_field(server: str, body: dict[str, Any], field: str) -> None:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        answer = await client.post(f"{server}/simulations", json=body)
        assert answer.status_code == 400, answer.text
        assert field in answer.json()["messages"][0]["text"]
        assert (await client.get(f"{server}/simulations")).json()["result"] == []


async def test_starting_needs_the_write_role_and_a_running_job_can_be_cancelled(server: str) -> None:
    async with httpx.AsyncClient(timeout=30) as anonymous:
        assert (await anonymous.post(f"{server}/simulations", json={})).status_code == 401
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        started = await client.post(f"{server}/simulations", json={"horizon_h": 2000, "replications": 60})
        job_url = f"{server}/simulations/{started.json()['id']}"
        assert (await client.delete(job_url)).status_code == 204
        job = await _finished(client, job_url, timeout=10)
        assert job["status"] == "cancelled"
        assert job["replicationsDone"] < job["replicationsTotal"]
        assert (await client.get(f"{server}/simulations/unknown")).status_code == 404


def test_a_simulation_block_for_a_machine_the_plant_lacks_is_a_config_error_with_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_plant_file(PLANT.replace("    B: {cycle_time_s: 22}", "    Bee: {cycle_time_s: 22}"))
    assert any(p.startswith("simulation.machines.Bee (line 23): no machine asset 'Bee'") for p in caught.value.problems)
    with pytest.raises(ConfigError) as caught:
        parse_plant_file(PLANT.replace("cycle_time_s: 20", "cycle_time_s: -20"))
    problems = caught.value.problems
    assert any("simulation.machines.A.cycle_time_s (line 17)" in p for p in problems), problems


def test_the_cli_simulates_a_scenario_file_offline(tmp_path: Path) -> None:
    plant = tmp_path / "plant.yaml"
    plant.write_text(PLANT)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("name: faster B\nhorizon_h: 24\nwarmup_h: 1\nreplications: 3\n"
                        "changes:\n  - {machine: B, speed_factor: 1.25}\n")
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, "-m", "twinbridge.server.cli", "simulate", str(scenario),
                           "--config", str(plant), "--out", str(out), "--workers", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "L1" in done.stdout and "throughput/h" in done.stdout
    assert out.stat().st_size > 0
    scenario.write_text("horizon_h: 24\nreplications: 3\nchanges:\n  - {machine: B, speed_factor: zero}\n")
    refused = subprocess.run([sys.executable, "-m", "twinbridge.server.cli", "simulate", str(scenario),
                              "--config", str(plant)], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert "changes[0].speed_factor (line 4)" in refused.stderr


async def test_failure_times_are_learned_from_the_recorded_running_signal(application: tuple[Application, str]) -> None:
    app, server = application
    shell = next(s for s in app.twin.shells.values() if s.id_short == "A")
    assert app.plant is not None
    running = app.twin.live(*app.plant.signal_target(shell.id, "Running"))
    # in the last 12 days A ran 6 h between stops of 1 h: 40 stops, recorded with their source timestamps
    t = time.time() - 40 * 7 * 3600 - 1800
    for _ in range(40):
        app.twin.update(running, True, t)
        app.twin.update(running, False, t + 6 * 3600)
        t += 7 * 3600
    app.twin.update(running, True, t)
    historian = app.history.historian
    assert historian is not None
    await app.twin.bus.drained()
    await historian.flushed()
    scenario = {"horizon_h": 24, "warmup_h": 1, "replications": 2, "estimate_from_history": True}
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        started = await client.post(f"{server}/simulations", json=scenario)
        assert started.status_code == 202, started.text
        parameters = started.json()["parameters"]
        assert parameters["A"]["source"] == "history"
        assert parameters["A"]["stops"] == 40
        assert parameters["A"]["mtbf_h"] == pytest.approx(6.0, rel=0.01)
        assert parameters["A"]["mttr_h"] == pytest.approx(1.0, rel=0.01)
        assert parameters["B"]["source"] == "plant file"  # B records no running signal
        job = await _finished(client, server.removesuffix("/api/v3.0") + started.headers["Location"])
        assert job["status"] == "done", job
