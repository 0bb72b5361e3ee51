"""The basyx private hooks twinbridge relies on exist, and a missing one stops the start clearly."""

from __future__ import annotations

import json

import pytest
from basyx.aas import model
from basyx.aas.adapter.aasx import AASXReader
from basyx.aas.adapter.json import AASToJsonEncoder
from basyx.aas.model.base import AASConstraintViolation, NamespaceSet

from twinbridge.aas import compat_basyx


def test_the_installed_basyx_has_every_hook() -> None:
    compat_basyx.check()


def test_a_missing_hook_is_named_with_the_tested_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(AASXReader, "_add_supplementary_file")
    with pytest.raises(compat_basyx.BasyxCompatError,
                       match=r"lacks basyx\.aas\.adapter\.aasx\.AASXReader\._add_supplementary_file; "
                             r"twinbridge was tested with basyx-python-sdk 2\.2\.0"):
        compat_basyx.check()


def _ref(iri: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def test_empty_containers_keep_nothing_and_behave_as_basyx_ones_once_used() -> None:
    element = model.Property("speed", model.datatypes.Double, 1.0, semantic_id=_ref("urn:speed"))
    assert not [name for name in vars(element) if name.startswith("_twinbridge_")]
    assert len(element.qualifier) == 0 and not element.extension and list(element.supplemental_semantic_id) == []
    assert isinstance(element.qualifier, NamespaceSet)

    element.qualifier.add(model.Qualifier("unit", model.datatypes.String, "rpm"))
    with pytest.raises(AASConstraintViolation):  # basyx's uniqueness rule still holds
        element.qualifier.add(model.Qualifier("unit", model.datatypes.String, "1/s"))
    element.extension.add(model.Extension("source"))
    element.supplemental_semantic_id.append(_ref("urn:speed:2"))
    assert element.qualifier.get_object_by_attribute("type", "unit").value == "rpm"
    assert [e.name for e in element.extension] == ["source"]
    assert len(element.supplemental_semantic_id) == 1

    document = json.loads(json.dumps(element, cls=AASToJsonEncoder))
    assert document["qualifiers"][0]["type"] == "unit" and document["extensions"][0]["name"] == "source"
    assert document["supplementalSemanticIds"][0]["keys"][0]["value"] == "urn:speed:2"


def test_a_supplemental_id_still_needs_a_semantic_id() -> None:
    element = model.Property("speed", model.datatypes.Double)
    with pytest.raises(AASConstraintViolation):
        element.supplemental_semantic_id.append(_ref("urn:speed:2"))
    assert list(element.supplemental_semantic_id) == []


def test_id_shorts_stay_unique_in_a_collection() -> None:
    collection = model.SubmodelElementCollection("c", value=[model.Property("a", model.datatypes.Int)])
    with pytest.raises(AASConstraintViolation):
        collection.value.add(model.Property("a", model.datatypes.Int))
