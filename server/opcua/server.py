"""The OPC UA server that mirrors the twin, in the application's event loop beside the REST API."""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from basyx.aas import model

from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.operations import OperationRegistry
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua import compat_asyncua
from twinbridge.server.opcua.builder import FOLDER_TYPE, EnvironmentBuilder, StoredNodes
from twinbridge.server.opcua.compat_asyncua import NodeData
from twinbridge.server.opcua.element_nodes import DICTIONARIES, ElementNodes
from twinbridge.server.opcua.ids import SHELL, SUBMODEL
from twinbridge.server.opcua.methods import OperationMethod, install_caller_sessions
from twinbridge.server.opcua.mirror import Mirror
from twinbridge.server.opcua.model_changes import ModelChanges
from twinbridge.server.opcua.nodes import DATA_VARIABLE_TYPE, PROPERTY_TYPE, Names, NodeKit, TwinNode
from twinbridge.server.opcua.plant_view import Hierarchy, PlantView
from twinbridge.server.opcua.security import (
    PKI_DIR,
    Pki,
    Rights,
    TwinUserManager,
    adopt_legacy_certificate,
    client_validator,
    ensure_certificate,
)
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
        self._elements: ElementNodes | None = None
        self._rights = Rights(settings)

    @property
    def endpoint_url(self) -> str:
        port = self.server.bserver.port if self.server is not None and self.server.bserver is not None else None
        return self.settings.endpoint_url(port)

    @property
    def pki(self) -> Pki:
        return Pki(self.data_dir / PKI_DIR)

    @property
    def certificate_path(self) -> Path:
        directory = self.settings.certificate_dir
        return Path(directory) if directory else self.pki.own

    @property
    def mirror(self) -> Mirror:
        if self._mirror is None:
            raise RuntimeError("the OPC UA server is not started")
        return self._mirror

    def advertise_history(self) -> None:
        """Property values say ``Historizing`` and carry the HistoryRead access bit (history serves them)."""
        if self._elements is not None:
            self._elements.historizing = True

    @property
    def watched_values(self) -> int:
        """How many values clients monitor: the only per-value state the mirror keeps."""
        return len(self._elements.watchers) if self._elements is not None else 0

    @property
    def stored_nodes(self) -> dict[str, int]:
        """The mirror's nodes the address space stores, by kind (everything else is computed)."""
        counts = {"folders": 0, "shells": 0, "submodels": 0}
        if self.server is not None:
            stored = self.server.iserver.aspace.keys()  # AddressSpace has keys() but no __iter__
            for identifier in stored:
                if identifier.NamespaceIndex != self.namespace_index or not isinstance(identifier.Identifier, str):
                    continue
                text = identifier.Identifier
                kind = "shells" if text.startswith(SHELL) else "submodels" if text.startswith(SUBMODEL) else \
                    "folders" if text in ("AASEnvironment", "Plant") else None
                if kind is not None:
                    counts[kind] += 1
        return counts

    async def start(self) -> None:
        # Nothing built here is garbage, and a collection on the way rescans the twin's whole
        # heap: on the 1,000-machine plant, collections during asyncua's import of its standard
        # address space alone took 25 s of a 47 s start. So collect once frozen, not meanwhile.
        with collector_paused():
            server = await self._configured_server()
            mirror = await self._build_mirror(server)
        gc.freeze()
        self.server = server
        try:
            await server.start()
        except OSError as error:
            await mirror.stop()
            self.server = self._mirror = self._builder = self._plant = self._elements = None
            raise OSError(error.errno, f"OPC UA server cannot listen on {self.settings.endpoint_url()}: "
                                       f"{error.strerror or error}") from error
        mirror.start()
        stored = self.stored_nodes
        _log.info("OPC UA server listening on %s (%d shells, %d submodels)", self.endpoint_url,
                  stored["shells"], stored["submodels"])

    async def _configured_server(self) -> Server:
        """An initialized asyncua server with the endpoint, security and identities of the settings."""
        settings = self.settings
        server = Server(user_manager=TwinUserManager(settings))
        compat_asyncua.check(server.iserver)
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
        pki = self.pki
        pki.create()
        if not settings.certificate_dir:
            adopt_legacy_certificate(self.data_dir / "opcua", pki.own)
        certificate, key = await ensure_certificate(self.certificate_path, settings.application_uri)
        await server.load_certificate(str(certificate))
        await server.load_private_key(str(key))
        if settings.accept_all_certificates:
            _log.warning("OPC UA: accept_all_certificates is on: any client application certificate is accepted "
                         "(a lab setting; trust clients in %s instead)", pki.trusted)
        else:
            trusted = Path(settings.trusted_client_certificates) if settings.trusted_client_certificates \
                else pki.trusted
            compat_asyncua.install_channel_probe()
            server.set_certificate_validator(await client_validator(trusted, pki.rejected))
        compat_asyncua.set_max_sessions(settings.max_sessions)
        return server

    async def _build_mirror(self, server: Server) -> Mirror:
        """The mirror's stored nodes, node source, write service and Plant view in ``server``."""
        self.namespace_index = await server.register_namespace(NAMESPACE)
        types = await define_types(server, self.namespace_index)
        aspace = server.iserver.aspace
        kit = NodeKit(self.namespace_index)
        for type_id in (*types.ids.values(), PROPERTY_TYPE, DATA_VARIABLE_TYPE, FOLDER_TYPE):
            browse_name = aspace[type_id].attributes[ua.AttributeIds.BrowseName].value.Value.Value  # type: ignore[union-attr]
            kit.type_names[type_id] = Names(browse_name, ua.LocalizedText(browse_name.Name))
        stored = StoredNodes(aspace, kit)
        elements = ElementNodes(self.twin, kit, types, self._owner_node,
                                lambda handle: compat_asyncua.drop_monitored(aspace, handle))
        elements.method_call = self._method_call
        self._elements = elements
        self._builder = builder = EnvironmentBuilder(stored, types, self.twin, elements)
        model_changes = ModelChanges(self.twin, types, builder.environment.nodeid)
        await model_changes.start(server)
        self._mirror = mirror = Mirror(self.twin, builder, elements, self._after_structure, model_changes)
        mirror.subscribe()  # before the build: nothing that changes meanwhile is missed
        builder.build_all()
        compat_asyncua.install_node_source(aspace, elements)
        dictionaries = aspace[DICTIONARIES]  # organizes the semanticIds' entries, computed when browsed
        aspace[DICTIONARIES] = TwinNode(DICTIONARIES, dictionaries.attributes, dictionaries.references,
                                        elements.dictionary_entries)
        install_caller_sessions(server.iserver)
        self._plant = PlantView(stored, self.twin, self.hierarchy)
        self._plant.rebuild()
        compat_asyncua.set_attribute_service(
            server.iserver, TwinAttributeService(aspace, self.twin, elements, self._rights))
        return mirror

    async def stop(self) -> None:
        if self._mirror is not None:
            await self._mirror.stop()
        if self.server is not None:
            await self.server.stop()
        self.server = self._mirror = self._builder = self._plant = self._elements = None

    def _owner_node(self, shell: bool, identifier: str) -> NodeData | None:
        return self._builder.owner_node(shell, identifier) if self._builder is not None else None

    def _method_call(self, submodel_id: str, path: str, operation: model.Operation) -> Callable[..., Awaitable[Any]]:
        return OperationMethod(submodel_id, path, operation, self.operations, self._rights).invoke

    async def _after_structure(self, containers_changed: bool) -> None:
        if containers_changed and self._plant is not None:
            self._plant.rebuild()
