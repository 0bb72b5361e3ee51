"""IDTA 02006-3-0 Digital Nameplate for industrial equipment.

Kinds, idShorts, semanticIds and value types follow the published template file
(IDTA 02006-3-0-2_Template_Digital Nameplate.json); tests/submodels/test_templates_conformance.py
holds its mandatory elements.
"""

from __future__ import annotations

from basyx.aas import model

from twinbridge.aas.errors import InvalidInput
from twinbridge.submodels.description import Address, Nameplate
from twinbridge.submodels.templates.contact_information import address_elements
from twinbridge.submodels.templates.elements import collection, prop, semantic, submodel, text

SUBMODEL = "https://admin-shell.io/idta/nameplate/3/0/Nameplate"
ADDRESS = "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/AddressInformation"
_S = model.datatypes.String
# (field, idShort, semanticId, multi-language?) in the template's order after AddressInformation
_OPTIONAL = (
    ("manufacturer_product_root", "ManufacturerProductRoot", "0112/2///61360_7#AAS011#001", True),
    ("manufacturer_product_family", "ManufacturerProductFamily", "0112/2///61987#ABP464#002", True),
    ("manufacturer_product_type", "ManufacturerProductType", "0112/2///61987#ABA300#008", False),
    ("order_code_of_manufacturer", "OrderCodeOfManufacturer", "0112/2///61987#ABA950#008", False),
    ("product_article_number_of_manufacturer", "ProductArticleNumberOfManufacturer",
     "0112/2///61987#ABA581#007", False),
    ("serial_number", "SerialNumber", "0112/2///61987#ABA951#009", False),
    ("year_of_construction", "YearOfConstruction", "0112/2///61987#ABP000#002", False),
)
_VERSIONS = (
    ("hardware_version", "HardwareVersion", "0112/2///61987#ABA926#008"),
    ("firmware_version", "FirmwareVersion", "0112/2///61987#ABA302#006"),
    ("software_version", "SoftwareVersion", "0112/2///61987#ABA601#008"),
)


def build(identifier: str, nameplate: Nameplate, *, product_uri: str, serial_number: str | None) -> model.Submodel:
    """``product_uri`` fills the mandatory URIOfTheProduct and ``serial_number`` the optional SerialNumber
    when the description leaves them out (both documented on the ``Nameplate`` fields)."""
    address = nameplate.address or Address()
    address_info = address_elements(address)
    if not address_info:
        raise InvalidInput("nameplate.address: the Digital Nameplate needs an address (AddressInformation)")
    elements: list[model.SubmodelElement] = [
        prop("URIOfTheProduct", model.datatypes.AnyURI, model.datatypes.AnyURI(nameplate.uri_of_the_product or
             product_uri), semantic("0112/2///61987#ABN590#002")),
        text("ManufacturerName", nameplate.manufacturer_name, "0112/2///61987#ABA565#009"),
        text("ManufacturerProductDesignation", nameplate.manufacturer_product_designation,
             "0112/2///61987#ABA567#009"),
        collection("AddressInformation", ADDRESS, address_info),
    ]
    values = nameplate.model_dump()
    values["serial_number"] = nameplate.serial_number or serial_number
    for field, id_short, semantic_id, multi_language in _OPTIONAL:
        value = values[field]
        if value is None:
            continue
        if multi_language:
            elements.append(text(id_short, str(value), semantic_id))
        else:
            elements.append(prop(id_short, _S, str(value), semantic(semantic_id)))
    if nameplate.date_of_manufacture is not None:
        elements.append(prop("DateOfManufacture", model.datatypes.Date,
                             model.datatypes.Date(nameplate.date_of_manufacture.year,
                                                  nameplate.date_of_manufacture.month,
                                                  nameplate.date_of_manufacture.day),
                             semantic("0112/2///61987#ABB757#007")))
    for field, id_short, semantic_id in _VERSIONS:  # Property xs:string in 3.0 (MultiLanguageProperty in 2.0)
        if values[field]:
            elements.append(prop(id_short, _S, values[field], semantic(semantic_id)))
    if nameplate.country_of_origin:
        elements.append(prop("CountryOfOrigin", _S, nameplate.country_of_origin,
                             semantic("0112/2///61987#ABP462#001")))
    return submodel(identifier, "Nameplate", SUBMODEL, elements, ("3", "0"))
