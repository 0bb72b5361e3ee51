"""The analytics section of the plant file, running: monitors built from it, one alarm book.

Why one service: the monitors (analytics/) each watch one thing; the plant engineer configures
them per signal. This module resolves every configured signal against the built plant (shell ->
OperationalData -> live record), groups signals into the monitors' units (one SignalConditioner per
OperationalData submodel; one AnomalyMonitor per detector and thresholds, across machines, so one
detector bank scores a loop turn's samples of all of them; one RulMonitor per signal; one
VirtualPropertyMonitor per OperationalData submodel), feeds the first three from one
:class:`AnalyticsFeed` (one bus subscription) and owns the :class:`AlarmBook` the REST and OPC UA
projections read. The same resolution runs at ``twinbridge validate`` (:func:`analytics_problems`),
so a start never fails on something validate passed.
"""

from __future__ import annotations

import ast
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from basyx.aas import model

from twinbridge.aas.errors import InvalidInput, NotFound, TwinError
from twinbridge.aas.twin import Twin
from twinbridge.adapters.binding import BindingError, find_shell, find_submodel
from twinbridge.analytics.alarms import AlarmBook, AlarmEvent, AlarmRule, Severity
from twinbridge.analytics.conditioning import ConditionedSignal, SignalConditioner
from twinbridge.analytics.expressions import ExpressionError, VirtualProperties
from twinbridge.analytics.feed import AnalyticsFeed
from twinbridge.analytics.filters import build_chain
from twinbridge.analytics.maintenance import RulMonitor
from twinbridge.analytics.monitor import NUMERIC_TYPES, AnomalyMonitor, MonitoredSignal
from twinbridge.analytics.rul import CurveRul, HealthCurve, RulEstimate, RulEstimator, TrendRul
from twinbridge.analytics.virtual import VirtualPropertyMonitor, walk_elements
from twinbridge.server.analytics_config import AnalyticsSettings, SignalSpec, VirtualSpec
from twinbridge.submodels.concepts import undescribed
from twinbridge.submodels.templates.time_series import LIVE_RECORD

log = logging.getLogger(__name__)
OPERATIONAL = "OperationalData"
MAINTENANCE = "PredictiveMaintenance"
FILTERED = "Filtered"  # Temperature -> TemperatureFiltered, the conditioned value


class Monitor(Protocol):
    """What every analytics monitor is: resolved and subscribed by ``start``, unsubscribed by ``stop``."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class AnalyticsConfigError(ValueError):
    """A configured signal or virtual property that does not fit the plant; ``field`` is its path."""

    def __init__(self, field: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.field = field

    @property
    def path(self) -> str:
        """The field path as the plant file spells it: analytics.signals[0].signal."""
        return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.field).lstrip(".")


def _submodel_of(twin: Twin, asset: str, submodel: str, where: tuple[Any, ...]) -> model.Submodel:
    try:
        return find_submodel(twin, find_shell(twin, asset), submodel)
    except BindingError as error:
        raise AnalyticsConfigError((*where, "asset"), str(error)) from None


def _signal(twin: Twin, spec: SignalSpec, where: tuple[Any, ...]) -> tuple[str, str, str]:
    """(OperationalData id, the signal's idShortPath, PM submodel id); checks it is numeric."""
    submodel = _submodel_of(twin, spec.asset, OPERATIONAL, where)
    path = f"{LIVE_RECORD}.{spec.signal}"
    try:
        element = twin.element(submodel.id, path)
    except NotFound:
        raise AnalyticsConfigError((*where, "signal"), f"asset {spec.asset!r} has no signal {spec.signal!r}") from None
    if (spec.filters or spec.anomaly or spec.rul) and (
            not isinstance(element, model.Property) or element.value_type not in NUMERIC_TYPES):
        raise AnalyticsConfigError((*where, "signal"), f"{spec.asset}.{spec.signal} is not numeric; filters, "
                                   "anomaly detection and RUL need a number")
    pm = None
    if spec.anomaly or spec.rul:
        owner = spec.maintenance_asset or spec.asset
        pm = _submodel_of(twin, owner, MAINTENANCE, (*where, "maintenance_asset" if spec.maintenance_asset
                                                     else "asset")).id
    return submodel.id, path, pm or ""


class _Rewrite(ast.NodeTransformer):
    """Signal idShorts in an expression -> their idShortPath in the live record (functions, sid()
    and true/false untouched), so a plant engineer writes ``Power / Throughput``."""

    def __init__(self, known: set[str]) -> None:
        self.known = known

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node.args = [self.visit(argument) for argument in node.args]
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.known:
            return ast.parse(f"{LIVE_RECORD}.{node.id}", mode="eval").body
        return node


def _definitions(twin: Twin, specs: list[tuple[int, VirtualSpec]], submodel: model.Submodel) -> dict[str, str]:
    signals = {str(element.id_short) for element in twin.element(submodel.id, LIVE_RECORD).value}  # type: ignore[attr-defined]
    signals |= {spec.id_short for _, spec in specs}
    out = {}
    for _, spec in specs:
        tree = _Rewrite(signals).visit(ast.parse(spec.expression.strip(), mode="eval"))
        out[f"{LIVE_RECORD}.{spec.id_short}"] = ast.unparse(tree)
    return out


_Group = tuple[model.Submodel, list[tuple[int, VirtualSpec]]]


def _virtual_groups(twin: Twin, settings: AnalyticsSettings) -> dict[str, _Group]:
    """Virtual properties by the OperationalData submodel they live in (one monitor each)."""
    groups: dict[str, _Group] = {}
    for index, spec in enumerate(settings.virtual):
        submodel = _submodel_of(twin, spec.asset, OPERATIONAL, ("analytics", "virtual", index))
        groups.setdefault(submodel.id, (submodel, []))[1].append((index, spec))
    return groups


def _check_virtual(twin: Twin, settings: AnalyticsSettings) -> None:
    for submodel, specs in _virtual_groups(twin, settings).values():
        known = {path for path, _ in walk_elements(submodel, "")} | {
            f"sid:{e.semantic_id.key[0].value}" for _, e in walk_elements(submodel, "") if e.semantic_id is not None}
        definitions = _definitions(twin, specs, submodel)
        try:
            VirtualProperties(definitions, known)
        except ExpressionError as error:
            text = str(error).replace(f"{LIVE_RECORD}.", "")
            index = next((i for i, spec in specs if f"{spec.id_short!r}" in text), specs[0][0])
            raise AnalyticsConfigError(("analytics", "virtual", index, "expression"), text) from None


def analytics_problems(twin: Twin, settings: AnalyticsSettings, lines: dict[tuple[Any, ...], int]) -> list[str]:
    """Every configured signal or virtual property that does not fit the built plant, with its line."""
    problems: list[AnalyticsConfigError] = []
    for index, spec in enumerate(settings.signals):
        try:
            _signal(twin, spec, ("analytics", "signals", index))
        except AnalyticsConfigError as error:
            problems.append(error)
    try:
        _check_virtual(twin, settings)
    except AnalyticsConfigError as error:
        problems.append(error)
    out = []
    for problem in problems:
        line = next((lines[problem.field[:cut]] for cut in range(len(problem.field), 0, -1)
                     if problem.field[:cut] in lines), None)
        out.append(f"{problem.path}{f' (line {line})' if line is not None else ''}: {problem}")
    return out


class _AlarmingRul(RulMonitor):
    """A RulMonitor whose estimates also feed an RUL-limit alarm condition."""

    def __init__(self, *args: Any, alarms: AlarmBook, source: str, rule: AlarmRule, health: float,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._alarms, self._alarm_source, self._rule, self._health = alarms, source, rule, health
        alarms.watch(source, rule)

    async def publish(self, estimate: RulEstimate) -> None:
        await super().publish(estimate)
        # a healthy indicator or no trend counts as "far from failure" (it also clears an alarm)
        degraded = estimate.rul is not None and estimate.health <= self._health
        remaining = estimate.rul if degraded and estimate.rul is not None else math.inf
        self._alarms.observe(self._alarm_source, self._rule.name, remaining, estimate.time)


@dataclass
class AnalyticsService:
    """Starts every monitor the ``analytics`` section asks for; ``alarms`` is their alarm book."""

    twin: Twin
    settings: AnalyticsSettings
    alarms: AlarmBook = field(init=False)
    listeners: list[Callable[[AlarmEvent], None]] = field(default_factory=list)
    _monitors: list[Monitor] = field(default_factory=list)
    _feed: AnalyticsFeed = field(init=False)

    def __post_init__(self) -> None:
        self.alarms = AlarmBook(listener=self._publish, history=self.settings.alarm_history)
        self._feed = AnalyticsFeed(self.twin)

    def _publish(self, event: AlarmEvent) -> None:
        log.info("alarm %s %s: %s (%s)", event.alarm.id, event.kind.value, event.alarm.source, event.alarm.rule.name)
        for listener in self.listeners:
            listener(event)

    async def start(self) -> None:
        twin = self.twin
        try:
            self._build_virtual()
            anomaly: dict[tuple[str, float, float, float], list[MonitoredSignal]] = {}
            conditioned: list[ConditionedSignal] = []
            touched: set[str] = set()  # submodels the monitors add elements to
            for index, spec in enumerate(self.settings.signals):
                submodel, path, pm = _signal(twin, spec, ("analytics", "signals", index))
                touched.update(filter(None, (submodel, pm)))
                if spec.filters:  # detectors and RUL read the cleaned value
                    signal = self._conditioned(spec, submodel, path)
                    conditioned.append(signal)
                    path = signal.target
                if spec.anomaly is not None:
                    a = spec.anomaly
                    anomaly.setdefault((a.detector, a.raise_at, a.clear_at, a.min_interval_s), []).append(
                        MonitoredSignal(submodel, path, spec.name, pm))
                if spec.rul is not None:
                    self._monitors.append(self._rul(spec, submodel, path, pm))
            conditioner = None
            if conditioned:  # one conditioner for all: one array step per chain shape and batch
                conditioner = SignalConditioner(twin, conditioned, feed=self._feed)
                self._monitors.append(conditioner)
            for monitor in self._monitors:
                monitor.start()
            for (detector, raise_at, clear_at, interval), signals in anomaly.items():
                rule = AlarmRule("anomaly", raise_at, clear_at, severity=Severity.MEDIUM,
                                 message="anomalous signal", min_interval=interval)
                # the conditioner (started) hands its cleaned values over as arrays (see feed.py)
                monitor = AnomalyMonitor(twin, None, signals, detector=detector, alarms=self.alarms, rule=rule,
                                         feed=self._feed, upstream=conditioner)
                self._monitors.append(monitor)
                monitor.start()
            self._describe_added(touched)
            self._feed.start()  # once every monitor has routed its elements
        except AnalyticsConfigError as error:
            await self.stop()
            raise InvalidInput(f"{error.path}: {error}") from None
        except (ExpressionError, TwinError) as error:
            await self.stop()
            raise InvalidInput(f"analytics: {error}") from None
        log.info("analytics: %d monitors", len(self._monitors))

    def _describe_added(self, touched: set[str]) -> None:
        """The monitors added elements (estimates, scores, cleaned siblings) whose semanticIds the
        plant builder never saw: give each a ConceptDescription, so a browser shows no 404."""
        twin = self.twin
        for cd in undescribed((twin.submodel(sm) for sm in sorted(touched)), twin.concept_descriptions):
            twin.create(cd)

    def _rul(self, spec: SignalSpec, submodel: str, path: str, pm: str) -> RulMonitor:
        assert spec.rul is not None
        rul = spec.rul
        estimator: RulEstimator
        if rul.curve is not None:  # the form bench/bench_rul.py evaluates for a drift that is no power law
            installed = rul.installed.timestamp() if rul.installed is not None else None
            estimator = CurveRul(HealthCurve.from_points(rul.curve), installed=installed)
        else:
            assert rul.failure_level is not None  # required without a curve (RulSpec)
            estimator = TrendRul(rul.failure_level, healthy_level=rul.healthy_level, shape=rul.shape)
        if rul.limit_s is None:
            return RulMonitor(self.twin, pm, submodel, path, estimator, every=rul.every, feed=self._feed)
        rule = AlarmRule("rul", raise_at=rul.limit_s, clear_at=rul.limit_s * 1.2, above=False,
                         severity=Severity.HIGH, message="remaining useful life below its limit", min_interval=300.0)
        return _AlarmingRul(self.twin, pm, submodel, path, estimator, every=rul.every, alarms=self.alarms,
                            source=spec.name, rule=rule, health=rul.alarm_health, feed=self._feed)

    def _conditioned(self, spec: SignalSpec, submodel: str, path: str) -> ConditionedSignal:
        """Adds ``<Signal>Filtered`` beside the raw signal; returns what its conditioner needs."""
        target = f"{path}{FILTERED}"
        try:
            self.twin.element(submodel, target)
        except NotFound:
            raw = self.twin.element(submodel, path)
            self.twin.add_element(submodel, LIVE_RECORD, model.Property(
                f"{spec.signal}{FILTERED}", model.datatypes.Double, None, semantic_id=raw.semantic_id,
                description=model.MultiLanguageTextType({"en": f"{spec.signal} after {len(spec.filters)} filter(s)"})))
        return ConditionedSignal(submodel, path, target, build_chain(spec.filters))

    def _build_virtual(self) -> None:
        _check_virtual(self.twin, self.settings)
        for submodel, specs in _virtual_groups(self.twin, self.settings).values():
            for _, spec in specs:
                try:
                    self.twin.element(submodel.id, f"{LIVE_RECORD}.{spec.id_short}")
                except NotFound:
                    self.twin.add_element(submodel.id, LIVE_RECORD, model.Property(
                        spec.id_short, model.datatypes.Double, None))
            self._monitors.append(VirtualPropertyMonitor(self.twin, submodel.id,
                                                         _definitions(self.twin, specs, submodel)))

    async def stop(self) -> None:
        await self._feed.stop()
        for monitor in reversed(self._monitors):
            await monitor.stop()
        self._monitors.clear()
