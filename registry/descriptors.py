"""Part 2 v3.0 descriptors: ``AssetAdministrationShellDescriptor``, ``SubmodelDescriptor``, ``Endpoint``.

The fields and limits are those of the IDTA Part 2 API schemas (aas-specs-api
``Part2-API-Schemas/openapi.yaml`` V3.0.1, the schemas the V3.0 registry profiles reference):
``ProtocolInformation`` carries the endpoint in ``href`` (BaSyx's registry writes the same).
Part 1 objects inside a descriptor (``administration``, ``description``, ``semanticId``,
``extensions``...) are kept as the client sent them, as plain JSON; only what the registry
itself reads (``id``, ``assetKind``, ``assetType``, ``globalAssetId``, ``specificAssetIds``'
name and value) is typed. Unknown fields are dropped: a descriptor answers with exactly the
schema's fields.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

JsonObject = dict[str, JsonValue]

# Part 1's Identifier/Text pattern: any XML character (no control characters but tab, CR, LF).
_XML_TEXT = r"^[\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]*$"
Identifier = Annotated[str, Field(min_length=1, max_length=2000, pattern=_XML_TEXT)]
Short128 = Annotated[str, Field(max_length=128)]

AAS_INTERFACE = "AAS-3.0"
SUBMODEL_INTERFACE = "SUBMODEL-3.0"


class _Part2(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class SecurityAttribute(_Part2):
    type: Literal["NONE", "RFC_TLSA", "W3C_DID"]
    key: str
    value: str


class ProtocolInformation(_Part2):
    href: str = Field(max_length=2048)
    endpoint_protocol: Short128 | None = None
    endpoint_protocol_version: list[Short128] | None = None
    subprotocol: Short128 | None = None
    subprotocol_body: Short128 | None = None
    subprotocol_body_encoding: Short128 | None = None
    security_attributes: list[SecurityAttribute] | None = Field(None, min_length=1)


class Endpoint(_Part2):
    interface: Short128
    protocol_information: ProtocolInformation


class SpecificAssetId(_Part2):
    """Part 1 ``SpecificAssetId``: what discovery matches on is ``name`` and ``value``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")
    name: str = Field(min_length=1, max_length=64)
    value: Identifier


class _Descriptor(_Part2):
    description: list[JsonObject] | None = None
    display_name: list[JsonObject] | None = None
    extensions: list[JsonObject] | None = Field(None, min_length=1)
    administration: JsonObject | None = None
    id_short: Short128 | None = None
    id: Identifier


class SubmodelDescriptor(_Descriptor):
    endpoints: list[Endpoint] = Field(min_length=1)
    semantic_id: JsonObject | None = None
    supplemental_semantic_id: list[JsonObject] | None = Field(None, min_length=1)


class AssetAdministrationShellDescriptor(_Descriptor):
    asset_kind: Literal["Instance", "Type", "NotApplicable"] | None = None
    asset_type: Identifier | None = None
    endpoints: list[Endpoint] | None = Field(None, min_length=1)
    global_asset_id: Identifier | None = None
    specific_asset_ids: list[SpecificAssetId] | None = None
    submodel_descriptors: list[SubmodelDescriptor] | None = None

    def asset_links(self) -> list[SpecificAssetId]:
        """What discovery finds this shell by: its globalAssetId (as name ``globalAssetId``, the
        convention of Part 2's lookup) and its specificAssetIds."""
        links = [] if self.global_asset_id is None else [SpecificAssetId(name="globalAssetId",
                                                                          value=self.global_asset_id)]
        return links + list(self.specific_asset_ids or ())


def render(descriptor: BaseModel) -> bytes:
    """The descriptor's JSON as Part 2 writes it: camelCase, absent fields left out."""
    return orjson.dumps(descriptor.model_dump(mode="json", by_alias=True, exclude_none=True))


def endpoint(interface: str, href: str) -> Endpoint:
    """An HTTP endpoint of a twinbridge (or any Part 2) server."""
    return Endpoint(interface=interface, protocol_information=ProtocolInformation(
        href=href, endpoint_protocol="HTTP", endpoint_protocol_version=["1.1"]))
