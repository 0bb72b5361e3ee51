"""The OPC UA projection of the twin (OPC 30270 style AAS types, live values, write-back)."""

from server.opcua.server import OpcUaServer
from server.opcua.settings import OpcUaSettings, OpcUaUser

__all__ = ["OpcUaServer", "OpcUaSettings", "OpcUaUser"]
