"""Configuration of the OPC UA endpoint (the ``opcua:`` section of the server config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class OpcUaUser(BaseModel):
    """A username/password identity; ``readwrite`` may write Property values, ``read`` may not."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    password: str = Field(min_length=1)
    rights: Literal["read", "readwrite"] = "read"


class OpcUaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = Field(default=4840, ge=0, le=65535)
    path: str = "/twinbridge"
    allow_none_security: bool = True
    """Offer the unencrypted ``None`` endpoint next to the signed/encrypted ones."""
    anonymous: Literal["read", "off"] = "read"
    users: list[OpcUaUser] = Field(default_factory=list)
    certificate_dir: str | None = None
    """Where the application certificate and key live; default ``<data dir>/opcua``."""
    trusted_client_certificates: str | None = None
    """The directory of trusted client application certificates (DER or PEM, or their CAs); default
    ``<data dir>/pki/trusted``. A client presenting any other certificate is refused and a copy of
    it lands in ``<data dir>/pki/rejected``."""
    accept_all_certificates: bool = False
    """Accept any client application certificate (labs only; logged as a warning at start)."""
    application_uri: str = "urn:twinbridge:opcua:server"
    server_name: str = "twinbridge"
    max_sessions: int = Field(default=100, ge=1)

    @field_validator("path")
    @classmethod
    def _path_starts_with_slash(cls, value: str) -> str:
        return value if value.startswith("/") else "/" + value

    @field_validator("users")
    @classmethod
    def _unique_user_names(cls, users: list[OpcUaUser]) -> list[OpcUaUser]:
        names = [user.name for user in users]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate OPC UA user name(s): {', '.join(duplicates)}")
        return users

    def endpoint_url(self, port: int | None = None) -> str:
        return f"opc.tcp://{self.host}:{self.port if port is None else port}{self.path}"
