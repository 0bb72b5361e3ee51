"""Every semanticId the builders emit resolves to a ConceptDescription, over REST too, so a browser
(BaSyx AAS Web UI asks for one per semanticId it meets) shows a name and definition, not a 404."""

from __future__ import annotations

import httpx
from basyx.aas import model

from tests.submodels.conftest import encode
from twinbridge.aas import paths
from twinbridge.aas.twin import Twin
from twinbridge.submodels.concepts import template_dictionary


def _emitted(twin: Twin) -> set[str]:
    found: set[str] = set()
    stack: list[model.Referable] = list(twin.submodels.values())
    while stack:
        node = stack.pop()
        for ref in (getattr(node, "semantic_id", None), getattr(node, "semantic_id_list_element", None)):
            if ref is not None and ref.key:
                found.add(ref.key[0].value)
        stack.extend(paths.children(node))
    return found


def _content(cd: model.ConceptDescription) -> model.DataSpecificationIEC61360:
    content = cd.embedded_data_specifications[0].data_specification_content
    assert isinstance(content, model.DataSpecificationIEC61360)
    return content


def test_every_emitted_semantic_id_has_a_concept_description_with_a_preferred_name(twin: Twin) -> None:
    emitted = _emitted(twin)
    assert len(emitted) > 80
    missing = sorted(emitted - set(twin.concept_descriptions))
    assert missing == []
    for semantic_id in emitted:
        assert _content(twin.concept_descriptions[semantic_id]).preferred_name.get("en"), semantic_id


def test_template_concepts_come_from_the_published_templates(twin: Twin) -> None:
    dictionary = template_dictionary()
    version = _content(twin.concept_descriptions["0112/2///61987#ABA302#006"])
    assert version.preferred_name["en"] == _content(dictionary["0112/2///61987#ABA302#006"]).preferred_name["en"]
    assert _content(twin.concept_descriptions["0173-1#02-ABK128#002"]).preferred_name["en"] == (
        "Product Class Coded Name")
    power = _content(twin.concept_descriptions["0173-1#02-AAV590#001"])
    assert power.unit == "kW"  # a plant-file unit beats the dictionary: it is what the value means


async def test_a_browser_gets_every_concept_description_over_rest(twin: Twin, client: httpx.AsyncClient) -> None:
    statuses = {}
    for semantic_id in sorted(_emitted(twin)):
        response = await client.get(f"/concept-descriptions/{encode(semantic_id)}")
        statuses[semantic_id] = response.status_code
    assert {s for s in statuses.values()} == {200}, {k: v for k, v in statuses.items() if v != 200}
