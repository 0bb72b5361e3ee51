"""The admin token: given beats environment beats stored; a generated one is stored privately,
shown once on a terminal, never in a log; a start that fails says why."""

from __future__ import annotations

import logging
import socket
import stat
import sys
from pathlib import Path

import pytest

from tests.ports import free_port
from tests.submodels.conftest import PLANT_FILE
from twinbridge.adapters.simulators.mqtt_machine import SimulatedMqttMachines
from twinbridge.server import cli
from twinbridge.server.application import Application, Options
from twinbridge.server.config import load_plant_file
from twinbridge.server.tokens import ENVIRONMENT_VARIABLE, TOKEN_FILE, admin_token, shown


def test_a_generated_token_is_stored_privately_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    token, origin = admin_token(None, tmp_path)
    assert len(token) >= 32 and origin.startswith("generated, stored in")
    assert stat.S_IMODE((tmp_path / TOKEN_FILE).stat().st_mode) == 0o600
    assert admin_token(None, tmp_path) == (token, f"stored in {tmp_path / TOKEN_FILE}")


def test_the_option_beats_the_environment_which_beats_the_file(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / TOKEN_FILE).write_text("from-file\n")
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "from-environment")
    assert admin_token("from-option", tmp_path)[0] == "from-option"
    assert admin_token(None, tmp_path)[0] == "from-environment"
    monkeypatch.delenv(ENVIRONMENT_VARIABLE)
    assert admin_token(None, tmp_path)[0] == "from-file"


def test_without_a_data_directory_each_run_gets_a_fresh_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    assert admin_token(None, None)[0] != admin_token(None, None)[0]


async def test_the_generated_token_reaches_a_terminal_once_and_never_a_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """First start on a terminal: shown once; later starts, or output that is not a terminal
    (a journal, a collector): only where it is stored."""
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    banners = []
    for terminal in (True, True, False):
        monkeypatch.setattr(sys.stdout, "isatty", lambda terminal=terminal: terminal)
        application = Application(load_plant_file(PLANT_FILE),
                                  Options(host="127.0.0.1", port=free_port(), data=data, opcua=False))
        await application.start()
        await application.stop()
        banners.append(capsys.readouterr().out)
    token = (data / TOKEN_FILE).read_text().strip()
    first, second, piped = banners
    assert f"admin token: {token}  (generated, stored in {data / TOKEN_FILE}; shown this once)" in first
    assert token not in second and f"admin token: (stored in {data / TOKEN_FILE}; not shown)" in second
    assert token not in piped
    assert token not in caplog.text


def test_a_generated_token_is_not_shown_when_the_output_is_not_a_terminal(tmp_path: Path) -> None:
    assert shown("secret", f"generated, stored in {tmp_path}", terminal=False) == \
        f"(generated, stored in {tmp_path}; not shown)"
    assert "secret" not in shown("secret", "generated for this in-memory run", terminal=False)
    assert "secret" not in shown("secret", "given with --token", terminal=True)


async def test_a_start_that_fails_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    """``demo --mqtt-url`` to a closed port once ended with "cannot start: " and nothing else."""
    closed = free_port()
    machines = SimulatedMqttMachines(f"mqtt://127.0.0.1:{closed}", machines={"Mill1": "json"}, interval_s=0.1)
    with pytest.raises(TimeoutError) as raised:
        await machines.start(timeout=1.0)
    await machines.stop()
    text = str(raised.value)
    assert f"could not reach the broker mqtt://127.0.0.1:{closed} within 1 s" in text
    assert "refused" in text.lower()  # the last connection error, as aiomqtt reported it
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        application = Application(load_plant_file(PLANT_FILE), Options(host="127.0.0.1", port=port, opcua=False))
        with pytest.raises(OSError, match=f"the REST API cannot listen on 127.0.0.1:{port}: Address already in use"):
            await application.start()
        await application.stop()
    assert "REST API on" not in capsys.readouterr().out  # no banner for a server that is not serving
    assert cli._reason(TimeoutError()) == "TimeoutError"
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as error:
            raise TimeoutError() from error
    except TimeoutError as bare:
        assert cli._reason(bare) == "TimeoutError ([Errno 111] Connection refused)"
