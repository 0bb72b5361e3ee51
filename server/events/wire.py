"""A small MQTT 3.1.1 client for the northbound channels: many PUBLISH packets per socket write.

Why not aiomqtt/paho here (the adapters use them): paho builds and sends every message on its
own, one ``send()`` per PUBLISH, which capped the event publisher at ~6,300 events/s on the
2-core test machine, where the issue asks for 50,000. Events leave in batches (one bus batch
at a time), so this client encodes a whole batch of PUBLISH packets into one buffer and writes
it with one ``transport.write``; ``drain`` then applies the transport's back-pressure once per
batch. It does what the event publisher and the Sparkplug edge node need and no more: CONNECT
with credentials, TLS and a will; PUBLISH at QoS 0, 1 (PUBACK) and 2 (PUBREC/PUBREL/PUBCOMP);
SUBSCRIBE and incoming PUBLISH (QoS 0/1) for Sparkplug commands; PINGREQ keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from twinbridge.adapters.mqtt.config import MqttTls

_PACK_H = struct.Struct("!H").pack
_CONNECT, _CONNACK, _PUBLISH, _PUBACK, _PUBREC, _PUBREL, _PUBCOMP = 0x10, 0x20, 0x30, 0x40, 0x50, 0x62, 0x70
_SUBSCRIBE, _SUBACK, _PINGREQ, _PINGRESP, _DISCONNECT = 0x82, 0x90, b"\xc0\x00", 0xD0, b"\xe0\x00"
_REFUSALS = {1: "unacceptable protocol version", 2: "client identifier rejected", 3: "server unavailable",
             4: "bad user name or password", 5: "not authorized"}

MessageHandler = Callable[[str, bytes], None]
"""Called in the reader for each incoming PUBLISH (topic, payload); must not block."""


class MqttWireError(ConnectionError):
    """The broker refused the connection, or the connection was lost."""


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to connect (from a ``mqtt://`` or ``mqtts://`` URL and the channel's settings)."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str, username: str | None = None, password: str | None = None,
                 tls: MqttTls | None = None) -> Endpoint:
        parts = urlsplit(url)
        secure = parts.scheme == "mqtts"
        if not parts.hostname:
            raise ValueError(f"url {url!r} has no host")
        context = _ssl_context(tls) if secure or tls is not None else None
        return cls(parts.hostname, parts.port or (8883 if secure else 1883), context,
                   username if username is not None else parts.username,
                   password if password is not None else parts.password)


def _ssl_context(tls: MqttTls | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=tls.ca_file if tls else None)
    if tls is not None and tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls is not None and tls.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _length(n: int) -> bytes:
    """MQTT's variable-length "remaining length" (7 bits a byte)."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


_LENGTHS: Final = [_length(n) for n in range(16_384)]
"""The remaining-length bytes of every packet up to 16 KiB, computed once (one or two bytes)."""


def _text(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _PACK_H(len(data)) + data


class MqttWire:
    """One connection. ``connect`` → ``publish_many``/``publish`` (+ ``drain``) → ``close``.

    ``closed`` completes when the connection ends (its exception says why).
    """

    def __init__(self, endpoint: Endpoint, client_id: str, *, keepalive_s: int = 30, will: Will | None = None,
                 clean_session: bool = True, on_message: MessageHandler | None = None) -> None:
        self.endpoint = endpoint
        self.client_id = client_id
        self.keepalive_s = keepalive_s
        self.will = will
        self.clean_session = clean_session
        self.on_message = on_message
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._next_id = 0
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._topics: dict[str, bytes] = {}
        self.closed: asyncio.Future[None] | None = None

    # ------------------------------------------------------------ session
    async def connect(self, timeout: float = 10.0) -> None:
        endpoint = self.endpoint
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            endpoint.host, endpoint.port, ssl=endpoint.tls, limit=1 << 20), timeout)
        self._reader, self._writer = reader, writer
        flags = 0x02 if self.clean_session else 0
        body = bytearray(_text("MQTT") + b"\x04")
        tail = bytearray(_text(self.client_id))
        if self.will is not None:
            flags |= 0x04 | (self.will.qos << 3) | (0x20 if self.will.retain else 0)
            tail += _text(self.will.topic) + _text(self.will.payload)
        if endpoint.username is not None:
            flags |= 0x80
            tail += _text(endpoint.username)
            if endpoint.password is not None:
                flags |= 0x40
                tail += _text(endpoint.password)
        body += bytes((flags,)) + _PACK_H(self.keepalive_s) + tail
        writer.write(bytes((_CONNECT,)) + _length(len(body)) + body)
        kind, payload = await asyncio.wait_for(self._packet(), timeout)
        if kind != _CONNACK or len(payload) < 2:
            raise MqttWireError(f"the broker answered CONNECT with packet type {kind:#x}")
        if payload[1]:
            raise MqttWireError(f"the broker refused the connection: {_REFUSALS.get(payload[1], payload[1])}")
        self.closed = asyncio.get_running_loop().create_future()
        self._tasks = [asyncio.create_task(self._read(), name="mqtt wire reader"),
                       asyncio.create_task(self._ping(), name="mqtt wire keep-alive")]

    async def close(self) -> None:
        """DISCONNECT (no will is sent) and close the socket."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, MqttWireError, OSError):
                await task
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                writer.write(_DISCONNECT)
                writer.close()
                await asyncio.wait_for(writer.wait_closed(), 2.0)
        self._end(MqttWireError("closed"))

    def abort(self) -> None:
        """Drop the connection without DISCONNECT: the broker sends the will (tests, crash drills)."""
        if self._writer is not None:
            self._writer.transport.abort()

    # ------------------------------------------------------------ publishing
    def publish_many(self, messages: Iterable[tuple[str, bytes]], qos: int = 0, retain: bool = False) -> int:
        """Buffer every message as one socket write; returns how many. QoS 1/2: ``await acknowledged()``."""
        writer = self._live()
        header = _PUBLISH | (qos << 1) | (1 if retain else 0)
        topics = self._topics
        parts: list[bytes] = []
        append = parts.append
        count = 0
        if qos == 0:
            first = bytes((header,))
            lengths = _LENGTHS
            for topic, payload in messages:
                encoded = topics.get(topic)
                if encoded is None:
                    if len(topics) >= 10_000:  # bounded: BaSyx topics are one per element
                        topics.clear()
                    encoded = topics[topic] = _text(topic)
                size = len(encoded) + len(payload)
                append(first + (lengths[size] if size < 16_384 else _length(size)) + encoded)
                append(payload)
                count += 1
        else:
            loop = asyncio.get_running_loop()
            for topic, payload in messages:
                packet_id = self._packet_id()
                self._acks[packet_id] = loop.create_future()
                variable = _text(topic) + _PACK_H(packet_id)
                append(bytes((header,)) + _length(len(variable) + len(payload)) + variable)
                append(payload)
                count += 1
        writer.write(b"".join(parts))
        return count

    def publish_batch(self, topic: str, payloads: list[bytes], qos: int = 0, retain: bool = False) -> int:
        """``publish_many`` of payloads that share one topic (the async-aas layout)."""
        if qos:
            return self.publish_many(((topic, payload) for payload in payloads), qos, retain)
        writer = self._live()
        encoded = _text(topic)
        first = bytes((_PUBLISH | (1 if retain else 0),))
        lengths, topic_size = _LENGTHS, len(encoded)
        parts: list[bytes] = []
        append = parts.append
        for payload in payloads:
            size = topic_size + len(payload)
            append(first + (lengths[size] if size < 16_384 else _length(size)) + encoded)
            append(payload)
        writer.write(b"".join(parts))
        return len(payloads)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.publish_many(((topic, payload),), qos, retain)

    async def drain(self) -> None:
        """Wait while the socket's buffer is above its high-water mark (a slow broker)."""
        try:
            await self._live().drain()
        except OSError as error:
            raise MqttWireError(str(error)) from error

    async def acknowledged(self) -> None:
        """Wait for every QoS 1/2 message sent so far to be acknowledged (or the connection to end)."""
        pending = list(self._acks.values())
        if pending and self.closed is not None:
            acked: asyncio.Future[Any] = asyncio.gather(*pending, return_exceptions=True)
            waiting: set[asyncio.Future[Any]] = {acked, self.closed}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            acked.cancel()
            self._check()

    async def subscribe(self, topics: list[tuple[str, int]]) -> None:
        writer = self._live()
        packet_id = self._packet_id()
        body = _PACK_H(packet_id) + b"".join(_text(topic) + bytes((qos,)) for topic, qos in topics)
        future = self._acks[packet_id] = asyncio.get_running_loop().create_future()
        writer.write(bytes((_SUBSCRIBE,)) + _length(len(body)) + body)
        await asyncio.wait_for(future, 10.0)

    # ------------------------------------------------------------ internals
    def _live(self) -> asyncio.StreamWriter:
        self._check()
        assert self._writer is not None
        return self._writer

    def _check(self) -> None:
        if self.closed is None or self._writer is None:
            raise MqttWireError("not connected")
        if self.closed.done():
            raise (None if self.closed.cancelled() else self.closed.exception()) or MqttWireError("closed")

    def _packet_id(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    async def _packet(self) -> tuple[int, bytes]:
        reader = self._reader
        assert reader is not None
        first = (await reader.readexactly(1))[0]
        size, shift = 0, 0
        while True:
            byte = (await reader.readexactly(1))[0]
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first, await reader.readexactly(size) if size else b""

    async def _read(self) -> None:
        try:
            while True:
                kind, body = await self._packet()
                self._dispatch(kind, body)
        except (asyncio.IncompleteReadError, OSError) as error:
            self._end(MqttWireError(f"connection lost: {error}" if str(error) else "connection lost"))

    def _dispatch(self, kind: int, body: bytes) -> None:
        packet = kind & 0xF0
        if packet in (_PUBACK, _PUBCOMP, _SUBACK):
            future = self._acks.pop(struct.unpack_from("!H", body)[0], None)
            if future is not None and not future.done():
                future.set_result(None)
        elif packet == _PUBREC:
            assert self._writer is not None
            self._writer.write(bytes((_PUBREL, 2)) + body[:2])
        elif packet == _PUBLISH:
            qos = (kind >> 1) & 0x03
            size = struct.unpack_from("!H", body)[0]
            topic = body[2:2 + size].decode()
            start = 2 + size + (2 if qos else 0)
            if qos == 1:
                assert self._writer is not None
                self._writer.write(bytes((_PUBACK, 2)) + body[2 + size:start])
            if self.on_message is not None:
                self.on_message(topic, body[start:])

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(max(self.keepalive_s / 2, 0.5))
            if self._writer is not None:
                self._writer.write(_PINGREQ)

    def _end(self, error: MqttWireError) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_exception(error)
            self.closed.exception()  # retrieved: a lost connection is reported by the callers that care
        for future in self._acks.values():
            if not future.done():
                future.set_exception(error)
                future.exception()
        self._acks.clear()
