"""mqtts:// with a private CA, username and password, against a Mosquitto TLS listener."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.adapters.mqtt_fixtures import MOSQUITTO, SUBMODEL_ID, Mosquitto, eventually, machine_twin, value_of
from tests.peers import missing_peer
from twinbridge.aas.quality import Quality
from twinbridge.adapters.config import Backoff, Binding, ElementTarget
from twinbridge.adapters.mqtt.adapter import MqttAdapter
from twinbridge.adapters.mqtt.config import MqttPoint, MqttSource, MqttTls


def write_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key) files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "twinbridge test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o644)
    return paths


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, Path]]:
    passwd = shutil.which("mosquitto_passwd")
    if not Path(MOSQUITTO).exists() or passwd is None:
        missing_peer("needs mosquitto and mosquitto_passwd (apt-get install mosquitto)")
    ca, cert, key = write_pki(tmp_path)
    passwords = tmp_path / "passwords"
    subprocess.run([passwd, "-b", "-c", str(passwords), "plant", "s3cret"], check=True, capture_output=True)
    passwords.chmod(0o644)
    broker = Mosquitto(tmp_path, anonymous=False, extra=[
        f"cafile {ca}", f"certfile {cert}", f"keyfile {key}", f"password_file {passwords}",
    ])
    broker.start()
    try:
        yield broker, ca
    finally:
        broker.stop()


def tls_publisher(port: int, ca: Path) -> paho.Client:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    client.username_pw_set("plant", "s3cret")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


async def test_mqtts_with_credentials_delivers_and_wrong_password_stays_disconnected(
    secure_broker: tuple[Mosquitto, Path],
) -> None:
    broker, ca = secure_broker
    twin = machine_twin()
    point = Binding(source="secure", target=ElementTarget(shell="Machine", submodel="Signals", path="Temperature"),
                    mqtt=MqttPoint(topic="plant/secure/temp", payload="text", qos=1))

    def source(password: str) -> MqttSource:
        return MqttSource(name="secure", url=f"mqtts://127.0.0.1:{broker.port}", username="plant", password=password,
                          tls=MqttTls(ca_file=str(ca)), backoff=Backoff(initial_s=0.05, max_s=0.1))

    intruder = MqttAdapter(source("wrong"), [("bindings[0]", point)], twin)
    await intruder.start()
    with pytest.raises(TimeoutError):
        await intruder.wait_connected(1.0)
    await intruder.stop()

    twin = machine_twin()
    adapter = MqttAdapter(source("s3cret"), [("bindings[0]", point)], twin)
    await adapter.start()
    publisher = tls_publisher(broker.port, ca)
    try:
        await adapter.wait_connected(10)
        publisher.publish("plant/secure/temp", b"55.5", qos=1).wait_for_publish(5)
        temperature = twin.live(SUBMODEL_ID, "Temperature")
        await eventually(lambda: temperature.quality is Quality.GOOD, what="value over TLS")
        assert value_of(temperature) == 55.5
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        await adapter.stop()
