"""OPC UA PKI like open62541/UaExpert and per-session rights.

An unknown client certificate is refused and copied to ``pki/rejected``; after ``twinbridge
trust`` (or moving the file) the same client connects, without a restart. ``UserAccessLevel``
and ``UserExecutable`` tell each session what it may really do.
"""

from __future__ import annotations

import logging
import socket
import stat
from pathlib import Path

import pytest
from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.opcua.conftest import OPERATIONAL, i4aas_of, ns_of
from tests.ports import free_port
from twinbridge.aas.twin import Twin
from twinbridge.server import cli
from twinbridge.server.opcua import OpcUaServer
from twinbridge.server.opcua.security import CERTIFICATE_FILE

pytestmark = pytest.mark.asyncio(loop_scope="module")
CLIENT_URI = "urn:twinbridge:test:pki-client"


async def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    certificate, key = directory / f"{name}.der", directory / f"{name}.pem"
    await setup_self_signed_certificate(key, certificate, CLIENT_URI, socket.gethostname(),
                                        [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": name})
    return certificate, key


async def _encrypted(url: str, certificate: tuple[Path, Path], policy: str = "Basic256Sha256") -> Client:
    client = Client(url, timeout=10)
    client.application_uri = CLIENT_URI
    await client.set_security_string(f"{policy},SignAndEncrypt,{certificate[0]},{certificate[1]}")
    return client


async def _label_value(client: Client) -> ua.Node:
    ns, i4aas = await ns_of(client), await i4aas_of(client)  # "Value" is OPC 30270's child
    return await client.nodes.objects.get_child(
        [f"{i4aas if name == 'Value' else ns}:{name}"
         for name in ("AASEnvironment", "Machine1", "OperationalData", "Label", "Value")])


async def test_an_unknown_client_is_refused_until_trusted(opcua: OpcUaServer, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    pki = opcua.pki
    assert (pki.own / CERTIFICATE_FILE).is_file()
    for directory in (pki.root, pki.own, pki.trusted, pki.rejected):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    certificate = await _certificate(tmp_path, "Line 1 HMI")
    for policy in ("Basic256Sha256", "Aes256Sha256RsaPss"):
        with pytest.raises(ua.UaStatusCodeError) as refused:
            async with await _encrypted(opcua.endpoint_url, certificate, policy):
                pass
        assert refused.value.code == ua.StatusCodes.BadCertificateUntrusted
    rejected = list(pki.rejected.iterdir())
    assert len(rejected) == 1 and rejected[0].name.endswith("].der")  # UaExpert naming: "<CN> [<SHA-1>].der"
    assert f"a copy is in {rejected[0]}" in caplog.text

    assert cli.main(["trust", str(rejected[0]), "--data", str(opcua.data_dir)]) == 0
    assert "trusted:" in capsys.readouterr().out
    assert not rejected[0].exists() and (pki.trusted / rejected[0].name).is_file()
    async with await _encrypted(opcua.endpoint_url, certificate) as client:  # no restart needed
        assert await (await _label_value(client)).read_value() == "press"


async def test_trust_refuses_a_file_that_is_not_a_certificate(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "client.der"
    bogus.write_bytes(b"not a certificate")
    assert cli.main(["trust", str(bogus), "--data", str(tmp_path / "data")]) == 2
    assert "is not an X.509 certificate" in capsys.readouterr().err


async def test_accept_all_certificates_is_a_logged_lab_setting(opcua: OpcUaServer, twin: Twin, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    settings = opcua.settings.model_copy(update={"port": free_port(), "accept_all_certificates": True})
    lab = OpcUaServer(twin, settings, tmp_path / "lab")
    await lab.start()
    try:
        assert "accept_all_certificates is on" in caplog.text
        async with await _encrypted(lab.endpoint_url, await _certificate(tmp_path, "anyone")) as client:
            assert await (await _label_value(client)).read_value() == "press"
    finally:
        await lab.stop()


async def test_user_access_level_tells_each_session_its_real_rights(client: Client, operator: Client) -> None:
    """Anonymous may read only: it is not offered CurrentWrite (nor Invoke) to be refused later."""
    write = ua.AccessLevel.CurrentWrite.mask
    anonymous_label, operator_label = await _label_value(client), await _label_value(operator)
    assert (await anonymous_label.read_attribute(ua.AttributeIds.AccessLevel)).Value.Value & write
    assert not (await anonymous_label.read_attribute(ua.AttributeIds.UserAccessLevel)).Value.Value & write
    assert (await operator_label.read_attribute(ua.AttributeIds.UserAccessLevel)).Value.Value & write
    with pytest.raises(ua.UaStatusCodeError):
        await anonymous_label.write_value(ua.DataValue(ua.Variant("nope", ua.VariantType.String)))
    ns = await ns_of(client)
    path = [f"{ns}:{name}" for name in ("AASEnvironment", "Machine1", "OperationalData", "Scale", "Invoke")]
    anonymous_invoke = await client.nodes.objects.get_child(path)
    operator_invoke = await operator.nodes.objects.get_child(path)
    assert (await anonymous_invoke.read_attribute(ua.AttributeIds.Executable)).Value.Value is True
    assert (await anonymous_invoke.read_attribute(ua.AttributeIds.UserExecutable)).Value.Value is False
    assert (await operator_invoke.read_attribute(ua.AttributeIds.UserExecutable)).Value.Value is True
    assert OPERATIONAL
