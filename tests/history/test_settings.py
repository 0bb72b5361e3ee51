"""The plant file's ``server.history`` block: defaults, per-element retention, errors with their path."""

from __future__ import annotations

import pytest

from twinbridge.server.config import ConfigError, parse_plant_file

PLANT = """
server:
  history:
    flush_interval_s: 0.5
    retention:
      raw_days: 3
      elements:
        - submodel: urn:sm:press
          path: Segments.LiveValues.Records.Current.Vibration
          raw_days: 0.5
"""


def test_the_history_block_is_read_with_its_overrides() -> None:
    history = parse_plant_file(PLANT).server.history
    assert (history.enabled, history.flush_interval_s, history.retention.raw_days) == (True, 0.5, 3)
    assert history.retention.rollup_days == 365
    (override,) = history.retention.elements
    assert (override.submodel, override.raw_days) == ("urn:sm:press", 0.5)
    assert parse_plant_file("").server.history.retention.raw_days == 7


def test_a_bad_history_setting_names_its_path() -> None:
    with pytest.raises(ConfigError, match=r"server\.history\.retention\.raw_days.*greater than 0"):
        parse_plant_file("server:\n  history:\n    retention:\n      raw_days: 0\n")
    with pytest.raises(ConfigError, match=r"server\.history\.flush_interval_s"):
        parse_plant_file("server:\n  history:\n    flush_interval_s: never\n")
