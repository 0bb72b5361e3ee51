"""The OPC UA projection of the twin (OPC 30270 style AAS types, live values, write-back)."""

from twinbridge.server.opcua.server import OpcUaServer
from twinbridge.server.opcua.settings import OpcUaSettings, OpcUaUser

__all__ = ["OpcUaServer", "OpcUaSettings", "OpcUaUser"]
