"""Every reach into aiomqtt's private API, in one place, checked at start-up.

The MQTT adapter receives messages by overriding ``aiomqtt.Client._on_message``, the method
aiomqtt installs as paho's ``on_message`` callback, instead of iterating ``Client.messages``:
the iterator allocates a task and an ``asyncio.wait`` per message, which halves throughput
(measured: 27,500 vs 49,600 JSON msg/s on the same broker, 2-core machine). If an aiomqtt
release renamed that method, or stopped installing it as the paho callback, the override would
never run and MQTT values would silently stop changing — so ``check()`` verifies both (the
second on a real, unconnected client) and stops the start with a message naming the hook and
the version these hooks were tested with.

Second reach: ``aiomqtt.Client._on_socket_open`` registers the socket reader, which calls paho's
``loop_read()``; paho reads one packet per call, so every message cost a full event-loop turn
(epoll, handle, callback: ~20% of the CPU per message under cProfile). ``HandlerClient`` hands
aiomqtt a stand-in for the paho client whose ``loop_read`` keeps reading while messages are
already buffered (at most ``READ_BURST`` per readable event, so other tasks still get the loop).
``check()`` verifies that aiomqtt still installs ``_on_socket_open`` as paho's callback.

Third reach: ``aiomqtt.Client._client`` (the paho client, which ``check()`` verifies) gets a
cheaper logger while DEBUG is off (``_PahoLog``).

Fourth reach: paho reads a packet in three ``recv`` system calls (its command byte, its length,
its body) through ``paho.Client._sock_recv``. ``_Receiver`` takes that method's place on our
client: one ``recv`` of up to ``RECEIVE_SIZE`` bytes, through paho's own method (which turns TLS's
want-read into BlockingIOError), serves the packets it holds. Measured: a third of paho's read
path, ~10 µs of ~60 µs CPU per message with analytics on (py-spy, bench/bench_analytics_mqtt.py).

Fifth reach: ``paho.Client._handle_on_message`` matches every topic against the callbacks of
``message_callback_add`` (aiomqtt adds none) and takes two locks before it calls ``on_message``
(~5 µs per message); on our client it is ``HandlerClient._deliver``, which hands the message to
the handler directly. The locks guard paho's direct writes from a callback, which aiomqtt never
makes (it registers writes with the event loop), and the handler runs on the event loop only.

``check()`` proves the fourth and fifth reaches end to end: a PUBLISH packet written to a socket
pair must reach the handler through the burst reader.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import socket
from collections.abc import Callable
from typing import Any, cast

import aiomqtt
import paho.mqtt.client as paho

TESTED_VERSION = "2.5.1"

log = logging.getLogger("twinbridge.adapters.mqtt")

READ_BURST = 64
"""Packets read per readable socket event at most: ~1-2 ms of work before the loop serves others."""

RECEIVE_SIZE = 65_536
"""Bytes asked of the socket per ``recv``: a loop turn's burst of small messages in one call."""

_PAHO_RECEIVE = paho.Client._sock_recv

MessageHandler = Callable[[str, bytes], None]
"""Receives (topic, payload) synchronously, on the event loop, in the socket reader: must not block."""


class AiomqttCompatError(RuntimeError):
    """An aiomqtt private hook that twinbridge relies on is missing or no longer wired."""


class _PahoLog:
    """paho's logger while DEBUG is off for aiomqtt's: paho logs every packet it reads at DEBUG, and
    through ``logging.Logger.log`` each record costs its checks (~0.5 µs a message, which the raw
    paho baseline of bench/bench_*_mqtt.py, without a logger, never pays). Warnings and errors go on
    to the logger; paho's DEBUG records appear when DEBUG was on as the client was made (every
    reconnect makes a new one)."""

    __slots__ = ("_logger",)

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def log(self, level: int, msg: str, *args: object) -> None:
        if level > logging.DEBUG:
            self._logger.log(level, msg, *args)


class HandlerClient(aiomqtt.Client):
    """aiomqtt's client with every message delivered straight to ``handler`` (see the module doc)."""

    def __init__(self, handler: MessageHandler, **options: Any) -> None:
        logger: logging.Logger = options.setdefault("logger", logging.getLogger("mqtt"))  # aiomqtt's default
        super().__init__(**options)
        paho_client = self._client
        if not logger.isEnabledFor(logging.DEBUG):
            paho_client.enable_logger(cast(logging.Logger, _PahoLog(logger)))
        self.handler = handler
        self.delivered = 0  # messages handed to ``handler``: tells the burst reader a read gave one
        self._receiver = _Receiver(paho_client)
        paho_client._sock_recv = self._receiver  # type: ignore[method-assign,assignment]
        paho_client._handle_on_message = self._deliver  # type: ignore[method-assign]

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        super()._on_socket_open(cast(paho.Client, _BurstReads(client, self)), userdata, sock)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self._deliver(message)  # aiomqtt's paho callback, should anything else call it

    def _deliver(self, message: paho.MQTTMessage) -> None:
        self.delivered += 1
        try:
            self.handler(message.topic, cast(bytes, message.payload))
        except Exception:  # a bug in one binding must not drop the connection
            log.exception("MQTT message on %r could not be handled", message.topic)


class _Receiver:
    """Stands in for ``paho.Client._sock_recv`` (see the module doc): serves paho's small reads
    from one large ``recv``. What was buffered belongs to its socket: a new connection starts empty."""

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


class _BurstReads:
    """Stands in for the paho client in aiomqtt's socket reader (see the module doc): ``loop_read``
    goes on while each read delivered a message or left bytes in the receiver; a read that delivers
    none with nothing buffered (the socket is drained, or the packet was not a message) ends the
    burst. Bytes still buffered after ``READ_BURST`` reads are read in the next loop turn (the
    socket's readiness no longer says they are there). Everything else is the paho client's."""

    __slots__ = ("_owner", "_paho")

    def __init__(self, paho_client: paho.Client, owner: HandlerClient) -> None:
        self._paho = paho_client
        self._owner = owner

    def loop_read(self, max_packets: int = 1) -> paho.MQTTErrorCode:
        client, owner = self._paho, self._owner
        receiver = owner._receiver
        rc = paho.MQTTErrorCode.MQTT_ERR_SUCCESS
        for _ in range(READ_BURST):
            before = owner.delivered
            rc = client.loop_read(max_packets)
            if rc != paho.MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
            if owner.delivered == before and not receiver.buffered:
                return rc
        if receiver.buffered:
            asyncio.get_running_loop().call_soon(self._resume)
        return rc

    def _resume(self) -> None:
        """The next burst of what is buffered; a failure ends the session as in aiomqtt's reader."""
        try:
            self.loop_read()
        except Exception as error:  # aiomqtt's reader does the same with any exception
            disconnected = self._owner._disconnected
            if not disconnected.done():
                disconnected.set_exception(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._paho, name)


def check() -> None:
    """Raise AiomqttCompatError naming the hook that is missing (call once at start-up, in a loop:
    aiomqtt's Client needs the running loop; nothing is connected)."""
    problems: list[str] = []
    if not callable(getattr(aiomqtt.Client, "_on_socket_open", None)):
        problems.append("aiomqtt.Client._on_socket_open is missing (twinbridge wraps it to read packets in bursts)")
    if not callable(getattr(aiomqtt.Client, "_on_message", None)):
        problems.append("aiomqtt.Client._on_message is missing (twinbridge overrides it to receive messages)")
    else:
        probe = HandlerClient(lambda topic, payload: None, hostname="127.0.0.1")
        paho_client = getattr(probe, "_client", None)
        if not isinstance(paho_client, paho.Client):
            problems.append("aiomqtt.Client._client is no longer the paho client")
        else:
            if paho_client.on_message != probe._on_message:
                problems.append("aiomqtt.Client no longer installs _on_message as paho's on_message callback "
                                "(twinbridge's override would never run)")
            if paho_client.on_socket_open != probe._on_socket_open:
                problems.append("aiomqtt.Client no longer installs _on_socket_open as paho's on_socket_open "
                                "callback (twinbridge's burst reader would never run)")
    for name, role in (("_sock_recv", "reads the socket in large pieces"),
                       ("_handle_on_message", "hands messages to the adapter directly")):
        if not callable(getattr(paho.Client, name, None)):
            problems.append(f"paho.Client.{name} is missing (twinbridge's stand-in {role})")
    if not problems:
        problems += _delivery_problems()
    if problems:
        raise AiomqttCompatError(
            f"aiomqtt {_installed()}: {'; '.join(problems)}; twinbridge was tested with aiomqtt {TESTED_VERSION} "
            f"(install it with `pip install -c constraints.txt .`)"
        )


_PROBE = ("twinbridge/probe", b"1")
_PROBE_PACKET = b"\x30\x13\x00\x10twinbridge/probe1"  # PUBLISH, QoS 0, of _PROBE (MQTT 3.1.1, section 3.3)


def _delivery_problems() -> list[str]:
    """A PUBLISH packet written to a socket pair must reach the handler through the burst reader,
    the receiver and the direct hand-off (the fourth and fifth reaches), and nothing else."""
    received: list[tuple[str, bytes]] = []
    probe = HandlerClient(lambda topic, payload: received.append((topic, payload)), hostname="127.0.0.1")
    paho_client = probe._client
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        theirs.sendall(_PROBE_PACKET)
        paho_client._sock = ours
        try:
            _BurstReads(paho_client, probe).loop_read()
        except Exception as error:  # any failure is the finding
            received.append(("error", repr(error).encode()))
        finally:
            paho_client._sock = None
    if received == [_PROBE]:
        return []
    return [f"a message read through paho.Client._sock_recv and delivered by paho.Client._handle_on_message "
            f"did not reach the handler (got {received!r})"]


def _installed() -> str:
    try:
        return importlib.metadata.version("aiomqtt")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"
