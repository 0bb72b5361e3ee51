"""The OPC UA server that mirrors the twin, in the application's event loop beside the REST API."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

from asyncua import Server, ua
from asyncua.server.internal_session import InternalSession

from twinbridge.aas.operations import OperationRegistry
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.builder import EnvironmentBuilder, ValueNode
from twinbridge.server.opcua.methods import add_operation_methods, install_caller_sessions
from twinbridge.server.opcua.mirror import Mirror
from twinbridge.server.opcua.nodes import NodeFactory
from twinbridge.server.opcua.plant_view import Hierarchy, PlantView
from twinbridge.server.opcua.security import Rights, TwinUserManager, client_validator, ensure_certificate
from twinbridge.server.opcua.settings import OpcUaSettings
from twinbridge.server.opcua.types import NAMESPACE, define_types
from twinbridge.server.opcua.writes import TwinAttributeService

_log = logging.getLogger(__name__)
P = ua.SecurityPolicyType


class OpcUaServer:
    """``await start()`` builds the address space from the twin and serves it; ``await stop()`` ends it."""

    def __init__(self, twin: Twin, settings: OpcUaSettings, data_dir: Path | str,
                 operations: OperationRegistry | None = None, hierarchy: Hierarchy | None = None) -> None:
        self.twin = twin
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.operations = operations
        self.hierarchy = hierarchy
        self.server: Server | None = None
        self.namespace_index = 0
        self._builder: EnvironmentBuilder | None = None
        self._plant: PlantView | None = None
        self._mirror: Mirror | None = None
        self._rights = Rights(settings)

    @property
    def endpoint_url(self) -> str:
        port = self.server.bserver.port if self.server is not None and self.server.bserver is not None else None
        return self.settings.endpoint_url(port)

    @property
    def certificate_path(self) -> Path:
        directory = self.settings.certificate_dir
        return Path(directory) if directory else self.data_dir / "opcua"

    @property
    def value_nodes(self) -> dict[ua.NodeId, ValueNode]:
        """Every value-carrying Variable by NodeId (HistoryRead maps nodes to elements with it)."""
        return self._builder.values if self._builder is not None else {}

    @property
    def property_value_nodes(self) -> dict[tuple[str, str], ValueNode]:
        """Property Value Variables by (submodel id, idShortPath): the live, historized ones."""
        return self._builder.by_path if self._builder is not None else {}

    @property
    def mirror(self) -> Mirror:
        if self._mirror is None:
            raise RuntimeError("the OPC UA server is not started")
        return self._mirror

    async def start(self) -> None:
        settings = self.settings
        server = Server(user_manager=TwinUserManager(settings))
        await server.init()
        server.set_endpoint(settings.endpoint_url())
        server.set_server_name(settings.server_name)
        await server.set_application_uri(settings.application_uri)
        policies = [P.Basic256Sha256_Sign, P.Basic256Sha256_SignAndEncrypt, P.Aes256Sha256RsaPss_SignAndEncrypt]
        if settings.allow_none_security:
            policies.insert(0, P.NoSecurity)
        server.set_security_policy(policies)
        tokens: list[type] = [ua.UserNameIdentityToken]
        if settings.anonymous != "off":
            tokens.insert(0, ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        certificate, key = await ensure_certificate(self.certificate_path, settings.application_uri)
        await server.load_certificate(str(certificate))
        await server.load_private_key(str(key))
        if settings.trusted_client_certificates:
            server.set_certificate_validator(await client_validator(Path(settings.trusted_client_certificates)))
        InternalSession.max_connections = settings.max_sessions

        self.namespace_index = await server.register_namespace(NAMESPACE)
        types = await define_types(server, self.namespace_index)
        factory = NodeFactory(server.iserver.aspace, self.namespace_index)
        self._builder = builder = EnvironmentBuilder(factory, types, self.twin)
        self._mirror = mirror = Mirror(self.twin, builder, self._after_structure)
        mirror.subscribe()  # before the build: nothing that changes meanwhile is missed
        builder.build_all()
        gc.freeze()  # the address space is long-lived: keep full collections from rescanning it
        install_caller_sessions(server.iserver)
        await add_operation_methods(server, builder.pending_operations, self.operations, self._rights)
        self._plant = PlantView(factory, self.twin, self.hierarchy)
        self._plant.rebuild()
        server.iserver.attribute_service = TwinAttributeService(
            server.iserver.aspace, self.twin, builder.values, self._rights, mirror.echo)
        self.server = server
        try:
            await server.start()
        except OSError as error:
            await mirror.stop()
            self.server = self._mirror = self._builder = self._plant = None
            raise OSError(error.errno, f"OPC UA server cannot listen on {settings.endpoint_url()}: "
                                       f"{error.strerror or error}") from error
        mirror.start()
        _log.info("OPC UA server listening on %s (%d values mirrored)", self.endpoint_url, len(builder.by_path))

    async def stop(self) -> None:
        if self._mirror is not None:
            await self._mirror.stop()
        if self.server is not None:
            await self.server.stop()
        self.server = self._mirror = self._builder = self._plant = None

    async def _after_structure(self, containers_changed: bool) -> None:
        if self.server is None or self._builder is None:
            return
        await add_operation_methods(self.server, self._builder.pending_operations, self.operations, self._rights)
        if containers_changed and self._plant is not None:
            self._plant.rebuild()
