"""Every version-sensitive reach into pymodbus, in one place, checked at start-up.

- ``open_client``: ``reconnect_delay=0`` switches pymodbus' own reconnect loop off (its
  transport reconnects whenever ``reconnect_delay`` is set), so the shared connection supervisor
  is the only one reconnecting, and ``retries=0`` makes a lost device fail the read at once
  instead of after three timeouts.
- the request methods take the unit as ``device_id=`` (it was ``slave=`` before 3.10; an old
  pymodbus would reject every poll with a TypeError).
- ``ExcCodes`` names exception answers (``pymodbus.constants`` since 3.10).
- ``listening_port``: a server's bound port is only reachable through its private ``transport``
  (the simulators and test devices listen on port 0 and need the port they got).

``check()`` stops the start with a message naming what is missing and the tested version.
"""

from __future__ import annotations

import importlib.metadata
import inspect

from pymodbus import constants
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

TESTED_VERSION = "3.16.1"

_CLIENT_OPTIONS = ("port", "name", "timeout", "retries", "reconnect_delay")
_UNIT_KEYWORD = "device_id"
_REQUESTS = ("read_holding_registers", "read_input_registers", "read_coils", "read_discrete_inputs",
             "write_coil", "write_register", "write_registers", "mask_write_register")


class PymodbusCompatError(RuntimeError):
    """A pymodbus API that twinbridge relies on is missing or changed."""


def open_client(host: str, port: int, name: str, timeout_s: float) -> AsyncModbusTcpClient:
    """A client that neither retries nor reconnects by itself (the supervisor does)."""
    return AsyncModbusTcpClient(host, port=port, name=name, timeout=timeout_s, retries=0, reconnect_delay=0)


def exception_name(code: int | None) -> str:
    """``exception 2 (ILLEGAL_ADDRESS)`` for a Modbus exception answer's code."""
    if code is None:
        return "exception response"
    try:
        return f"exception {code} ({constants.ExcCodes(code).name})"
    except ValueError:
        return f"exception {code}"


def listening_port(server: ModbusTcpServer) -> int:
    """The TCP port a serving ``server`` is bound to; OSError when it is not listening."""
    transport = getattr(server, "transport", None)
    sockets = getattr(transport, "sockets", None) if transport is not None else None
    if not sockets:
        raise OSError("the Modbus server is not listening")
    return int(sockets[0].getsockname()[1])


def check() -> None:
    """Raise PymodbusCompatError naming everything missing (call once at start-up, in the event loop)."""
    problems: list[str] = []
    options = inspect.signature(AsyncModbusTcpClient.__init__).parameters
    problems += [f"AsyncModbusTcpClient() has no {name}= option" for name in _CLIENT_OPTIONS if name not in options]
    for method in _REQUESTS:
        function = getattr(AsyncModbusTcpClient, method, None)
        if function is None:
            problems.append(f"AsyncModbusTcpClient.{method} is missing")
        elif _UNIT_KEYWORD not in inspect.signature(function).parameters:
            problems.append(f"AsyncModbusTcpClient.{method} takes no {_UNIT_KEYWORD}=")
    if not hasattr(constants, "ExcCodes"):
        problems.append("pymodbus.constants.ExcCodes is missing")
    # a server that is built but never listens (building one needs the running loop, as at start-up)
    probe = ModbusTcpServer([SimDevice(id=1, simdata=[SimData(0, values=[0], datatype=DataType.REGISTERS)])],
                            address=("127.0.0.1", 0))
    if "transport" not in vars(probe):
        problems.append("ModbusTcpServer has no transport attribute (a simulator's bound port cannot be read)")
    if problems:
        raise PymodbusCompatError(
            f"pymodbus {_installed()}: {'; '.join(problems)}; twinbridge was tested with pymodbus "
            f"{TESTED_VERSION} (install it with `pip install -c constraints.txt .`)"
        )


def _installed() -> str:
    try:
        return importlib.metadata.version("pymodbus")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"
