"""AAS v3 → OPC 30270 (AAS 2.0-based) values that have no one-to-one counterpart: ids, keys, kinds."""

from __future__ import annotations

import pytest
from basyx.aas import model
from basyx.aas.model import datatypes as xs

from twinbridge.server.opcua.slots import identifier_kind, key_data, modeling_kind
from twinbridge.server.opcua.types import KeyElements, KeyType

IRDI, IRI, CUSTOM = 0, 1, 2


@pytest.mark.parametrize(("identifier", "kind"), [
    ("0173-1#02-AAB381#003", IRDI),  # ECLASS
    ("0112/2///61360_4#AAE867#001", IRDI),  # IEC CDD
    ("https://admin-shell.io/zvei/nameplate/2/0/Nameplate", IRI),
    ("urn:twinbridge:demo:sm:1", IRI),
    ("Pump-4711", CUSTOM),
])
def test_the_identifier_kind_comes_from_the_form_of_the_id(identifier: str, kind: int) -> None:
    assert identifier_kind(identifier) == kind


def test_keys_of_a_model_reference_are_local_and_named_by_id_or_id_short() -> None:
    reference = model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, "urn:sm"),
                                      model.Key(model.KeyTypes.SUBMODEL_ELEMENT_LIST, "Readings"),
                                      model.Key(model.KeyTypes.BASIC_EVENT_ELEMENT, "0")), model.BasicEventElement)
    assert [(key.Type, key.Local, key.Value, key.IdType) for key in key_data(reference)] == [
        (KeyElements.Submodel, True, "urn:sm", KeyType.IRI),
        (KeyElements.SubmodelElementCollection, True, "Readings", KeyType.IdShort),
        (KeyElements.Event, True, "0", KeyType.IdShort)]


def test_keys_of_an_external_reference_are_not_local() -> None:
    reference = model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, "0173-1#02-AAB381#003"),
                                         model.Key(model.KeyTypes.FRAGMENT_REFERENCE, "chapter-2")))
    assert [(key.Type, key.Local, key.IdType) for key in key_data(reference)] == [
        (KeyElements.GlobalReference, False, KeyType.IRDI), (KeyElements.FragmentReference, False, KeyType.FragmentId)]


def test_an_element_has_its_submodels_kind() -> None:
    speed = model.Property("Speed", xs.Double, 1.0)
    inner = model.Property("Inner", xs.Int, 1)
    model.Submodel("urn:template", kind=model.ModellingKind.TEMPLATE,
                   submodel_element=[speed, model.SubmodelElementCollection("C", value=[inner])])
    assert modeling_kind(speed) == modeling_kind(inner) == 0  # Template
    assert modeling_kind(model.Property("Alone", xs.Int, 1)) == 1  # Instance
