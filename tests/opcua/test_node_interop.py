"""Interoperability with an independent OPC UA stack: the node-opcua client (Node.js).

The client is installed with npm into ``tests/opcua/node/node_modules`` on first use.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from basyx.aas.model import datatypes as xs

from tests.opcua.conftest import OPERATIONAL
from tests.peers import missing_peer
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua import OpcUaServer
from twinbridge.server.opcua.types import I4AAS_NAMESPACE, NAMESPACE

pytestmark = pytest.mark.asyncio(loop_scope="module")
NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def node_client() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing_peer("node and npm are needed for the node-opcua interoperability test")
    if not (NODE_DIR / "node_modules" / "node-opcua-client").is_dir():
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR,
                       check=True, timeout=600)
    return NODE_DIR / "interop.mjs"


async def _next_event(stream: asyncio.StreamReader) -> dict[str, Any]:
    """The next JSON event line (node-opcua logs its own lines to stdout as well)."""
    while True:
        line = await asyncio.wait_for(stream.readline(), 120)  # first run: node-opcua makes its certificate
        if not line:
            raise AssertionError("the node-opcua client ended early")
        if line.startswith(b'{"event"'):
            return json.loads(line)  # type: ignore[no-any-return]


async def test_node_opcua_browses_reads_subscribes_and_writes(
        node_client: Path, twin: Twin, opcua: OpcUaServer) -> None:
    process = await asyncio.create_subprocess_exec(
        "node", str(node_client), opcua.endpoint_url, NAMESPACE, I4AAS_NAMESPACE, "operator", "op-secret",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=NODE_DIR)
    assert process.stdout is not None and process.stderr is not None
    try:
        plant = await _next_event(process.stdout)
        assert plant == {"event": "plant", "tree": {"Plant": {"Line": {"Machine1": {}}}}}
        read = await _next_event(process.stdout)
        assert read == {"event": "read", "value": 12.5, "type": "Double", "status": "Good"}
        value_type = await _next_event(process.stdout)
        i4aas = value_type["i4aasIndex"]
        assert value_type == {"event": "valueType", "i4aasIndex": i4aas, "dataType": f"{i4aas}:AASValueTypeDataType",
                              "dataTypeId": f"ns={i4aas};i=3004", "value": 10, "name": "Double",
                              "typeDefinition": f"ns={i4aas};i=1013"}

        assert (await _next_event(process.stdout))["event"] == "subscribed"
        speed = twin.live(OPERATIONAL, "Speed")
        reader = asyncio.ensure_future(_next_event(process.stdout))
        while not reader.done():
            twin.update(speed, xs.Double(77.5), 1_767_225_600.0)
            await asyncio.sleep(0.1)
        notified = reader.result()
        assert notified["event"] == "notified" and notified["value"] == 77.5
        assert notified["status"] == "Good"
        assert notified["sourceTimestamp"] == "2026-01-01T00:00:00.000Z"
        written = await _next_event(process.stdout)
        assert written == {"event": "written", "status": "Good", "mismatch": "BadTypeMismatch"}
        assert twin.element(OPERATIONAL, "Label").value == "from-node-opcua"  # type: ignore[attr-defined]
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        errors = (await process.stderr.read()).decode(errors="replace")
        if process.returncode:
            print(errors)
