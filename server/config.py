"""The plant file: one YAML document describing the plant, its devices and the server.

```yaml
plant:    {...}          # assets, templates, hierarchy, roll-ups   (submodels.description)
sources:  [...]          # Modbus devices, MQTT brokers             (adapters.config)
bindings: [...]          # device point -> AAS element              (adapters.config)
imports:  [file.aasx]    # AAS packages/files loaded at start-up
server:   {...}          # REST, auth, OPC UA, data directory       (this module)
```

Errors are reported with the field path and, where the YAML tells us, the line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from twinbridge.aas.store import StoreUrlError, check_url
from twinbridge.adapters.config import Southbound
from twinbridge.adapters.registry import kinds, validate_southbound
from twinbridge.history.settings import HistorySettings
from twinbridge.registry.settings import RegistrySettings
from twinbridge.server.analytics_config import AnalyticsSettings
from twinbridge.server.edge.settings import EdgeSettings
from twinbridge.server.events.settings import EventsSettings
from twinbridge.server.limit_settings import LimitSettings
from twinbridge.server.opcua.settings import OpcUaSettings
from twinbridge.server.simulations import machine_names
from twinbridge.simulation.spec import SimulationSettings
from twinbridge.submodels.description import PlantDescription


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RestSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    prefix: str = Field("/api/v3.0", pattern=r"^(/[A-Za-z0-9._~\-]+)*$")
    cors_origins: list[str] = Field(default_factory=list)
    limits: LimitSettings = LimitSettings()  # body, upload, package and model bounds (README "Limits")


class SparqlSettings(Strict):
    timeout_s: float = Field(5.0, gt=0, description="a SPARQL query (parse included) is killed past this")
    workers: int = Field(2, ge=1, description="queries run at once (each a forked process); more answer 503")


class TokenSpec(Strict):
    token: SecretStr = Field(min_length=16)
    role: Literal["read", "write", "admin"]
    name: str = ""


class TokenAuth(Strict):
    tokens: list[TokenSpec] = Field(default_factory=list)
    read_open: bool = Field(True, description="reads need no token (set false to close them)")


class ServerSettings(Strict):
    rest: RestSettings = RestSettings()
    auth: Literal["none"] | TokenAuth = Field(
        default_factory=TokenAuth,
        description="bearer tokens (the default; an admin token is generated on first start) or 'none'",
    )
    opcua: OpcUaSettings = Field(default_factory=OpcUaSettings)
    data: Path | None = Field(None, description="data directory (certificates, token; the default store)")
    store: str | None = Field(
        None, description="store URL (sqlite:///abs/path/file.sqlite3, memory:); default: SQLite in the data directory",
    )
    flush_interval_s: float = Field(5.0, gt=0, description="how often live values are persisted")
    events: EventsSettings = Field(default_factory=EventsSettings, description="SSE and MQTT event channels")
    semantic: Literal["lazy", "eager", "off"] = Field(
        "lazy", description="the RDF graph for SPARQL/Turtle: built on first use (lazy), at start (eager), never (off)",
    )
    history: HistorySettings = Field(default_factory=HistorySettings, description="value history and model journal")
    sparql: SparqlSettings = Field(default_factory=SparqlSettings, description="limits of /query/sparql")
    registry: RegistrySettings | None = Field(None, description="serve the AAS Registry/Discovery, feed one")
    edge: EdgeSettings | None = Field(None, description="forward changes to a central (edge) or apply edges' (central)")


    @field_validator("store")
    @classmethod
    def _known_store(cls, url: str | None) -> str | None:
        if url is not None:
            try:
                check_url(url)
            except StoreUrlError as error:
                raise ValueError(str(error)) from None
        return url


class DemoModbus(Strict):
    source: str = Field(description="the Modbus source the simulated gateway stands in for")
    machines: int = Field(5, ge=1, le=247, description="simulated machines, on unit ids 1..n")
    worn_bearing: int | None = Field(None, ge=1, le=247, description="this unit's bearing wears out (analytics demo)")


class DemoMqtt(Strict):
    source: str = Field(description="the MQTT source whose broker the simulated machines publish to")
    machines: dict[str, Literal["json", "sparkplug"]] = Field(default_factory=dict)
    group: str = "Plant1"
    interval_s: float = Field(1.0, gt=0)


class DemoSettings(Strict):
    modbus: DemoModbus | None = None
    mqtt: DemoMqtt | None = None


class PlantFile(Strict):
    plant: PlantDescription | None = None
    sources: list[Any] = Field(default_factory=list)
    bindings: list[Any] = Field(default_factory=list)
    imports: list[Path] = Field(default_factory=list)
    server: ServerSettings = ServerSettings()
    demo: DemoSettings | None = Field(None, description="which sources `twinbridge demo` simulates")
    simulation: SimulationSettings | None = Field(None, description="what-if simulation: machine blocks by idShort")
    analytics: AnalyticsSettings | None = Field(None, description="signal conditioning, anomalies, RUL, alarms")
    # validated against the adapter kinds registered when the file is read (adapters.registry)
    southbound: Annotated[Southbound, BeforeValidator(validate_southbound)] = Field(
        default_factory=Southbound, exclude=True)
    base_dir: Path | None = Field(None, exclude=True, description="where relative paths in the file start")

    @model_validator(mode="before")
    @classmethod
    def _southbound(cls, data: Any) -> Any:
        """Validate sources and bindings together (bindings name their source)."""
        if isinstance(data, dict):
            data = dict(data)
            data["southbound"] = {"sources": data.get("sources") or [], "bindings": data.get("bindings") or []}
        return data

    def with_sources(self, replaced: dict[str, Any]) -> PlantFile:
        """A copy whose sources named in ``replaced`` are swapped (the demo points them at simulators)."""
        sources = [replaced.get(source.name, source) for source in self.southbound.sources]
        southbound = self.southbound.model_copy(update={"sources": sources})
        return self.model_copy(update={"southbound": southbound})


_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it. The 1,000-machine plant file (1.6 MB) took 4.3 s CPU
to load with the pure-Python loader and as much again to compose for line numbers on every
start; now 1.4 s CPU for loading and validating, and nodes are composed only for an invalid file."""

ModelT = TypeVar("ModelT", bound=BaseModel)
_DISTRIBUTIONS = ("fixed", "exponential", "weibull", "lognormal", "reactive", "preventive", "predictive")
"""Discriminator tags of the simulation block's unions, which pydantic puts into error paths."""
_CROSS_CHECK = re.compile(r"^(?P<table>bindings|sources)\[(?P<index>\d+)\]: ")


class ConfigError(ValueError):
    """A plant file is invalid; ``problems`` lists "path (line N): message" entries."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems))


def load_plant_file(path: Path) -> PlantFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read the file: {error.strerror}"]) from None
    return parse_plant_file(text, str(path), base_dir=path.parent)


def parse_plant_file(text: str, source: str = "<plant file>", base_dir: Path | None = None) -> PlantFile:
    try:
        data = yaml.load(text, Loader=_LOADER)  # a safe loader: plain data, no Python objects
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(source, [f"{where}not valid YAML: {getattr(error, 'problem', error)}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["the document must be a mapping with plant/sources/bindings/server keys"])
    try:
        plant_file = PlantFile.model_validate(data)
    except ValidationError as error:
        lines = line_index(yaml.compose(text, Loader=_LOADER))  # only an invalid file needs line numbers
        raise ConfigError(source, [_describe(e, lines) for e in error.errors()]) from None
    problems = _simulation_problems(plant_file, text)
    if problems:
        raise ConfigError(source, problems)
    if base_dir is not None:
        plant_file.imports = [p if p.is_absolute() else base_dir / p for p in plant_file.imports]
        plant_file.base_dir = base_dir
    return plant_file


def _simulation_problems(plant_file: PlantFile, text: str) -> list[str]:
    """Every simulated machine must be a machine asset of the plant (checked after the schema)."""
    settings = plant_file.simulation
    if settings is None or not settings.machines:
        return []
    known = machine_names(plant_file.plant) if plant_file.plant is not None else set()
    unknown = [name for name in settings.machines if name not in known]
    lines = line_index(yaml.compose(text, Loader=_LOADER)) if unknown else {}
    problems = []
    for name in unknown:
        line = lines.get(("simulation", "machines", name))
        where = f"simulation.machines.{name}" + (f" (line {line})" if line is not None else "")
        hint = f"; machines: {sorted(known)}" if known else "; the plant has no machine assets"
        problems.append(f"{where}: no machine asset {name!r} in the plant{hint}")
    return problems


def _describe(error: Any, lines: dict[tuple[Any, ...], int]) -> str:
    location = _strip_union_tags(tuple(part for part in error["loc"] if part != "southbound"), lines)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
        message = "a source needs " + " or ".join(f"'kind: {kind}'" for kind in kinds())
    cross_check = _CROSS_CHECK.match(message)
    if not location and cross_check:
        location = (cross_check["table"], int(cross_check["index"]))
        message = message[cross_check.end():]
    if error["type"] == "extra_forbidden" and location and isinstance(location[-1], str):
        message += did_you_mean(location[-1], field_names())
    path = _format_location(location)
    line = None
    for cut in range(len(location), -1, -1):
        line = lines.get(location[:cut])
        if line is not None:
            break
    where = f"{path} (line {line})" if line is not None else path or "(document)"
    return f"{where}: {message}"


def _strip_union_tags(location: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> tuple[Any, ...]:
    """pydantic inserts union members ('TokenAuth', "literal['none']") and discriminator tags
    ('modbus' right after sources[n]) into error paths; a plant engineer never wrote those.
    A part that is a key of the document (an asset's idShort such as 'Filler1') is kept."""
    kept: list[Any] = []
    for part in location:
        if (*kept, part) in lines:
            kept.append(part)
            continue
        if isinstance(part, str) and (part[:1].isupper() or "[" in part or part in _DISTRIBUTIONS):
            continue
        if len(kept) == 2 and kept[0] == "sources" and part in kinds():
            continue
        kept.append(part)
    return tuple(kept)


def _format_location(location: tuple[Any, ...]) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_index(document: yaml.Node | str | None) -> dict[tuple[Any, ...], int]:
    """Map every field path of the YAML document (text or composed node) to its 1-based line."""
    node = yaml.compose(document, Loader=yaml.SafeLoader) if isinstance(document, str) else document
    index: dict[tuple[Any, ...], int] = {}

    def walk(current: yaml.Node, path: tuple[Any, ...]) -> None:
        index[path] = current.start_mark.line + 1
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                child = (*path, key.value)
                walk(value, child)
                index[child] = key.start_mark.line + 1
        elif isinstance(current, yaml.SequenceNode):
            for position, item in enumerate(current.value):
                walk(item, (*path, position))

    if node is not None:
        walk(node, ())
    return index


def load_yaml_model(path: Path, schema: type[ModelT]) -> ModelT:
    """Any other YAML document of ours (a simulation scenario), with the plant file's error
    reporting: every problem with its field path and line."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read the file: {error.strerror}"]) from None
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [f"not valid YAML: {getattr(error, 'problem', error)}"]) from None
    try:
        return schema.model_validate(data or {})
    except ValidationError as error:
        lines = line_index(node)
        raise ConfigError(str(path), [_describe(e, lines) for e in error.errors()]) from None


def did_you_mean(name: str, known: list[str]) -> str:
    """" (did you mean 'X'?)" for the closest of ``known``, or "" when none is close."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


@lru_cache(maxsize=1)
def field_names() -> list[str]:
    """Every field name of the plant file schema: what a misspelt key is compared with."""
    seen: set[type[BaseModel]] = set()
    names: set[str] = set()
    stack: list[type[BaseModel]] = [PlantFile]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, info in current.model_fields.items():
            names.add(name)
            stack.extend(_models_in(info.annotation))
    return sorted(names)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in getattr(annotation, "__args__", ()):
        yield from _models_in(argument)
