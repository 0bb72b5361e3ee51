"""The admin token: given beats environment beats stored; a generated one is stored privately."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from twinbridge.server.tokens import ENVIRONMENT_VARIABLE, TOKEN_FILE, admin_token


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
