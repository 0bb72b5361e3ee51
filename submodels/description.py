"""The ``plant:`` section of the plant YAML: the asset tree a plant engineer writes by hand.

Every asset becomes one shell; its children nest under ``children:``. The schema is strict
(unknown keys are errors) so a typo never silently drops a nameplate field or a roll-up.
"""

from __future__ import annotations

import datetime
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Level = Literal["plant", "line", "cell", "machine", "component"]
LEVELS: tuple[str, ...] = ("plant", "line", "cell", "machine", "component")
XsdType = Literal[
    "xs:string", "xs:boolean", "xs:double", "xs:float", "xs:decimal", "xs:int", "xs:integer", "xs:long",
    "xs:short", "xs:unsignedInt", "xs:unsignedLong", "xs:unsignedShort", "xs:dateTime", "xs:date", "xs:anyURI",
]
Role = Literal["Administrative", "Commercial", "Other", "HazardousGoods", "Technical"]
RollupFunction = Literal["sum", "mean", "min", "max", "count"]
Scalar = str | bool | int | float
_ID_SHORT = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9_]$|^[A-Za-z]$")


def _check_id_short(value: str) -> str:
    if not _ID_SHORT.match(value):
        raise ValueError(
            f"{value!r} is not a valid idShort (a letter, then letters, digits, '_' or '-', not ending in '-')"
        )
    return value


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a plant file must not silently do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(Strict):
    """Postal address: fills the nameplate's AddressInformation and the ContactInformation submodel."""

    company: str | None = None
    department: str | None = None
    street: str | None = None
    zip_code: str | None = None
    city_town: str | None = None
    state_county: str | None = None
    national_code: str | None = Field(None, description="ISO 3166-1 alpha-2 country code, e.g. DE")
    role_of_contact_person: Role | None = None
    phone: str | None = None
    email: str | None = None


class Nameplate(Strict):
    """IDTA 02006-3-0 Digital Nameplate fields; strings are English text unless typed otherwise."""

    manufacturer_name: str = Field(min_length=1)
    manufacturer_product_designation: str = Field(min_length=1)
    uri_of_the_product: str | None = Field(None, description="defaults to the asset's globalAssetId")
    manufacturer_product_root: str | None = None
    manufacturer_product_family: str | None = None
    manufacturer_product_type: str | None = None
    order_code_of_manufacturer: str = Field(
        min_length=1, description="mandatory in IDTA 02006-3-0 (OrderCodeOfManufacturer, cardinality One)")
    product_article_number_of_manufacturer: str | None = None
    serial_number: str | None = Field(None, description="defaults to the asset's serial_number")
    year_of_construction: int | None = Field(None, ge=1800, le=2200)
    date_of_manufacture: datetime.date | None = None
    hardware_version: str | None = None
    firmware_version: str | None = None
    software_version: str | None = None
    country_of_origin: str | None = Field(None, min_length=2, max_length=2)
    address: Address | None = None


class DataProperty(Strict):
    """One typed value with an optional unit and semanticId (Technical Data, Carbon Footprint extras)."""

    id_short: str
    value_type: XsdType = "xs:string"
    value: Scalar | None = None
    unit: str | None = None
    semantic_id: str | None = None
    description: str | None = None

    _id_short = field_validator("id_short")(_check_id_short)


class ProductClassification(Strict):
    """One item of IDTA 02003-2-0 ProductClassifications; ``class_id`` and ``coded_name`` are mandatory there.

    For ECLASS, ``class_id`` is the class IRDI (``0173-1#01-...``) and ``coded_name`` its
    8-digit code (``27-02-29-01``); neither can be derived from the other, so both are asked for.
    """

    system: str = Field("ECLASS", min_length=1, description="ClassificationSystem, e.g. ECLASS, IEC CDD, UNSPSC")
    version: str | None = Field(None, description="ClassificationSystemVersion, e.g. 14.0")
    class_id: str = Field(min_length=1, description="ProductClassId (for ECLASS the class IRDI)")
    coded_name: str = Field(min_length=1, description="ProductClassCodedName (for ECLASS the 8-digit code)")
    name: str | None = Field(None, description="ProductClassName (English)")


TECHNICAL_DATA_DEFAULTS = (  # (TechnicalData field, the Nameplate field it defaults to)
    ("manufacturer_name", "manufacturer_name"),
    ("manufacturer_product_designation", "manufacturer_product_designation"),
    ("manufacturer_article_number", "product_article_number_of_manufacturer"),
    ("manufacturer_order_code", "order_code_of_manufacturer"),
)


class TechnicalData(Strict):
    """IDTA 02003-2-0. GeneralInformation's four mandatory fields come from the nameplate unless given here."""

    manufacturer_name: str | None = Field(None, description="default: nameplate.manufacturer_name")
    manufacturer_product_designation: str | None = Field(
        None, description="default: nameplate.manufacturer_product_designation")
    manufacturer_article_number: str | None = Field(
        None, description="default: nameplate.product_article_number_of_manufacturer")
    manufacturer_order_code: str | None = Field(None, description="default: nameplate.order_code_of_manufacturer")
    properties: list[DataProperty] = Field(default_factory=list)
    product_classifications: list[ProductClassification] = Field(default_factory=list)


class CarbonFootprint(Strict):
    """IDTA 02023-0-9 ProductCarbonFootprint, one entry per declared life cycle phase."""

    calculation_method: str = Field("ISO 14067", min_length=1)
    co2_eq: float = Field(ge=0, description="kg CO2 equivalent per reference unit")
    reference_unit: str = Field("piece", min_length=1)
    quantity: float = Field(1.0, gt=0)
    life_cycle_phase: str = Field("A1-A3", min_length=1)
    publication_date: datetime.date = Field(description="PublicationDate, mandatory in IDTA 02023-0-9")
    goods_handover_address: Address | None = Field(
        None, description="PCFGoodsAddressHandover (mandatory); default: the nameplate's address")


class Signal(Strict):
    """A live value of the asset, fed by a binding; it lands in the OperationalData submodel."""

    id_short: str
    value_type: XsdType = "xs:double"
    unit: str | None = None
    semantic_id: str | None = None
    description: str | None = None
    initial: Scalar | None = Field(None, description="value before the first update")

    _id_short = field_validator("id_short")(_check_id_short)


class Rollup(Strict):
    """A value computed live from the children's (or all descendants') signal ``input``."""

    id_short: str
    function: RollupFunction
    input: str = Field(description="idShort of a signal or roll-up of the children")
    over: Literal["children", "descendants"] = "children"
    value_type: XsdType = "xs:double"
    unit: str | None = None
    semantic_id: str | None = None

    _id_short = field_validator("id_short")(_check_id_short)

    @model_validator(mode="after")
    def _numeric(self) -> Rollup:
        if self.value_type in ("xs:string", "xs:boolean", "xs:dateTime", "xs:date", "xs:anyURI"):
            raise ValueError(f"roll-up {self.id_short}: value_type {self.value_type} is not numeric")
        return self


class TemplateFile(Strict):
    """Instantiate a submodel template published as an AASX/JSON file for this asset."""

    file: str = Field(min_length=1, description="path of the .aasx or .json file (relative to the YAML)")
    submodel: str | None = Field(None, description="idShort or semanticId of the template to take; default all")
    id_short: str | None = Field(None, description="idShort of the instance (default: the template's)")
    values: dict[str, Scalar] = Field(default_factory=dict, description="idShortPath → value")


class Asset(Strict):
    id_short: str
    level: Level
    name: str | None = None
    kind: Literal["Instance", "Type"] = "Instance"
    global_asset_id: str | None = Field(None, description="defaults to <base_iri>asset/<path>")
    serial_number: str | None = None
    specific_asset_ids: dict[str, str] = Field(default_factory=dict)
    nameplate: Nameplate | None = None
    technical_data: TechnicalData | None = None
    carbon_footprint: list[CarbonFootprint] = Field(default_factory=list)
    signals: list[Signal] = Field(default_factory=list)
    rollups: list[Rollup] = Field(default_factory=list)
    templates: list[TemplateFile] = Field(default_factory=list)
    bulk_count: int = Field(1, ge=1, description="how many of this part its parent holds (BoM BulkCount)")
    children: list[Asset] = Field(default_factory=list)

    _id_short = field_validator("id_short")(_check_id_short)

    @field_validator("carbon_footprint", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _consistent(self) -> Asset:
        own = LEVELS.index(self.level)
        seen: set[str] = set()
        for child in self.children:
            if child.id_short in seen:
                raise ValueError(f"{self.id_short}: child {child.id_short!r} is listed twice")
            seen.add(child.id_short)
            if LEVELS.index(child.level) <= own:
                raise ValueError(
                    f"{self.id_short} ({self.level}): child {child.id_short!r} has level {child.level}, "
                    f"which is not below {self.level}"
                )
        names = [s.id_short for s in self.signals] + [r.id_short for r in self.rollups]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"{self.id_short}: signal/roll-up idShort(s) {duplicates} are defined twice")
        if self.rollups and not self.children:
            raise ValueError(f"{self.id_short}: roll-ups need children to roll up")
        self._template_sources()
        return self

    def _template_sources(self) -> None:
        """Every element a template makes mandatory has a value: given here or by its documented default."""
        plate = self.nameplate
        data = self.technical_data
        if data is not None:
            for name, plate_field in TECHNICAL_DATA_DEFAULTS:
                if not getattr(data, name) and not (plate is not None and getattr(plate, plate_field)):
                    raise ValueError(f"{self.id_short}: technical_data.{name} is mandatory in IDTA 02003-2-0; "
                                     f"give it there or as nameplate.{plate_field}")
        for index, pcf in enumerate(self.carbon_footprint):
            if pcf.goods_handover_address is None and (plate is None or plate.address is None):
                raise ValueError(f"{self.id_short}: carbon_footprint[{index}].goods_handover_address is mandatory "
                                 "in IDTA 02023-0-9 (PCFGoodsAddressHandover); give it or a nameplate.address")


class Archetype(Strict):
    archetype: Literal["OneDown", "Full"] = Field(
        "OneDown", description="OneDown: each shell lists its children; Full: its whole subtree"
    )


class PlantDescription(Strict):
    base_iri: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S*$", description="prefix of every id")
    hierarchy: Archetype = Archetype()
    assets: list[Asset] = Field(min_length=1)

    @field_validator("base_iri")
    @classmethod
    def _terminated(cls, value: str) -> str:
        return value if value.endswith(("/", "#", ":")) else value + "/"

    @model_validator(mode="after")
    def _unique_roots(self) -> PlantDescription:
        names = [a.id_short for a in self.assets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"top-level asset(s) {duplicates} are listed twice")
        return self
