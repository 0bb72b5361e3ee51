"""One broker session as a supervised ``Link``: connect (mqtt:// or mqtts://, credentials, client
id, clean or persistent session), subscribe, hand every message to a callback, and say why the
session ended. Reconnection, backoff and quality belong to the shared ``ConnectionSupervisor``.

Messages arrive through ``HandlerClient`` (``compat_aiomqtt``): the callback runs synchronously
in the socket reader and must not block.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from twinbridge.adapters.mqtt.compat_aiomqtt import HandlerClient, MessageHandler
from twinbridge.adapters.mqtt.config import MqttSource, shown_url
from twinbridge.adapters.supervisor import describe


def client_options(source: MqttSource) -> dict[str, Any]:
    """aiomqtt.Client keyword arguments for ``source`` (host, port, TLS, credentials, session)."""
    url = urlsplit(source.url)
    secure = url.scheme == "mqtts"
    if not url.hostname:
        raise ValueError(f"source {source.name!r}: url {shown_url(source.url)!r} has no host")
    options: dict[str, Any] = {
        "hostname": url.hostname,
        "port": url.port or (8883 if secure else 1883),
        "username": source.username if source.username is not None else url.username,
        "password": source.password if source.password is not None else url.password,
        "identifier": source.client_id,
        "clean_session": source.clean_session,
        "keepalive": source.keepalive_s,
        "timeout": 10.0,
    }
    if secure or source.tls is not None:
        tls = source.tls
        options["tls_params"] = aiomqtt.TLSParameters(
            ca_certs=tls.ca_file if tls else None,
            certfile=tls.cert_file if tls else None,
            keyfile=tls.key_file if tls else None,
            cert_reqs=ssl.CERT_NONE if tls and tls.insecure else ssl.CERT_REQUIRED,
        )
        options["tls_insecure"] = bool(tls and tls.insecure)
    return options


class MqttConnection:
    """The session with the broker of ``source`` (``open`` / ``serve`` / ``close``, and ``publish``)."""

    def __init__(self, source: MqttSource, subscriptions: list[tuple[str, int]], handler: MessageHandler) -> None:
        self.source = source
        self._options = client_options(source)
        self.address = f"{self._options['hostname']}:{self._options['port']}"
        self._subscriptions = subscriptions
        self._handler = handler
        self._client: HandlerClient | None = None

    async def open(self) -> None:
        client = HandlerClient(self._handler, **self._options)
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as error:
            raise ConnectionError(describe(error)) from None
        self._client = client
        if self._subscriptions:
            try:
                await client.subscribe(self._subscriptions)
            except aiomqtt.MqttError as error:
                raise ConnectionError(f"subscribing failed: {describe(error)}") from None

    async def serve(self) -> str:
        client = self._client
        if client is None:
            return "not connected"
        try:
            # HandlerClient keeps the queue empty, so this only ends by raising when the session drops.
            async for _ in client.messages:
                pass
        except aiomqtt.MqttError as error:
            cause = error.__cause__
            return f"{describe(error)} ({describe(cause)})" if cause is not None else describe(error)
        return "the session ended"

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)

    async def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        client = self._client
        if client is None:
            raise ConnectionError(f"MQTT source {self.source.name!r} is not connected to its broker")
        try:
            await client.publish(topic, payload, qos=qos)
        except aiomqtt.MqttError as error:
            raise ConnectionError(f"MQTT source {self.source.name!r}: publish to {topic!r} failed: {error}") from None
