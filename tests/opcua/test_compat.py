"""The asyncua internals the mirror relies on are checked at start-up, by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from asyncua.server.address_space import AddressSpace, AttributeService

from tests.ports import free_port
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua import OpcUaServer, OpcUaSettings, compat_asyncua


def test_the_installed_asyncua_has_every_internal_the_mirror_uses() -> None:
    compat_asyncua.check()


def test_a_missing_method_stops_the_check_naming_it_and_the_tested_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(AddressSpace, "add_datachange_callback")
    with pytest.raises(compat_asyncua.AsyncuaCompatError) as missing:
        compat_asyncua.check()
    assert "AddressSpace.add_datachange_callback" in str(missing.value)
    assert "2.1.0" in str(missing.value)


def test_a_renamed_node_table_stops_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    original = AddressSpace.__init__

    def renamed(self: AddressSpace) -> None:
        original(self)
        self.nodes = self.__dict__.pop("_nodes")  # type: ignore[attr-defined]

    monkeypatch.setattr(AddressSpace, "__init__", renamed)
    with pytest.raises(compat_asyncua.AsyncuaCompatError, match=r"AddressSpace\._nodes"):
        compat_asyncua.check()


@pytest.mark.asyncio
async def test_the_server_does_not_start_without_a_hook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delattr(AttributeService, "write")
    server = OpcUaServer(Twin(), OpcUaSettings(host="127.0.0.1", port=free_port()), tmp_path)
    with pytest.raises(compat_asyncua.AsyncuaCompatError, match=r"AttributeService\.write"):
        await server.start()
    assert server.server is None
