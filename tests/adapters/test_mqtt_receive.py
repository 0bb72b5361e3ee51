"""The MQTT client's receive path over a real socket pair (``compat_paho``'s receiver under
``compat_aiomqtt``'s burst reader): packets served from one large ``recv`` arrive whole and in
order, whatever the boundaries the bytes arrive with, and bytes already received are read even
when the socket has nothing more to say."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from twinbridge.adapters.mqtt import compat_aiomqtt, compat_paho


def publish_packet(topic: str, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH (MQTT 3.1.1, section 3.3), with the variable-length remaining length."""
    body = len(topic.encode()).to_bytes(2, "big") + topic.encode() + payload
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            break
    return b"\x30" + bytes(encoded) + body


class Wire:
    """A HandlerClient whose paho client reads one end of a socket pair; the test writes the other."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.client = compat_aiomqtt.HandlerClient(lambda topic, payload: self.received.append((topic, payload)),
                                                   hostname="127.0.0.1")
        self.paho = self.client._client
        self.ours, self.theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.paho._sock = self.ours
        self.reader = compat_aiomqtt._BurstReads(self.paho, self.client)

    def close(self) -> None:
        self.paho._sock = None
        self.ours.close()
        self.theirs.close()


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    made = Wire()  # HandlerClient needs the running loop
    yield made
    made.close()


async def test_more_than_a_burst_buffered_is_read_in_later_loop_turns(wire: Wire) -> None:
    """500 messages in one recv: a socket event reads READ_BURST of them; the rest, which the socket
    no longer signals, follow in the next loop turns without another byte arriving."""
    sent = [(f"plant/m{i % 7}", str(i).encode()) for i in range(500)]
    wire.theirs.sendall(b"".join(publish_packet(topic, payload) for topic, payload in sent))
    await asyncio.sleep(0.05)  # every byte is in our socket's buffer
    wire.reader.loop_read()
    assert len(wire.received) == compat_aiomqtt.READ_BURST
    for _ in range(100):
        if len(wire.received) == len(sent):
            break
        await asyncio.sleep(0)
    assert wire.received == sent


async def test_packets_split_anywhere_arrive_whole(wire: Wire) -> None:
    """Bytes arriving in pieces that cut packets (header, length, body) at every position."""
    sent = [("a/b", b"x" * n) for n in (0, 1, 126, 127, 128, 300, 16_383, 16_384)]
    stream = b"".join(publish_packet(topic, payload) for topic, payload in sent)
    at, piece = 0, 1
    while at < len(stream):
        wire.theirs.sendall(stream[at:at + piece])
        at += piece
        piece = piece % 97 + 1
        await asyncio.sleep(0)
        wire.reader.loop_read()
    await asyncio.sleep(0.01)
    wire.reader.loop_read()
    assert wire.received == sent


async def test_a_message_larger_than_one_receive_arrives_whole(wire: Wire) -> None:
    payload = bytes(range(256)) * (3 * compat_paho.RECEIVE_SIZE // 256 + 7)

    async def send() -> None:
        await asyncio.get_running_loop().sock_sendall(wire.theirs, publish_packet("big", payload))

    wire.theirs.setblocking(False)
    sending = asyncio.ensure_future(send())
    for _ in range(10_000):
        wire.reader.loop_read()
        if wire.received:
            break
        await asyncio.sleep(0.001)
    await sending
    assert wire.received == [("big", payload)]


async def test_bytes_of_a_lost_connection_are_not_read_on_the_next(wire: Wire) -> None:
    """What the receiver buffered belongs to its socket: a reconnect starts from the new stream."""
    wire.theirs.sendall(b"".join(publish_packet("old", str(i).encode()) for i in range(200)))
    await asyncio.sleep(0.05)
    wire.reader.loop_read()
    assert len(wire.received) == compat_aiomqtt.READ_BURST
    old = len(wire.received)
    new_ours, new_theirs = socket.socketpair()
    with new_ours, new_theirs:
        new_ours.setblocking(False)
        wire.paho._sock = new_ours
        wire.paho._in_packet = {"command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
                                "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0}
        new_theirs.sendall(publish_packet("new", b"1"))
        await asyncio.sleep(0.01)
        wire.reader.loop_read()
        for _ in range(10):
            await asyncio.sleep(0)
        wire.paho._sock = wire.ours
    assert wire.received[old:] == [("new", b"1")]
