"""The composition root: one process, one event loop, every room wired together.

Start order follows the road a value travels: the store and the twin first, then the
content (imports, then the plant file), then what derives from it (hierarchy, roll-ups,
semantic graph), then the adapters that feed it, and last the endpoints that expose it.
Stop runs the other way round and flushes live values to the store. What the repository holds
before it serves (imports, the plant) is built by ``content``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import uvicorn
from pydantic import SecretStr

from twinbridge.aas import compat_basyx
from twinbridge.aas.errors import InvalidInput, TwinError
from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.operations import OperationRegistry
from twinbridge.aas.replication import follow
from twinbridge.aas.store import open_store, private_directory
from twinbridge.aas.twin import Twin
from twinbridge.adapters.binding import resolve_target
from twinbridge.adapters.config import Binding
from twinbridge.adapters.modbus import compat_pymodbus
from twinbridge.adapters.mqtt import compat_aiomqtt, compat_paho
from twinbridge.adapters.registry import create_adapter
from twinbridge.history.service import HistoryService
from twinbridge.server import compat_uvicorn
from twinbridge.server.analytics_service import AnalyticsService
from twinbridge.server.api.alarms import alarm_router
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity, ApiToken
from twinbridge.server.api.hierarchy import router as hierarchy_router
from twinbridge.server.api.history import routers as history_routers
from twinbridge.server.api.ids import encode_id
from twinbridge.server.api.plant_status import router as plant_status_router
from twinbridge.server.api.services import Services, app_services
from twinbridge.server.api.sparql import router as sparql_router
from twinbridge.server.bounded_cache import bounded_plant_file
from twinbridge.server.config import PlantFile, TokenAuth
from twinbridge.server.content import import_files, load_plant, store_url
from twinbridge.server.events.health import health_router
from twinbridge.server.events.hub import EventHub
from twinbridge.server.events.mqtt import MqttEventPublisher
from twinbridge.server.events.sparkplug import SparkplugEdgeNode, SparkplugHostState
from twinbridge.server.events.sse import event_stats, events_router
from twinbridge.server.opcua.settings import OpcUaUser
from twinbridge.server.simulations import SimulationService
from twinbridge.server.tokens import admin_token, demo_opcua_user, shown
from twinbridge.server.ui.serving import Dashboard
from twinbridge.submodels.hierarchy import PlantHierarchy
from twinbridge.submodels.plant import Plant
from twinbridge.submodels.semantic import SemanticGraph

if TYPE_CHECKING:
    from asyncua import ua

    from twinbridge.registry.host import RegistryHost
    from twinbridge.server.opcua import OpcUaServer

log = logging.getLogger("twinbridge")


def property_of_value_node(node_id: ua.NodeId) -> tuple[str, str] | None:
    """(submodel id, idShortPath) of the element whose OPC UA Value Variable ``node_id`` is (history reads)."""
    from twinbridge.server.opcua.ids import parse

    parsed = parse(node_id.Identifier)
    if parsed is None or parsed.shell or not parsed.path or parsed.names != ("Value",):
        return None
    return parsed.identifier, parsed.path


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Options:
    """What the command line says; each field, when set, overrides the plant file."""

    host: str | None = None
    port: int | None = None
    data: Path | None = None
    imports: list[Path] = field(default_factory=list)
    token: str | None = None
    opcua_port: int | None = None
    opcua: bool = True
    demo: bool = False
    mqtt_url: str | None = None
    mqtt_port: int | None = None
    replace: bool = False
    """``--replace``: imports overwrite objects that exist (default: keep them, create what is missing)."""
    store: str | None = None
    """``--store URL``: the plant file's ``server.store`` for this run (``postgresql://…`` to share one)."""


DEFERRED_SLICE_S = 0.02
"""Longest stretch of deferred start-up saving on the loop between two requests."""
DEFERRED_PAUSE_S = 0.03
"""Idle time after each slice. A request takes several loop turns (accept, read, the endpoint,
write); with ``sleep(0)`` between slices each turn waited for a slice (of this and of the
journal's baseline): GET /shells p50 ~2x the baseline's under load while the plant was saved."""

def bindings_by_source(plant_file: PlantFile) -> dict[str, list[tuple[str, Binding]]]:
    grouped: dict[str, list[tuple[str, Binding]]] = {s.name: [] for s in plant_file.southbound.sources}
    for index, binding in enumerate(plant_file.southbound.bindings):
        grouped[binding.source].append((f"bindings[{index}]", binding))
    return grouped


class Application:
    def __init__(self, plant_file: PlantFile, options: Options) -> None:
        self.plant_file = plant_file
        self.options = options
        settings = plant_file.server
        self.data_dir = options.data if options.data is not None else settings.data
        self.host = options.host or settings.rest.host
        self.port = options.port if options.port is not None else settings.rest.port
        compat_basyx.check()  # a basyx without the hooks we use stops here, naming them
        if self.data_dir is not None:
            private_directory(self.data_dir)
        self.twin = Twin(open_store(store_url(options.store or settings.store, self.data_dir)))
        self.twin.serving.clear()  # until HTTP listens (``_after_first_answer``)
        self.operations = OperationRegistry()
        self.services: list[Service] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.http: uvicorn.Server | None = None
        self.plant: Plant | None = None
        """The described plant once started (None for a repository without a plant file)."""
        self.token: str | None = None
        self._token_origin = ""
        self.demo_user: OpcUaUser | None = None
        self._demo_user_origin = ""
        self.import_reports: list[str] = []
        self.registry: RegistryHost | None = None
        self.rest: Services | None = None
        """The REST API's shared state once started (its views follow the twin until the stop)."""
        """The AAS Registry/Discovery and its feeder, when ``server.registry`` is configured."""

    async def run(self) -> None:
        """Serve until SIGINT/SIGTERM, then stop everything and flush the store."""
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_stop)
        try:
            assert self.http is not None
            await self.http.serve()
        finally:
            await self.stop()

    def request_stop(self) -> None:
        if self.http is not None:
            self.http.should_exit = True

    async def start(self) -> None:
        # library internals we rely on: a changed hook stops the start here, with its name
        compat_aiomqtt.check()
        compat_paho.check()
        compat_pymodbus.check()
        compat_uvicorn.check()
        if self.twin.resident is not None:
            self.plant_file = bounded_plant_file(self.plant_file)
        replica = follow(self.twin)
        if replica is not None:  # first: other instances' changes from the moment the twin was loaded
            await self._start(replica)
        plant_file = self.plant_file
        self.history = HistoryService(self.twin, plant_file.server.history, self.data_dir,
                                      f"http://{self.host}:{self.port}{plant_file.server.rest.prefix}/history")
        # Documents of objects created now are stored after the first answer (~6 s CPU for the
        # 1,000-machine plant's first start; see Twin.deferring_first_saves); not on a shared
        # store, whose other instances learn of an object from its stored document.
        deferring = self.twin.deferring_first_saves() if replica is None else contextlib.nullcontext()
        with collector_paused(), self.twin.completing(self.history.complete), deferring:
            # The start-up model is long-lived: frozen before the collector runs again, no
            # collection ever scans it. Re-enabling first cost one full collection over the
            # fresh heap (~1.5 s CPU for 300 machines) in whatever allocated next.
            self.import_reports = import_files(self.twin, [*self.plant_file.imports, *self.options.imports],
                                               self.options.replace, plant_file.server.rest.limits.limits())
            plant = self.plant = load_plant(self.twin, self.plant_file)
            gc.freeze()
        if plant is not None:
            hierarchy, graph = plant.hierarchy, plant.graph
            await self._start(plant)
        else:
            hierarchy = PlantHierarchy.from_twin(self.twin)
            semantic = self.plant_file.server.semantic
            graph = None if semantic == "off" else SemanticGraph(self.twin, hierarchy, eager=semantic == "eager")
            if graph is not None:
                await self._start(graph)
        await self._start(self.history)  # before the devices: history holds their first second
        await self._start_edge()  # before the devices too: the outbox holds their first values
        if self.options.demo:
            from twinbridge.server.demo import DemoDevices

            devices = DemoDevices(plant_file, self.options.mqtt_url, self.options.mqtt_port)
            await self._start(devices)
            plant_file = devices.plant_file
        self._start_adapters(plant_file)
        for adapter in self._adapters:
            await self._start(adapter)
        simulations = SimulationService(self.twin, plant_file, plant_file.server.rest.prefix, self.history,
                                        self._signal_of(plant))
        await self._start(simulations)
        routers = [plant_status_router, hierarchy_router, sparql_router, simulations.router, *history_routers]
        self.analytics: AnalyticsService | None = None
        if plant_file.analytics is not None:  # after the adapters: monitors read what they feed
            self.analytics = AnalyticsService(self.twin, plant_file.analytics)
            await self._start(self.analytics)
            routers.append(alarm_router(self.analytics.alarms))
        app = create_app(
            self.twin, prefix=plant_file.server.rest.prefix, security=self._security(), operations=self.operations,
            cors_origins=plant_file.server.rest.cors_origins or (["*"] if self.options.demo else []),
            extra_routers=[*routers, events_router(plant_file.server.events.sse)],
            semantic_graph=graph, limits=plant_file.server.rest.limits.limits(), data_dir=self.data_dir,
        )
        self.rest = app_services(app)
        app.state.history = self.history
        app.state.hierarchy = hierarchy
        app.include_router(health_router(self._source_states))  # /metrics, /health, /ready at the root
        app.include_router(Dashboard(plant_file.server.rest.prefix).router())  # the dashboard at / and /ui
        await self._start_events(app.state)
        app.state.semantic_graph = graph
        app.state.sparql_timeout_s = plant_file.server.sparql.timeout_s
        app.state.sparql_workers = plant_file.server.sparql.workers
        opcua_url = None
        if self.options.opcua and plant_file.server.opcua.enabled:
            opcua = self._opcua(hierarchy)
            await self._start(opcua)
            opcua_url = opcua.endpoint_url if opcua.server is not None else None
            if opcua.server is not None and self.history.historian is not None:
                self.history.serve_opcua(opcua.server, property_of_value_node)
                opcua.advertise_history()
            if self.analytics is not None and opcua.server is not None:
                from twinbridge.server.opcua.alarms import OpcUaAlarms
                from twinbridge.server.opcua.security import Rights

                await self._start(OpcUaAlarms(opcua.server, opcua.namespace_index, self.analytics.alarms,
                                              self.analytics.listeners, Rights(opcua.settings)))
        await self._start_registry(app, plant_file.server.rest.prefix, opcua_url)  # after OPC UA: its endpoint
        compat_uvicorn.check_port(self.host, self.port)  # before the banner: a port in use says so, in our words
        # No access log: at level warning it is never shown, but uvicorn still built each request's
        # line (client address, quoted path): ~1-2 % of the loop on every route (helper "patch").
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning", lifespan="off",
                                access_log=False)
        self.http = compat_uvicorn.HttpServer(config)
        self._tasks.append(asyncio.create_task(self._flush_periodically(plant_file.server.flush_interval_s)))
        self._tasks.append(asyncio.create_task(self._after_first_answer(), name="deferred start-up work"))
        self._banner()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", type(service).__name__)
        if self.rest is not None:
            self.rest.close()
        self.twin.close()

    async def _start(self, service: Service) -> None:
        await service.start()
        self.services.append(service)

    async def _start_events(self, state: Any) -> None:
        """The event hub (SSE, MQTT and Sparkplug read its one log), the analytics alarms into it,
        and the MQTT publisher when configured; they share the app's counters (``/metrics``)."""
        events = self.plant_file.server.events
        base_url = f"http://{self.host}:{self.port}{self.plant_file.server.rest.prefix}"
        size = max(events.sse.replay, events.mqtt.capacity if events.mqtt is not None else 0)
        hub = state.event_hub = EventHub(self.twin, base_url, event_stats(state), size,
                                         journal=self.history.journal)
        await self._start(hub)
        if self.analytics is not None:
            self.analytics.listeners.append(hub.alarm)
        if events.mqtt is not None:
            if events.mqtt.base_url:
                hub.base_url = events.mqtt.base_url
            await self._start(MqttEventPublisher(self.twin, events.mqtt, hub, event_stats(state)))
        sparkplug = events.sparkplug
        if sparkplug is not None and sparkplug.host_id is not None:
            await self._start(SparkplugHostState(sparkplug, sparkplug.host_id))
        if sparkplug is not None and sparkplug.edge_node is not None:
            await self._start(SparkplugEdgeNode(self.twin, sparkplug, hub, event_stats(state)))

    async def _start_edge(self) -> None:
        """Edge to central (``server.edge``): forward this twin's changes, or apply the edges'."""
        settings = self.plant_file.server.edge
        if settings is None:
            return
        if settings.role == "central":
            from twinbridge.server.edge.receiver import EdgeReceiver

            await self._start(EdgeReceiver(self.twin, settings))
            return
        if self.data_dir is None:
            raise InvalidInput("server.edge: an edge keeps its outbox on disk and needs a data directory (--data)")
        from twinbridge.server.edge.forwarder import EdgeForwarder

        await self._start(EdgeForwarder(self.twin, settings, self.data_dir))

    async def _start_registry(self, app: Any, prefix: str, opcua_url: str | None) -> None:
        """The AAS Registry/Discovery (``server.registry``): mounted here and/or fed from this repository
        (whose descriptors advertise ``opcua_url`` beside HTTP when the OPC UA server runs)."""
        settings = self.plant_file.server.registry
        if settings is None:
            return
        from twinbridge.registry.host import RegistryHost

        registry = self.registry = RegistryHost(self.twin, settings, self.data_dir,
                                                f"http://{self.host}:{self.port}{prefix}", opcua_url)
        registry.mount(app, app_services(app).security, prefix)
        await self._start(registry)

    def _source_states(self) -> dict[str, bool]:
        """Each source's name and whether it is connected (for /metrics and /ready)."""
        return {name: adapter.connected for name, adapter in self._sources.items()}

    def _start_adapters(self, plant_file: PlantFile) -> None:
        """One adapter per source, built by the factory registered for its ``kind``."""
        grouped = bindings_by_source(plant_file)
        self._sources = {source.name: create_adapter(source, grouped[source.name], self.twin)
                         for source in plant_file.southbound.sources}
        self._adapters: list[Service] = list(self._sources.values())

    def _opcua(self, hierarchy: PlantHierarchy) -> OpcUaServer:
        from twinbridge.server.opcua import OpcUaServer  # asyncua loads only when OPC UA is on

        settings = self.plant_file.server.opcua
        if self.options.opcua_port is not None:
            settings = settings.model_copy(update={"port": self.options.opcua_port})
        if self.options.host is not None or "host" not in settings.model_fields_set:
            settings = settings.model_copy(update={"host": self.host})  # bound like REST unless set apart
        if self.options.demo and not settings.users:
            self.demo_user, self._demo_user_origin = demo_opcua_user(self.data_dir)
            settings = settings.model_copy(update={"users": [self.demo_user]})
        if self.data_dir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="twinbridge-opcua-")
            data_dir = Path(self._scratch.name)
        else:
            data_dir = self.data_dir
        return OpcUaServer(self.twin, settings, data_dir, operations=self.operations, hierarchy=hierarchy)

    def _signal_of(self, plant: Plant | None) -> Callable[[str, str], tuple[str, str] | None] | None:
        """Where a machine's live signal lives (simulation estimates read its history)."""
        if plant is None:
            return None
        twin = self.twin

        def signal_of(machine: str, signal: str) -> tuple[str, str] | None:
            shell = next((s for s in twin.shells.values() if s.id_short == machine), None)
            if shell is None:
                return None
            try:
                return plant.signal_target(shell.id, signal)
            except TwinError:
                return None

        return signal_of

    def _security(self) -> ApiSecurity:
        auth = self.plant_file.server.auth
        if auth == "none":
            return ApiSecurity(mode="none")
        assert isinstance(auth, TokenAuth)
        token, self._token_origin = admin_token(self.options.token, self.data_dir)
        self.token = token
        tokens = [ApiToken(token=t.token, role=t.role, name=t.name) for t in auth.tokens]
        tokens.append(ApiToken(token=SecretStr(token), role="admin", name="admin"))
        return ApiSecurity(mode="token", tokens=tokens, read_open=auth.read_open)

    async def _after_first_answer(self) -> None:
        """Once HTTP listens: let deferred start-up work run (``twin.serving``) and store the
        documents whose first save was deferred, in slices of ~20 ms with pauses between them so
        requests go on (a stop before the end stores the rest in ``twin.close``)."""
        while self.http is None or not self.http.started:
            await asyncio.sleep(0.02)
        self.twin.serving.set()
        if not self.twin.deferred_saves:
            return
        count, began = self.twin.deferred_saves, time.perf_counter()
        while self.twin.save_deferred(until=time.perf_counter() + DEFERRED_SLICE_S):
            await asyncio.sleep(DEFERRED_PAUSE_S)
        log.info("stored the %d documents created at start-up, %.1f s after the first answer", count,
                 time.perf_counter() - began)

    async def _flush_periodically(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.twin.flush()
            except Exception:  # a full disk must not stop the server; the next flush tries again
                log.exception("persisting live values failed")

    def _banner(self) -> None:
        prefix = self.plant_file.server.rest.prefix
        base = f"http://{self.host}:{self.port}{prefix}"
        lines = [f"twinbridge: REST API on {base}  (docs: {base}/docs)",
                 f"  dashboard: http://{self.host}:{self.port}/"]
        terminal = sys.stdout.isatty()  # a secret is shown once, on a terminal, never to a log
        if self.token is not None:
            lines.append(f"  admin token: {shown(self.token, self._token_origin, terminal)}")
        for service in self.services:
            url = getattr(service, "endpoint_url", None)
            if url:
                lines.append(f"  OPC UA endpoint: {url}")
                if self.demo_user is not None:
                    password = shown(self.demo_user.password, self._demo_user_origin, terminal)
                    lines.append(f"  OPC UA demo user (may write): {self.demo_user.name} / {password}")
            banner_lines = getattr(service, "banner_lines", None)
            if banner_lines is not None:
                lines.extend(banner_lines())
        lines.extend(f"  {report}" for report in self.import_reports)
        if self.options.demo and not self.plant_file.server.rest.cors_origins:
            lines.append("  CORS: any origin (demo only; serve needs server.rest.cors_origins)")
        bindings = self.plant_file.southbound.bindings
        bound = resolve_target(self.twin, bindings[0].target, "bindings[0]") if bindings else None
        if bound is not None:
            lines.append(f"  a live value: curl -s '{base}/submodels/{encode_id(bound.submodel_id)}"
                         f"/submodel-elements/{bound.path}/$value'")
        print("\n".join(lines), flush=True)
