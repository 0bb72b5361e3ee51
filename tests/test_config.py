"""The plant file: every mistake is reported with its field path and line, nothing is guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinbridge.server.config import ConfigError, load_plant_file, parse_plant_file


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_plant_file(text, "plant.yaml")
    return caught.value.problems


def test_unknown_keys_wrong_types_and_ranges_name_the_field_and_line() -> None:
    problems = _problems(
        "sources:\n"
        "  - kind: modbus\n"
        "    name: plc\n"
        "    port: 99999\n"
        "    colour: red\n"
        "  - name: broker\n"
    )
    assert "sources[0].port (line 4): Input should be less than or equal to 65535" in problems
    assert "sources[0].colour (line 5): Extra inputs are not permitted" in problems
    assert "sources[1] (line 6): a source needs 'kind: modbus' or 'kind: mqtt'" in problems


def test_a_binding_to_an_unknown_source_names_the_binding() -> None:
    problems = _problems(
        "sources: []\n"
        "bindings:\n"
        "  - source: nope\n"
        "    target: {shell: P, submodel: S, path: T}\n"
        "    mqtt: {topic: a/b}\n"
    )
    assert problems == ["bindings[0] (line 3): unknown source 'nope'"]


def test_a_modbus_binding_needs_a_declared_poll_group() -> None:
    problems = _problems(
        "sources: [{kind: modbus, name: plc}]\n"
        "bindings:\n"
        "  - source: plc\n"
        "    target: {shell: P, submodel: S, path: T}\n"
        "    modbus: {address: 3, type: float32, poll_group: fast}\n"
    )
    assert problems == ["bindings[0] (line 3): poll group 'fast' is not declared"]


def test_broken_yaml_reports_line_and_column() -> None:
    (problem,) = _problems("server: [\n")
    assert problem.startswith("line 2, column 1: not valid YAML")


def test_auth_none_must_be_explicit(tmp_path: Path) -> None:
    assert parse_plant_file("{}").server.auth != "none"
    assert parse_plant_file("server: {auth: none}").server.auth == "none"
    path = tmp_path / "p.yaml"
    path.write_text("imports: [model.aasx]\n")
    assert load_plant_file(path).imports == [tmp_path / "model.aasx"]


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_plant_file(tmp_path / "absent.yaml")
