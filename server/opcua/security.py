"""Application certificate (generated on first start) and the username/password user manager.

Every accepted identity gets asyncua's ``UserRole.User`` (never Admin: clients must not add
or delete nodes); whether it may write Property values is decided by ``Rights``, which the
write service consults per request.
"""

from __future__ import annotations

import hmac
import os
import socket
from pathlib import Path
from typing import Any

from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.user_managers import UserManager
from cryptography.x509.oid import ExtendedKeyUsageOID

from twinbridge.server.opcua.settings import OpcUaSettings

CERTIFICATE_FILE = "server-certificate.der"
KEY_FILE = "server-key.pem"


async def ensure_certificate(directory: Path, application_uri: str) -> tuple[Path, Path]:
    """The (certificate, private key) paths; both are created when missing or no longer valid."""
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / CERTIFICATE_FILE, directory / KEY_FILE
    await setup_self_signed_certificate(
        key, certificate, application_uri, socket.gethostname(),
        [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
        {"commonName": "twinbridge OPC UA server", "organizationName": "twinbridge"},
    )
    os.chmod(key, 0o600)
    return certificate, key


async def client_validator(directory: Path) -> CertificateValidator:
    """Accept only client certificates found in (or issued by a CA in) ``directory``."""
    if not directory.is_dir():
        raise FileNotFoundError(f"opcua.trusted_client_certificates: {directory} is not a directory")
    store = TrustStore([directory], [])
    await store.load()
    options = CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT
    return CertificateValidator(options, store)


class Rights:
    """Who may write: named users with ``readwrite``; anonymous never."""

    def __init__(self, settings: OpcUaSettings) -> None:
        self._writers = {user.name for user in settings.users if user.rights == "readwrite"}

    def may_write(self, user: User | None) -> bool:
        if user is None:
            return False
        if user.role is UserRole.Admin:
            return True
        return user.name is not None and user.name in self._writers


class TwinUserManager(UserManager):
    """Checks username/password against the config; anonymous per ``settings.anonymous``."""

    def __init__(self, settings: OpcUaSettings) -> None:
        self._passwords = {user.name: user.password.encode() for user in settings.users}
        self._anonymous = settings.anonymous != "off"

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:
        if username is None:
            return User(role=UserRole.User, name=None) if self._anonymous else None
        expected = self._passwords.get(username)
        if expected is None or not hmac.compare_digest(expected, (password or "").encode()):
            return None
        return User(role=UserRole.User, name=username)
