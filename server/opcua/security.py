"""Application certificate (generated on first start), client certificate trust, and the
username/password user manager.

The PKI follows open62541's and UaExpert's layout under the data directory: ``pki/own`` (the
server's certificate and key), ``pki/trusted`` (client application certificates, or the CAs
that issued them) and ``pki/rejected`` (a copy of every unknown certificate a client
presented). An unknown client is refused (BadCertificateUntrusted at CreateSession); an
operator trusts it by moving its file from ``rejected`` to ``trusted`` or with ``twinbridge
trust FILE``, and the running server sees the change at the next connection (the trusted
directory is re-read when it changed). ``accept_all_certificates: true`` (labs only) skips
the check and says so in the log at every start.

Every accepted identity gets asyncua's ``UserRole.User`` (never Admin: clients must not add
or delete nodes); whether it may write Property values is decided by ``Rights``, which the
write service consults per request and the attribute service reports as ``UserAccessLevel``.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.user_managers import UserManager
from asyncua.ua import status_codes
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from twinbridge.server.opcua import compat_asyncua
from twinbridge.server.opcua.settings import OpcUaSettings

log = logging.getLogger(__name__)

CERTIFICATE_FILE = "server-certificate.der"
KEY_FILE = "server-key.pem"
PKI_DIR = "pki"
_CERTIFICATE_NAME = re.compile(r".*\.(der|pem|crt|cer)$", re.IGNORECASE)


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


class Pki:
    """``<data>/pki``: ``own``, ``trusted`` and ``rejected``, created 0700 on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.own = root / "own"
        self.trusted = root / "trusted"
        self.rejected = root / "rejected"

    def create(self) -> None:
        for directory in (self.root, self.own, self.trusted, self.rejected):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def adopt_legacy_certificate(legacy: Path, own: Path) -> None:
    """Move the application certificate and key from where earlier versions kept them
    (``<data>/opcua``) to ``pki/own``, so clients that trust this server keep trusting it."""
    if not (legacy / CERTIFICATE_FILE).is_file() or (own / CERTIFICATE_FILE).exists():
        return
    for name in (CERTIFICATE_FILE, KEY_FILE):
        if (legacy / name).is_file():
            shutil.move(legacy / name, own / name)
    log.info("OPC UA application certificate moved from %s to %s", legacy, own)


def load_certificate_file(path: Path) -> x509.Certificate:
    """A DER or PEM certificate; ValueError naming the file when it is neither."""
    data = path.read_bytes()
    try:
        return x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError as error:
        raise ValueError(f"{path} is not an X.509 certificate (DER or PEM): {error}") from None


def certificate_file_name(certificate: x509.Certificate) -> str:
    """UaExpert's naming: ``<common name> [<SHA-1 thumbprint>].der``."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common = str(names[0].value) if names else "certificate"
    safe = re.sub(r"[^A-Za-z0-9._ -]", "_", common)[:64].strip() or "certificate"
    return f"{safe} [{certificate.fingerprint(hashes.SHA1()).hex()}].der"


def trust(pki: Pki, source: Path) -> Path:
    """Put the certificate ``source`` into ``pki/trusted`` (moved when it lies in ``pki/rejected``,
    else copied, as DER); the path it now has."""
    certificate = load_certificate_file(source)
    pki.create()
    target = pki.trusted / certificate_file_name(certificate)
    target.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    os.chmod(target, 0o600)
    if source.resolve().parent == pki.rejected.resolve():
        source.unlink()
    return target


class ClientCertificates:
    """The CreateSession check of a client's application certificate (an asyncua
    ``CertificateValidatorMethod``): trusted directly or through a CA in ``trusted``, else
    refused and copied to ``rejected``."""

    def __init__(self, trusted: Path, rejected: Path | None) -> None:
        self.trusted = trusted
        self.rejected = rejected
        self._seen: tuple[float, int] | None = None
        self._validator: CertificateValidator | None = None

    async def __call__(self, certificate: x509.Certificate, description: ua.ApplicationDescription) -> None:
        if not compat_asyncua.channel_secured():
            return  # Part 4: on a None channel the server ignores the client certificate
        validator = await self.refresh()
        try:
            if validator is None:
                raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)
            await validator.validate(certificate, description)
        except ServiceError as error:
            where = ""
            if error.code == ua.StatusCodes.BadCertificateUntrusted and self.rejected is not None:
                copy = self.rejected / certificate_file_name(certificate)
                copy.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
                where = f"; a copy is in {copy}: move it to {self.trusted} (or `twinbridge trust`) to trust it"
            log.warning("OPC UA client %r refused: %s%s", description.ApplicationUri,
                        status_codes.get_name_and_doc(error.code)[0], where)
            raise

    async def refresh(self) -> CertificateValidator | None:
        """The validator over the trusted directory as it is now (re-read when it changed)."""
        if not self.trusted.is_dir():
            raise FileNotFoundError(f"the trusted client certificates directory {self.trusted} does not exist")
        stamp = self.trusted.stat()
        seen = (stamp.st_mtime, stamp.st_ino)
        if seen != self._seen:
            self._seen = seen
            self._validator = None
            if any(_CERTIFICATE_NAME.match(path.name) for path in self.trusted.iterdir()):
                store = TrustStore([self.trusted], [])
                await store.load()
                options = CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT
                self._validator = CertificateValidator(options, store)
        return self._validator


async def client_validator(directory: Path, rejected: Path | None = None) -> ClientCertificates:
    """Accept only client certificates found in (or issued by a CA in) ``directory``."""
    if not directory.is_dir():
        raise FileNotFoundError(f"opcua.trusted_client_certificates: {directory} is not a directory")
    validator = ClientCertificates(directory, rejected)
    await validator.refresh()
    return validator


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
