"""IDTA 02002-1-0 Contact Information: the ContactInformation collection and its submodel.

The same collection (by semanticIds) is what the IDTA test engine checks for the
``ContactInformations`` template, and the nameplate's AddressInformation drop-in reuses it.
"""

from __future__ import annotations

from basyx.aas import model

from twinbridge.submodels.description import Address
from twinbridge.submodels.templates.elements import collection, prop, semantic, submodel, text

SUBMODEL = "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations"
CONTACT = "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/ContactInformation"
ROLES = {
    "Administrative": "0173-1#07-AAS927#001",
    "Commercial": "0173-1#07-AAS928#001",
    "Other": "0173-1#07-AAS929#001",
    "HazardousGoods": "0173-1#07-AAS930#001",
    "Technical": "0173-1#07-AAS931#001",
}
_TEXT_FIELDS = (  # (description field, idShort, semanticId)
    ("national_code", "NationalCode", "0173-1#02-AAO134#002"),
    ("city_town", "CityTown", "0173-1#02-AAO132#002"),
    ("company", "Company", "0173-1#02-AAW001#001"),
    ("department", "Department", "0173-1#02-AAO127#003"),
    ("street", "Street", "0173-1#02-AAO128#002"),
    ("zip_code", "Zipcode", "0173-1#02-AAO129#002"),
    ("state_county", "StateCounty", "0173-1#02-AAO133#002"),
)
OFFICE = "0173-1#07-AAS754#001"


def address_elements(address: Address) -> list[model.SubmodelElement]:
    """The ContactInformation children for ``address`` (only the fields given)."""
    elements: list[model.SubmodelElement] = []
    if address.role_of_contact_person:
        elements.append(prop("RoleOfContactPerson", model.datatypes.String, ROLES[address.role_of_contact_person],
                             semantic("0173-1#02-AAO204#003")))
    for field, id_short, semantic_id in _TEXT_FIELDS:
        value = getattr(address, field)
        if value:
            elements.append(text(id_short, value, semantic_id))
    if address.phone:
        elements.append(collection("Phone", "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/"
                                   "ContactInformation/Phone", [
            text("TelephoneNumber", address.phone, "0173-1#02-AAO136#002"),
            prop("TypeOfTelephone", model.datatypes.String, OFFICE, semantic("0173-1#02-AAO137#003")),
        ]))
    if address.email:
        elements.append(collection("Email", "0173-1#02-AAQ836#005", [
            prop("EmailAddress", model.datatypes.String, address.email, semantic("0173-1#02-AAO198#002")),
            prop("TypeOfEmailAddress", model.datatypes.String, OFFICE, semantic("0173-1#02-AAO199#003")),
        ]))
    return elements


def contact_collection(address: Address, id_short: str = "ContactInformation") -> model.SubmodelElementCollection:
    return collection(id_short, CONTACT, address_elements(address))


def build(identifier: str, address: Address) -> model.Submodel:
    return submodel(identifier, "ContactInformation", SUBMODEL, [contact_collection(address)], ("1", "0"))
