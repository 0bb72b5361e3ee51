"""The basyx private hooks twinbridge relies on exist, and a missing one stops the start clearly."""

from __future__ import annotations

import pytest
from basyx.aas.adapter.aasx import AASXReader

from twinbridge.aas import compat_basyx


def test_the_installed_basyx_has_every_hook() -> None:
    compat_basyx.check()


def test_a_missing_hook_is_named_with_the_tested_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(AASXReader, "_add_supplementary_file")
    with pytest.raises(compat_basyx.BasyxCompatError,
                       match=r"lacks basyx\.aas\.adapter\.aasx\.AASXReader\._add_supplementary_file; "
                             r"twinbridge was tested with basyx-python-sdk 2\.2\.0"):
        compat_basyx.check()
