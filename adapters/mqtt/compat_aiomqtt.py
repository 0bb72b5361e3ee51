"""Every reach into aiomqtt's private API, in one place, checked at start-up.

The MQTT adapter does not iterate ``Client.messages``: the iterator allocates a task and an
``asyncio.wait`` per message, which halves throughput (measured: 27,500 vs 49,600 JSON msg/s on
the same broker, 2-core machine). Messages reach the handler through ``compat_paho``'s direct
hand-off, which replaces paho's dispatch on our client. First reach: ``HandlerClient`` still
overrides ``aiomqtt.Client._on_message``, the method aiomqtt installs as paho's ``on_message``
callback, so that a message paho hands to ``on_message`` by any other path reaches the handler
too, instead of aiomqtt's queue, which nobody reads and which would grow without bound.
``check()`` verifies that aiomqtt still installs it (on a real, unconnected client) and stops the
start with a message naming the hook and the version these hooks were tested with.

Second reach: ``aiomqtt.Client._on_socket_open`` registers the socket reader, which calls paho's
``loop_read()``; paho reads one packet per call, so every message cost a full event-loop turn
(epoll, handle, callback: ~20% of the CPU per message under cProfile). ``HandlerClient`` hands
aiomqtt a stand-in for the paho client whose ``loop_read`` keeps reading while messages are
already buffered (at most ``READ_BURST`` per readable event, so other tasks still get the loop).
``check()`` verifies that aiomqtt still installs ``_on_socket_open`` as paho's callback.

Third reach: ``aiomqtt.Client._client`` (the paho client, which ``check()`` verifies) gets a
cheaper logger while DEBUG is off (``_PahoLog``).

paho's private hooks (the buffered receive, the direct hand-off) are ``compat_paho``'s; the burst
reader below asks its ``Receiver`` whether bytes are still buffered.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from collections.abc import Callable
from typing import Any, cast

import aiomqtt
import paho.mqtt.client as paho

from twinbridge.adapters.mqtt import compat_paho

TESTED_VERSION = "2.5.1"

log = logging.getLogger("twinbridge.adapters.mqtt")

READ_BURST = 64
"""Packets read per readable socket event at most: ~1-2 ms of work before the loop serves others."""

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
        self.receiver = compat_paho.install(paho_client, self._deliver)

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        super()._on_socket_open(cast(paho.Client, _BurstReads(client, self)), userdata, sock)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self._deliver(message)  # see the module doc: never aiomqtt's unread queue

    def _deliver(self, message: paho.MQTTMessage) -> None:
        self.delivered += 1
        try:
            self.handler(message.topic, cast(bytes, message.payload))
        except Exception:  # a bug in one binding must not drop the connection
            log.exception("MQTT message on %r could not be handled", message.topic)


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
        receiver = owner.receiver
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
    if problems:
        raise AiomqttCompatError(
            f"aiomqtt {_installed()}: {'; '.join(problems)}; twinbridge was tested with aiomqtt {TESTED_VERSION} "
            f"(install it with `pip install -c constraints.txt .`)"
        )


def _installed() -> str:
    try:
        return importlib.metadata.version("aiomqtt")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"
