"""The RDF graph: hierarchy queries, live values, incremental structure changes, Turtle round trip."""

from __future__ import annotations

import json

import pytest
from basyx.aas import model
from rdflib import RDF, Graph, Literal, URIRef

from tests.submodels.conftest import BASE, settle, shell_id
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import PlantModel
from twinbridge.submodels.hierarchy import PlantHierarchy
from twinbridge.submodels.rdf_mapping import AAS, TB, iri
from twinbridge.submodels.semantic import SemanticGraph
from twinbridge.submodels.sparql import QueryError, QueryRejected, QueryTimeout

XSD_DOUBLE = URIRef("http://www.w3.org/2001/XMLSchema#double")

KRONES_IN_LINE2 = """
SELECT ?id WHERE {
  ?line Referable:idShort "Line2" ; tb:hasPart+ ?m .
  ?m tb:level "machine" ; Identifiable:id ?id ; tb:hasSubmodel ?sm .
  ?sm Referable:idShort "Nameplate" ; Submodel:submodelElements ?e .
  ?e Referable:idShort "ManufacturerName" ; MultiLanguageProperty:value/AbstractLangString:text "Krones" .
} ORDER BY ?id"""

TEMPERATURES_BELOW_CELL3 = """
SELECT ?shell ?value WHERE {
  ?cell Referable:idShort "Cell3" ; tb:hasPart+ ?shell .
  ?shell tb:hasSubmodel ?sm .
  ?sm Referable:idShort "OperationalData" .
  ?sm (Submodel:submodelElements|SubmodelElementCollection:value)+ ?current .
  ?current Referable:idShort "Current" ; SubmodelElementCollection:value ?t .
  ?t HasSemantics:semanticId ?ref . ?ref Reference:keys ?key . ?key Key:value "0173-1#02-AAV232#002" .
  OPTIONAL { ?t Property:value ?value }
} ORDER BY ?shell"""


def _rows(graph: SemanticGraph, sparql: str) -> list[dict[str, str]]:
    content_type, body = graph.query(sparql, 5.0)
    assert content_type == "application/sparql-results+json"
    return [{k: v["value"] for k, v in row.items()} for row in json.loads(body)["results"]["bindings"]]


async def test_hierarchy_queries_by_nameplate_and_by_semantic_id(twin: Twin, plant: PlantModel,
                                                                 graph: SemanticGraph) -> None:
    assert [r["id"] for r in _rows(graph, KRONES_IN_LINE2)] == [
        shell_id("DemoPlant/Line2/Cell3/Packer1"), shell_id("DemoPlant/Line2/Cell3/Wrapper1")]
    rows = _rows(graph, TEMPERATURES_BELOW_CELL3)
    assert len(rows) == 6 and all("value" not in r for r in rows)
    twin.update(twin.live(*plant.signal_target(shell_id("DemoPlant/Line2/Cell3/Packer1/Packer1Motor"),
                                               "Temperature")), 61.5)
    await settle(twin)
    values = {r["shell"]: r.get("value") for r in _rows(graph, TEMPERATURES_BELOW_CELL3)}
    assert values[shell_id("DemoPlant/Line2/Cell3/Packer1/Packer1Motor")] == "61.5"
    up = _rows(graph, f'SELECT ?a WHERE {{ <{shell_id("DemoPlant/Line2/Cell3/Packer1")}> tb:isPartOf+ ?a }}')
    assert {r["a"] for r in up} == {shell_id("DemoPlant/Line2/Cell3"), shell_id("DemoPlant/Line2"),
                                    shell_id("DemoPlant")}


async def test_a_value_change_replaces_exactly_one_triple(twin: Twin, plant: PlantModel,
                                                          graph: SemanticGraph) -> None:
    sm_id, path = plant.signal_target(shell_id("DemoPlant/Line1/Cell1/Filler1"), "SpindleSpeed")
    node = URIRef(f"{iri(sm_id)}#{path}")
    size = len(graph.graph)
    twin.update(twin.live(sm_id, path), 1450.0)
    await settle(twin)
    assert list(graph.graph.objects(node, AAS["Property/value"])) == [Literal("1450.0", datatype=XSD_DOUBLE)]
    assert len(graph.graph) == size + 1
    twin.update(twin.live(sm_id, path), 1500.0)
    await settle(twin)
    assert list(graph.graph.objects(node, AAS["Property/value"])) == [Literal("1500.0", datatype=XSD_DOUBLE)]
    assert len(graph.graph) == size + 1


async def test_structure_changes_re_emit_only_their_object(twin: Twin, graph: SemanticGraph) -> None:
    sm_id = f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/TechnicalData"
    twin.add_element(sm_id, "TechnicalPropertyAreas[0]",
                     model.Property("Weight", model.datatypes.Double, 1250.0))
    await settle(twin)
    rows = _rows(graph, 'SELECT ?v WHERE { ?p Referable:idShort "Weight" ; Property:value ?v }')
    assert rows == [{"v": "1250.0"}]
    twin.delete(ObjectKind.SUBMODEL, sm_id)
    await settle(twin)
    assert _rows(graph, 'SELECT ?v WHERE { ?p Referable:idShort "Weight" ; Property:value ?v }') == []
    assert (iri(sm_id), RDF.type, AAS.Submodel) not in graph.graph


async def test_turtle_round_trip_keeps_shells_submodels_and_hierarchy(twin: Twin, hierarchy: PlantHierarchy,
                                                                      graph: SemanticGraph) -> None:
    parsed = Graph().parse(data=graph.turtle(), format="turtle")
    ids = AAS["Identifiable/id"]
    shells = {str(parsed.value(s, ids)) for s in parsed.subjects(RDF.type, AAS.AssetAdministrationShell)}
    submodels = {str(parsed.value(s, ids)) for s in parsed.subjects(RDF.type, AAS.Submodel)}
    assert shells == set(twin.shells) and submodels == set(twin.submodels)
    edges = {(str(a), str(b)) for a, b in parsed.subject_objects(TB.hasPart)}
    expected = {(hierarchy.parent(s), s) for s in hierarchy.shells() if hierarchy.parent(s) is not None}
    assert edges == expected
    assert len(parsed) == len(graph.graph)


def test_bad_queries_are_refused_and_change_nothing(graph: SemanticGraph) -> None:
    size = len(graph.graph)
    with pytest.raises(QueryError, match="malformed SPARQL query at line 1"):
        graph.query("SELECT ?s WHERE { ?s ?p }", 1.0)
    with pytest.raises(QueryRejected, match="UPDATE is not allowed"):
        graph.query("DELETE WHERE { ?s ?p ?o }", 1.0)
    with pytest.raises(QueryRejected, match="SERVICE"):
        graph.query("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", 1.0)
    with pytest.raises(QueryRejected, match="FROM"):
        graph.query("SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }", 1.0)
    with pytest.raises(QueryTimeout, match="time limit"):
        graph.query("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", 0.3)
    assert len(graph.graph) == size
    content_type, body = graph.query("ASK { ?s tb:level \"cell\" }", 1.0)
    assert json.loads(body)["boolean"] is True
    content_type, body = graph.query(
        "CONSTRUCT { ?a tb:hasPart ?b } WHERE { ?a tb:hasPart ?b ; tb:level \"plant\" }", 1.0)
    assert content_type == "text/turtle" and len(Graph().parse(data=body, format="turtle")) == 2


async def test_numeric_values_are_typed_literals_that_compare_as_numbers(twin: Twin, plant: PlantModel,
                                                                          graph: SemanticGraph) -> None:
    for machine, value in (("DemoPlant/Line2/Cell3/Packer1", 9.5), ("DemoPlant/Line2/Cell3/Wrapper1", 10.25)):
        twin.update(twin.live(*plant.signal_target(shell_id(machine), "Power")), value)
    await settle(twin)
    sparql = """SELECT ?v WHERE { ?p Referable:idShort "Power" ; Property:value ?v . FILTER(?v > 10) }"""
    _, body = graph.query(sparql, 5.0)
    bindings = json.loads(body)["results"]["bindings"]
    assert [(b["v"]["value"], b["v"]["datatype"]) for b in bindings] == [
        ("10.25", str(XSD_DOUBLE))]
