"""Encrypted endpoints, users and the generated application certificate (server: no None, no anonymous)."""

from __future__ import annotations

import shutil
import socket
import stat
from pathlib import Path

import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.opcua.conftest import OPERATIONAL, USERS, i4aas_of, ns_of
from tests.ports import free_port
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua import OpcUaServer, OpcUaSettings
from twinbridge.server.opcua.security import CERTIFICATE_FILE, KEY_FILE

pytestmark = pytest.mark.asyncio(loop_scope="module")
CLIENT_URI = "urn:twinbridge:test:client"


async def _make_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    certificate, key = directory / f"{name}.der", directory / f"{name}.pem"
    await setup_self_signed_certificate(key, certificate, CLIENT_URI, socket.gethostname(),
                                        [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": name})
    return certificate, key


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return await _make_certificate(tmp_path_factory.mktemp("client-pki"), "trusted-client")


@pytest.fixture(scope="module")
def settings(client_certificate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> OpcUaSettings:
    trusted = tmp_path_factory.mktemp("trusted-clients")
    shutil.copy(client_certificate[0], trusted / client_certificate[0].name)
    return OpcUaSettings(host="127.0.0.1", port=free_port(), users=USERS, allow_none_security=False,
                         anonymous="off", trusted_client_certificates=str(trusted))


async def _secure_client(opcua: OpcUaServer, policy: str, certificate: tuple[Path, Path],
                         user: str | None = "operator", password: str = "op-secret") -> Client:
    client = Client(opcua.endpoint_url, timeout=10)
    client.application_uri = CLIENT_URI
    await client.set_security_string(f"{policy},SignAndEncrypt,{certificate[0]},{certificate[1]}")
    if user is not None:
        client.set_user(user)
        client.set_password(password)
    return client


async def test_endpoints_offer_the_configured_policies_only(opcua: OpcUaServer) -> None:
    endpoints = await Client(opcua.endpoint_url, timeout=10).connect_and_get_server_endpoints()
    offered = {(endpoint.SecurityPolicyUri.rsplit("#", 1)[-1], endpoint.SecurityMode) for endpoint in endpoints}
    assert offered == {
        ("Basic256Sha256", ua.MessageSecurityMode.Sign),
        ("Basic256Sha256", ua.MessageSecurityMode.SignAndEncrypt),
        ("Aes256_Sha256_RsaPss", ua.MessageSecurityMode.SignAndEncrypt),
    }
    tokens = {policy.TokenType for endpoint in endpoints for policy in endpoint.UserIdentityTokens}
    assert tokens == {ua.UserTokenType.UserName}


async def test_basic256sha256_sign_and_encrypt_with_a_user_reads_and_writes(
        twin: Twin, opcua: OpcUaServer, client_certificate: tuple[Path, Path]) -> None:
    client = await _secure_client(opcua, "Basic256Sha256", client_certificate)
    async with client:
        ns, i4aas = await ns_of(client), await i4aas_of(client)
        label = await client.nodes.objects.get_child(
            [*(f"{ns}:{name}" for name in ("AASEnvironment", "Machine1", "OperationalData", "Label")),
                 f"{i4aas}:Value"])
        assert await label.read_value() == "press"
        await label.write_value(ua.DataValue(ua.Variant("encrypted", ua.VariantType.String)))
    assert twin.element(OPERATIONAL, "Label").value == "encrypted"  # type: ignore[attr-defined]


async def test_aes256_sha256_rsapss_sign_and_encrypt_connects(
        opcua: OpcUaServer, client_certificate: tuple[Path, Path]) -> None:
    client = await _secure_client(opcua, "Aes256Sha256RsaPss", client_certificate, user="viewer",
                                  password="view-secret")
    async with client:
        ns, i4aas = await ns_of(client), await i4aas_of(client)
        speed = await client.nodes.objects.get_child(
            [*(f"{ns}:{name}" for name in ("AASEnvironment", "Machine1", "OperationalData", "Speed")),
                 f"{i4aas}:Value"])
        assert await speed.read_value() == 12.5


async def test_anonymous_off_and_a_wrong_password_are_refused(
        opcua: OpcUaServer, client_certificate: tuple[Path, Path]) -> None:
    anonymous = await _secure_client(opcua, "Basic256Sha256", client_certificate, user=None)
    with pytest.raises(ua.UaError):
        async with anonymous:
            pass
    intruder = await _secure_client(opcua, "Basic256Sha256", client_certificate, password="guess")
    with pytest.raises(ua.UaStatusCodeError) as refused:
        async with intruder:
            pass
    assert refused.value.code == ua.StatusCodes.BadUserAccessDenied
    plain = Client(opcua.endpoint_url, timeout=10)
    with pytest.raises((ua.UaError, ConnectionError, OSError)):
        async with plain:
            pass


async def test_the_certificate_is_generated_once_into_the_data_dir(opcua: OpcUaServer, twin: Twin) -> None:
    certificate = opcua.certificate_path / CERTIFICATE_FILE
    key = opcua.certificate_path / KEY_FILE
    assert certificate.is_file() and key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = certificate.read_bytes()
    again = OpcUaServer(twin, opcua.settings.model_copy(update={"port": free_port()}), opcua.data_dir)
    await again.start()
    try:
        assert (again.certificate_path / CERTIFICATE_FILE).read_bytes() == first
    finally:
        await again.stop()


async def test_a_client_certificate_outside_the_trust_list_is_rejected(
        opcua: OpcUaServer, tmp_path: Path) -> None:
    stranger = await _secure_client(opcua, "Basic256Sha256", await _make_certificate(tmp_path, "stranger"))
    with pytest.raises(ua.UaStatusCodeError) as refused:
        async with stranger:
            pass
    assert refused.value.code == ua.StatusCodes.BadCertificateUntrusted


async def test_a_port_in_use_is_a_clear_error(opcua: OpcUaServer, twin: Twin) -> None:
    clash = OpcUaServer(twin, opcua.settings.model_copy(update={"port": opcua.settings.port}), opcua.data_dir)
    with pytest.raises(OSError, match=f"cannot listen on opc.tcp://127.0.0.1:{opcua.settings.port}/twinbridge"):
        await clash.start()
    assert clash.server is None
