"""Plant description → AAS environment: one shell per asset, its template submodels, the BoM links.

The build is one pass over the asset tree and produces plain basyx objects plus the
parent/child map; ``PlantModel.load_into`` hands them to the twin's write path in one
store batch. Ids come from ``IdScheme`` so the same description always yields the same ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from basyx.aas import model

from twinbridge.aas.errors import InvalidInput
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.twin import Twin, kind_of
from twinbridge.submodels.concepts import Concepts
from twinbridge.submodels.description import TECHNICAL_DATA_DEFAULTS, Asset, PlantDescription, TemplateFile
from twinbridge.submodels.ids import IdScheme
from twinbridge.submodels.templates import (
    carbon_footprint,
    contact_information,
    from_file,
    hierarchy_bom,
    nameplate,
    predictive_maintenance,
    technical_data,
    time_series,
)
from twinbridge.submodels.templates.elements import prop, typed, xsd_type
from twinbridge.submodels.templates.predictive_maintenance import RulCondition, WatchedSignal

_DOCUMENT_VERSION = 1


@dataclass(frozen=True)
class RollupSpec:
    """Where a roll-up writes and what it reads: the ``input`` signal of ``sources`` (shell ids)."""

    shell_id: str
    submodel_id: str
    path: str
    function: str
    input: str
    over: str
    sources: tuple[str, ...]


@dataclass
class PlantModel:
    shells: list[model.AssetAdministrationShell] = field(default_factory=list)
    submodels: list[model.Submodel] = field(default_factory=list)
    concept_descriptions: list[model.ConceptDescription] = field(default_factory=list)
    parents: dict[str, str | None] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)
    operational_data: dict[str, str] = field(default_factory=dict)
    """shell id → id of its OperationalData submodel (assets with signals or roll-ups)."""
    rollups: list[RollupSpec] = field(default_factory=list)
    objects: list[tuple[ObjectKind, str]] = field(default_factory=list)
    """(kind, id) of every object the description yields; kept when the objects are let go."""

    def identifiables(self) -> Iterator[model.Identifiable]:
        yield from self.concept_descriptions
        yield from self.submodels
        yield from self.shells

    def load_into(self, twin: Twin, replace: bool = True) -> int:
        """Create (and with ``replace`` also overwrite) everything in ``twin`` in one store batch;
        returns how many objects were written."""
        written = 0
        with collector_paused(), twin.store.batch():
            for obj in self.identifiables():
                if replace:
                    twin.upsert(obj)
                elif not twin.exists(kind_of(obj), obj.id):
                    twin.create(obj)
                else:
                    continue
                written += 1
        return written

    def release_objects(self) -> None:
        """Keep the ids, the tree, the signal map and the roll-ups; drop the objects (the twin holds them)."""
        self.objects = [(kind_of(obj), obj.id) for obj in self.identifiables()]
        self.shells, self.submodels, self.concept_descriptions = [], [], []

    def to_document(self) -> bytes:
        """Everything but the objects, as JSON: what a restart with an unchanged description needs
        instead of building all of them again only to find that the store holds them already."""
        return orjson.dumps({
            "version": _DOCUMENT_VERSION, "objects": [[kind.value, identifier] for kind, identifier in self.objects],
            "parents": self.parents, "children": self.children, "levels": self.levels,
            "operational_data": self.operational_data, "rollups": [dataclasses.asdict(r) for r in self.rollups],
        })

    @classmethod
    def from_document(cls, document: bytes) -> PlantModel | None:
        """The model ``to_document`` wrote (without objects); None for a document of another version."""
        try:
            data = orjson.loads(document)
            if data.get("version") != _DOCUMENT_VERSION:
                return None
            return cls(
                parents=data["parents"], children=data["children"], levels=data["levels"],
                operational_data=data["operational_data"],
                rollups=[RollupSpec(**{**r, "sources": tuple(r["sources"])}) for r in data["rollups"]],
                objects=[(ObjectKind(kind), identifier) for kind, identifier in data["objects"]],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None

    def signal_target(self, shell_id: str, signal: str) -> tuple[str, str]:
        """(submodel id, idShortPath) of a signal or roll-up of the asset ``shell_id``."""
        try:
            return self.operational_data[shell_id], time_series.signal_path(signal)
        except KeyError:
            raise InvalidInput(f"shell {shell_id!r} has no signals") from None


class _Builder:
    def __init__(self, description: PlantDescription, base_dir: Path, watched: Sequence[WatchedSignal]) -> None:
        self.description = description
        self.base_dir = base_dir
        self.ids = IdScheme(description.base_iri)
        self.concepts = Concepts(self.ids)
        self.plant = PlantModel()
        self.signal_names: dict[str, set[str]] = {}
        self.global_ids: dict[str, str] = {}
        self.maintenance = self._maintenance(watched)

    def _maintenance(self, watched: Sequence[WatchedSignal]) -> dict[tuple[str, ...], list[RulCondition]]:
        """Asset path → the RUL conditions of its Predictive Maintenance submodel (empty: anomalies only).

        Names resolve as the analytics section resolves them (shell idShort or id); an unknown or
        ambiguous one is skipped here, because ``analytics_problems`` reports it with its line."""
        by_name: dict[str, list[tuple[tuple[str, ...], Asset]]] = {}
        for path, asset in _walk(self.description.assets, ()):
            by_name.setdefault(asset.id_short, []).append((path, asset))
            by_name.setdefault(self.ids.shell(path), []).append((path, asset))
        plan: dict[tuple[str, ...], list[RulCondition]] = {}
        for signal in watched:
            owners, sources = by_name.get(signal.maintenance_asset, []), by_name.get(signal.asset, [])
            if len(owners) != 1 or len(sources) != 1:
                continue
            conditions = plan.setdefault(owners[0][0], [])
            if signal.failure_level is not None:
                source = sources[0][1]
                units = {s.id_short: s.unit for s in source.signals} | {r.id_short: r.unit for r in source.rollups}
                conditions.append(predictive_maintenance.condition(signal, units.get(signal.signal)))
        return plan

    def build(self) -> PlantModel:
        for asset in self.description.assets:
            self._asset(asset, (), None)
        self._resolve_rollups()
        self.concepts.describe_all(self.plant.submodels)
        self.plant.concept_descriptions = list(self.concepts.items.values())
        return self.plant

    # ------------------------------------------------------------------ one asset
    def _asset(self, asset: Asset, parent_path: tuple[str, ...], parent: Asset | None) -> str:
        path = (*parent_path, asset.id_short)
        where = "/".join(path)
        shell_id = self.ids.shell(path)
        asset_id = asset.global_asset_id or self.ids.asset(path)
        if asset_id in self.global_ids:
            raise InvalidInput(f"{where}: globalAssetId {asset_id!r} is already used by {self.global_ids[asset_id]}")
        self.global_ids[asset_id] = where
        plant = self.plant
        plant.levels[shell_id] = asset.level
        plant.parents[shell_id] = self.ids.shell(parent_path) if parent is not None else None
        plant.children[shell_id] = [self.ids.shell((*path, child.id_short)) for child in asset.children]
        submodels = self._submodels(asset, path, asset_id, parent, where)
        plant.submodels.extend(submodels)
        plant.shells.append(self._shell(asset, shell_id, asset_id, submodels))
        for child in asset.children:
            self._asset(child, path, asset)
        return shell_id

    def _shell(self, asset: Asset, shell_id: str, asset_id: str,
               submodels: list[model.Submodel]) -> model.AssetAdministrationShell:
        specific = [model.SpecificAssetId(name, value) for name, value in asset.specific_asset_ids.items()]
        if asset.serial_number and "SerialNumber" not in asset.specific_asset_ids:
            specific.insert(0, model.SpecificAssetId("SerialNumber", asset.serial_number))
        kind = model.AssetKind.TYPE if asset.kind == "Type" else model.AssetKind.INSTANCE
        info = model.AssetInformation(kind, global_asset_id=asset_id, specific_asset_id=specific,
                                      asset_type=asset.level)
        return model.AssetAdministrationShell(
            info, shell_id, id_short=asset.id_short,
            display_name=model.MultiLanguageNameType({"en": asset.name[:128]}) if asset.name else None,
            submodel={model.ModelReference.from_referable(sm) for sm in submodels},
        )

    def _submodels(self, asset: Asset, path: tuple[str, ...], asset_id: str, parent: Asset | None,
                   where: str) -> list[model.Submodel]:
        ids = self.ids
        out: list[model.Submodel] = []
        plate = asset.nameplate
        if plate is not None:
            out.append(nameplate.build(ids.submodel(path, "Nameplate"), plate, product_uri=asset_id,
                                       serial_number=asset.serial_number))
            if plate.address is not None:
                out.append(contact_information.build(ids.submodel(path, "ContactInformation"), plate.address))
        if asset.technical_data is not None:
            out.append(self._technical_data(asset, path, where))
        if asset.signals or asset.rollups:
            out.append(self._operational_data(asset, path, where))
        out.append(self._bom(asset, path, asset_id, parent))
        conditions = self.maintenance.get(path)
        if conditions is not None:
            identifier = ids.submodel(path, predictive_maintenance.ID_SHORT)
            out.append(predictive_maintenance.build(identifier, conditions) if conditions
                       else predictive_maintenance.build_monitoring(identifier))
        if asset.carbon_footprint:
            out.append(carbon_footprint.build(ids.submodel(path, "CarbonFootprint"), asset.carbon_footprint,
                                               plate.address if plate else None))
        for index, template in enumerate(asset.templates):
            out.extend(self._from_file(template, path, f"{where}: templates[{index}]"))
        names = [sm.id_short for sm in out]
        duplicates = sorted({n for n in names if n is not None and names.count(n) > 1})
        if duplicates:
            raise InvalidInput(f"{where}: submodel idShort(s) {duplicates} occur twice")
        return out

    def _technical_data(self, asset: Asset, path: tuple[str, ...], where: str) -> model.Submodel:
        data = asset.technical_data
        assert data is not None
        elements = []
        for item in data.properties:
            here = f"{where}: technical_data.{item.id_short}"
            value_type = xsd_type(item.value_type, here)
            ref = self.concepts.reference(item.semantic_id, item.id_short, item.unit, item.value_type, here)
            elements.append(prop(item.id_short, value_type, typed(item.value, value_type, here), ref,
                                 item.description))
        plate = asset.nameplate

        values: list[str] = []
        for name, plate_field in TECHNICAL_DATA_DEFAULTS:
            value = getattr(data, name) or (getattr(plate, plate_field) if plate is not None else None)
            if not value:  # the schema (Asset._template_sources) refuses this already
                raise InvalidInput(f"{where}: technical_data.{name} is mandatory in IDTA 02003-2-0")
            values.append(value)
        general = technical_data.GeneralInformation(*values)
        return technical_data.build(self.ids.submodel(path, "TechnicalData"), general,
                                    data.product_classifications, elements)

    def _operational_data(self, asset: Asset, path: tuple[str, ...], where: str) -> model.Submodel:
        variables: list[model.Property] = []
        for signal in asset.signals:
            here = f"{where}: signals.{signal.id_short}"
            value_type = xsd_type(signal.value_type, here)
            ref = self.concepts.reference(signal.semantic_id, signal.id_short, signal.unit, signal.value_type, here)
            variables.append(prop(signal.id_short, value_type, typed(signal.initial, value_type, here), ref,
                                  signal.description))
        for rollup in asset.rollups:
            here = f"{where}: rollups.{rollup.id_short}"
            ref = self.concepts.reference(rollup.semantic_id, rollup.id_short, rollup.unit, rollup.value_type, here)
            description = f"{rollup.function} of {rollup.input} over the {rollup.over}"
            variables.append(prop(rollup.id_short, xsd_type(rollup.value_type, here), None, ref, description))
        identifier = self.ids.submodel(path, time_series.ID_SHORT)
        shell_id = self.ids.shell(path)
        self.plant.operational_data[shell_id] = identifier
        self.signal_names[shell_id] = {v.id_short for v in variables if v.id_short}
        return time_series.build(identifier, asset.name or asset.id_short, variables)

    def _part(self, asset: Asset, path: tuple[str, ...], nested: bool) -> hierarchy_bom.Part:
        parts = [self._part(child, (*path, child.id_short), True) for child in asset.children] if nested else []
        return hierarchy_bom.Part(asset.id_short, asset.global_asset_id or self.ids.asset(path),
                                  self.ids.submodel(path, hierarchy_bom.ID_SHORT), asset.bulk_count, parts)

    def _bom(self, asset: Asset, path: tuple[str, ...], asset_id: str, parent: Asset | None) -> model.Submodel:
        full = self.description.hierarchy.archetype == "Full"
        parts = [self._part(child, (*path, child.id_short), full) for child in asset.children]
        parent_part = self._part(parent, path[:-1], False) if parent is not None else None
        return hierarchy_bom.build(self.ids.submodel(path, hierarchy_bom.ID_SHORT), asset_id=asset_id, parts=parts,
                                   parent=parent_part,
                                   archetype=self.description.hierarchy.archetype)

    def _from_file(self, template: TemplateFile, path: tuple[str, ...], where: str) -> list[model.Submodel]:
        file = Path(template.file)
        if not file.is_absolute():
            file = self.base_dir / file
        objects = from_file.load_file(file)
        chosen = from_file.pick(objects, template.submodel, str(file))
        if len(chosen) > 1 and (template.id_short or template.values):
            raise InvalidInput(f"{where}: {file.name} holds {len(chosen)} submodels; name one with 'submodel:'")
        for obj in objects:
            if isinstance(obj, model.ConceptDescription) and obj.id not in self.concepts.items:
                self.concepts.items[obj.id] = obj
        out = []
        for sm in chosen:
            id_short = template.id_short or sm.id_short or "Template"
            out.append(from_file.instantiate(sm, self.ids.submodel(path, id_short), id_short, template.values, where))
        return out

    # ---------------------------------------------------------------- roll-ups
    def _resolve_rollups(self) -> None:
        plant = self.plant
        for path, asset in _walk(self.description.assets, ()):
            shell_id = self.ids.shell(path)
            for rollup in asset.rollups:
                candidates = plant.children[shell_id] if rollup.over == "children" else _descendants(plant, shell_id)
                sources = tuple(c for c in candidates if rollup.input in self.signal_names.get(c, ()))
                if not sources:
                    raise InvalidInput(
                        f"{'/'.join(path)}: roll-up {rollup.id_short} reads {rollup.input!r}, "
                        f"but none of its {rollup.over} has a signal or roll-up of that name"
                    )
                plant.rollups.append(RollupSpec(shell_id, plant.operational_data[shell_id],
                                                time_series.signal_path(rollup.id_short), rollup.function,
                                                rollup.input, rollup.over, sources))


def _walk(assets: list[Asset], prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Asset]]:
    for asset in assets:
        path = (*prefix, asset.id_short)
        yield path, asset
        yield from _walk(asset.children, path)


def _descendants(plant: PlantModel, shell_id: str) -> list[str]:
    out: list[str] = []
    stack = list(reversed(plant.children[shell_id]))
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(plant.children[current]))
    return out


def build_environment(description: PlantDescription, base_dir: Path | None = None,
                      watched: Sequence[WatchedSignal] = ()) -> PlantModel:
    """Every shell, submodel and concept description of the plant; ``base_dir`` anchors template files;
    ``watched`` (the analytics signals) decides which assets get a Predictive Maintenance submodel."""
    with collector_paused():
        return _Builder(description, base_dir or Path.cwd(), watched).build()
