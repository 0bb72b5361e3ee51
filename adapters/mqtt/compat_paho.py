"""Every reach into paho-mqtt's private API, in one place, checked at start-up.

Where a message's CPU went before these reaches (py-spy, bench/bench_analytics_mqtt.py, 2026-11-30):
paho's read path was 56% of the event loop's busy time with analytics on every signal, ~34 µs of
~61 µs per message. Two of its habits cost most and are replaced on the adapter's client only:

- ``paho.Client._sock_recv``: paho reads a packet in three ``recv`` system calls (its command byte,
  its length, its body), 17% of the loop's time. :class:`Receiver` takes that method's place: one
  ``recv`` of up to ``RECEIVE_SIZE`` bytes, through paho's own method (which turns TLS's
  want-read into BlockingIOError), serves paho's small reads. What it buffered belongs to its
  socket (``paho.Client._sock``): a new connection starts empty. Bytes it holds are invisible to
  the socket's readiness, so whoever drives ``loop_read`` must ask :attr:`Receiver.buffered`.
- ``paho.Client._handle_on_message``: matches every topic against the callbacks of
  ``message_callback_add`` (aiomqtt adds none) and takes two locks before it calls
  ``on_message`` (~5 µs per message). :func:`install` replaces it with the adapter's delivery. The
  locks guard paho's direct writes from a callback, which the asyncio client never makes (it
  registers writes with the event loop), and the handler runs on the event loop only.

Together: ~33 µs instead of ~61 µs of CPU per message with analytics on (BENCHMARKS.md, "MQTT:
paho's packets from one recv"). If a paho release renamed a hook, or stopped reading through it,
messages would be lost or slow without a word; ``check()`` writes a PUBLISH packet to a socket
pair and requires it to reach the delivery through both stand-ins.
"""

from __future__ import annotations

import importlib.metadata
import socket
from collections.abc import Callable

import paho.mqtt.client as paho

TESTED_VERSION = "2.2.0"

RECEIVE_SIZE = 65_536
"""Bytes asked of the socket per ``recv``: a loop turn's burst of small messages in one call."""

_PAHO_RECEIVE = paho.Client._sock_recv

Delivery = Callable[[paho.MQTTMessage], None]
"""Takes each message paho decoded, in place of paho's ``on_message`` dispatch."""


class PahoCompatError(RuntimeError):
    """A paho-mqtt private hook that twinbridge relies on is missing or no longer used."""


class Receiver:
    """Stands in for ``paho.Client._sock_recv`` (see the module doc)."""

    __slots__ = ("_at", "_data", "_paho", "_sock")

    def __init__(self, paho_client: paho.Client) -> None:
        self._paho = paho_client
        self._sock: object = None
        self._data = b""
        self._at = 0

    def __call__(self, size: int) -> bytes:
        data, at = self._data, self._at
        if at >= len(data) or self._paho._sock is not self._sock:
            self._sock, self._data, self._at = self._paho._sock, b"", 0
            data = _PAHO_RECEIVE(self._paho, RECEIVE_SIZE)  # raises as paho's own read does
            if len(data) <= size:  # the end of the stream (b""), or all of it wanted
                return data
            self._data, at = data, 0
        self._at = at + size
        return data[at:at + size]

    @property
    def buffered(self) -> bool:
        """Bytes of the current connection received and not yet read by paho."""
        return self._at < len(self._data) and self._paho._sock is self._sock


def install(paho_client: paho.Client, deliver: Delivery) -> Receiver:
    """Give ``paho_client`` the buffered receive and ``deliver`` as its message dispatch."""
    receiver = Receiver(paho_client)
    paho_client._sock_recv = receiver  # type: ignore[method-assign,assignment]
    paho_client._handle_on_message = deliver  # type: ignore[method-assign,assignment]
    return receiver


_PROBE = ("twinbridge/probe", b"1")
_PROBE_PACKET = b"\x30\x13\x00\x10twinbridge/probe1"  # PUBLISH, QoS 0, of _PROBE (MQTT 3.1.1, section 3.3)


def check() -> None:
    """Raise PahoCompatError naming what no longer holds (call once at start-up; nothing is connected)."""
    problems = [f"paho.Client.{name} is missing (twinbridge's stand-in {role})"
                for name, role in (("_sock_recv", "reads the socket in large pieces"),
                                   ("_handle_on_message", "hands messages to the adapter directly"))
                if not callable(getattr(paho.Client, name, None))]
    if not problems:
        problems += _delivery_problems()
    if problems:
        raise PahoCompatError(
            f"paho-mqtt {_installed()}: {'; '.join(problems)}; twinbridge was tested with paho-mqtt "
            f"{TESTED_VERSION} (install it with `pip install -c constraints.txt .`)"
        )


def _delivery_problems() -> list[str]:
    """A PUBLISH packet written to a socket pair must reach ``deliver`` through the receiver."""
    received: list[tuple[str, bytes]] = []
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    install(client, lambda message: received.append((message.topic, bytes(message.payload))))
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        theirs.sendall(_PROBE_PACKET)
        client._sock = ours
        try:
            client.loop_read()
        except Exception as error:  # any failure is the finding
            received.append(("error", repr(error).encode()))
        finally:
            client._sock = None
    if received == [_PROBE]:
        return []
    return [f"a PUBLISH read through paho.Client._sock_recv and dispatched by paho.Client._handle_on_message "
            f"did not arrive (got {received!r})"]


def _installed() -> str:
    try:
        return importlib.metadata.version("paho-mqtt")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"
