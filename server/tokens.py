"""The admin API token: given (--token / TWINBRIDGE_TOKEN), kept in the data directory, or generated.

Generating one on first start means a fresh server is never open for writes by accident;
printing it once means the operator can use it at once.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from twinbridge.server.opcua.settings import OpcUaUser

TOKEN_FILE = "admin-token"
DEMO_OPCUA_PASSWORD_FILE = "opcua-demo-password"
DEMO_OPCUA_USER = "demo"
ENVIRONMENT_VARIABLE = "TWINBRIDGE_TOKEN"


def admin_token(explicit: str | None, data_dir: Path | None) -> tuple[str, str]:
    """(token, where it came from). The explicit value wins, then the environment, then the stored file."""
    if explicit:
        return explicit, "given with --token"
    if os.environ.get(ENVIRONMENT_VARIABLE):
        return os.environ[ENVIRONMENT_VARIABLE], f"from ${ENVIRONMENT_VARIABLE}"
    if data_dir is not None:
        stored = data_dir / TOKEN_FILE
        if stored.exists():
            return stored.read_text(encoding="utf-8").strip(), f"stored in {stored}"
    token = secrets.token_urlsafe(32)
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        stored = data_dir / TOKEN_FILE
        stored.touch(mode=0o600)
        stored.write_text(token + "\n", encoding="utf-8")
        return token, f"generated, stored in {stored}"
    return token, "generated for this in-memory run"


def demo_opcua_user(data_dir: Path | None) -> OpcUaUser:
    """The demo's OPC UA user (may write), so an OPC UA write can be tried at once; its password is
    generated on the first demo start and kept in the data directory like the admin token."""
    if data_dir is not None and (data_dir / DEMO_OPCUA_PASSWORD_FILE).exists():
        password = (data_dir / DEMO_OPCUA_PASSWORD_FILE).read_text(encoding="utf-8").strip()
    else:
        password = secrets.token_urlsafe(12)
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            stored = data_dir / DEMO_OPCUA_PASSWORD_FILE
            stored.touch(mode=0o600)
            stored.write_text(password + "\n", encoding="utf-8")
    return OpcUaUser(name=DEMO_OPCUA_USER, password=password, rights="readwrite")
