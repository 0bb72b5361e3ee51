"""The RDF graph costs nothing until used, and once built follows writes incrementally.

Incremental means: after a value write only that element's value triples differ, and after any
sequence of writes the graph equals (is isomorphic to) one built from scratch on the same twin.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from basyx.aas import model
from rdflib import RDF, XSD, BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from tests.ports import free_port
from tests.submodels.conftest import BASE, PLANT_FILE, encode, settle, shell_id
from twinbridge.aas.bus import ChangeBatch
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.server.application import Application, Options
from twinbridge.server.config import load_plant_file
from twinbridge.submodels.builder import PlantModel
from twinbridge.submodels.hierarchy import PlantHierarchy
from twinbridge.submodels.rdf_mapping import AAS, iri
from twinbridge.submodels.semantic import SemanticGraph

SPEED = 'SELECT ?v WHERE { ?p Referable:idShort "SpindleSpeed" ; Property:value ?v }'


def _triples(graph: Graph) -> set[tuple[object, object, object]]:
    return set(graph.triples((None, None, None)))


def _isomorphic(one: Graph, other: Graph) -> bool:
    """rdflib's ``isomorphic``, exactly, in the shape the RDF mapping writes: each blank node is the
    object of one triple and the blank nodes form trees (language strings, specific asset ids,
    embedded data specifications). Then two graphs are isomorphic iff their triples are equal once
    every blank node is replaced by its subtree, written out; rdflib's canonical labelling of the
    demo graph's ~14,000 blank-node triples took 20-28 s a call. Graphs of another shape get
    rdflib's own comparison."""
    def expanded(graph: Graph) -> set[tuple[object, object, object]] | None:
        below: dict[BNode, list[tuple[object, object]]] = {}
        referenced: dict[BNode, int] = {}
        for subject, predicate, obj in graph.triples((None, None, None)):
            if isinstance(subject, BNode):
                below.setdefault(subject, []).append((predicate, obj))
            if isinstance(obj, BNode):
                referenced[obj] = referenced.get(obj, 0) + 1
        if any(count != 1 for count in referenced.values()) or set(below) - set(referenced):
            return None  # a shared or a root blank node: not a tree

        def tree(node: object, depth: int = 0) -> object:
            if not isinstance(node, BNode):
                return node
            if depth > 50:
                raise RecursionError("a cycle of blank nodes")
            return ("_", tuple(sorted((str(p), repr(tree(o, depth + 1))) for p, o in below.get(node, []))))

        return {(s, p, tree(o)) for s, p, o in graph.triples((None, None, None)) if not isinstance(s, BNode)}

    try:
        mine, theirs = expanded(one), expanded(other)
    except RecursionError:
        mine = theirs = None
    if mine is None or theirs is None:
        return isomorphic(one, other)
    return mine == theirs


def _fresh(twin: Twin, hierarchy: PlantHierarchy) -> Graph:
    graph = SemanticGraph(twin, hierarchy)
    graph.build()
    return graph.graph


async def test_a_plain_start_builds_no_graph_until_the_first_query(tmp_path: Path) -> None:
    plant_file = load_plant_file(PLANT_FILE)
    options = Options(host="127.0.0.1", port=free_port(), data=tmp_path / "data", token="t" * 32, opcua=False)
    application = Application(plant_file, options)
    await application.start()
    assert application.http is not None
    serving = asyncio.create_task(application.http.serve())
    try:
        while not application.http.started:
            await asyncio.sleep(0.02)
        graph = application.http.config.app.state.semantic_graph
        assert isinstance(graph, SemanticGraph)
        assert not graph.built and graph.builds == 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{options.port}/api/v3.0", timeout=30) as http:
            assert (await http.get("/shells", params={"limit": 1})).status_code == 200
            assert not graph.built  # REST reads do not need it
            bad = await http.post("/query/sparql", content="SELECT ?s WHERE { ?s ?p }")
            assert bad.status_code == 400 and not graph.built  # a malformed query does not build it
            for _ in range(2):
                response = await http.post("/query/sparql", content='ASK { ?s tb:level "cell" }')
                assert response.status_code == 200 and response.json()["boolean"] is True
            assert graph.built and graph.builds == 1
    finally:
        application.http.should_exit = True
        await serving
        await application.stop()


async def test_the_graph_is_not_built_by_value_changes_before_its_first_use(twin: Twin, plant: PlantModel,
                                                                             graph: SemanticGraph) -> None:
    signal = twin.live(*plant.signal_target(shell_id("DemoPlant/Line1/Cell1/Filler1"), "SpindleSpeed"))
    twin.update(signal, 1200.0)
    await settle(twin)
    assert not graph.built
    _, body = graph.query(SPEED, 5.0)
    assert [row["v"]["value"] for row in json.loads(body)["results"]["bindings"]] == ["1200.0"]


async def test_a_value_write_changes_only_that_elements_value_triple(client: httpx.AsyncClient, twin: Twin,
                                                                     plant: PlantModel,
                                                                     graph: SemanticGraph) -> None:
    sm_id, path = plant.signal_target(shell_id("DemoPlant/Line1/Cell1/Filler1"), "SpindleSpeed")
    node = URIRef(f"{iri(sm_id)}#{path}")
    assert (await client.post("/query/sparql", content=SPEED)).status_code == 200  # builds the graph
    before = _triples(graph.graph)
    response = await client.patch(f"/submodels/{encode(sm_id)}/submodel-elements/{path}/$value", json=1450.0)
    assert response.status_code == 204, response.text
    await settle(twin)
    answer = await client.post("/query/sparql", content=SPEED)
    assert [row["v"]["value"] for row in answer.json()["results"]["bindings"]] == ["1450.0"]
    after = _triples(graph.graph)
    value = AAS["Property/value"]
    assert before - after <= {t for t in before if t[0] == node and t[1] == value}
    assert after - before == {(node, value, Literal("1450.0", datatype=XSD.double))}
    assert graph.builds == 1


async def test_other_element_kinds_and_structure_edits_keep_the_graph_equal_to_a_fresh_build(
        client: httpx.AsyncClient, twin: Twin, hierarchy: PlantHierarchy, graph: SemanticGraph) -> None:
    graph.build()
    nameplate = f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/Nameplate"
    technical = f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/TechnicalData"
    untouched = {t for t in _triples(graph.graph)
                 if isinstance(t[0], URIRef) and not t[0].startswith(str(iri(nameplate)))}
    response = await client.patch(f"/submodels/{encode(nameplate)}/submodel-elements/ManufacturerName/$value",
                                  json={"ManufacturerName": [{"en": "Renamed GmbH"}, {"de": "Umbenannt GmbH"}]})
    assert response.status_code == 204, response.text
    await settle(twin)
    rows = json.loads(graph.query('SELECT ?t WHERE { ?e Referable:idShort "ManufacturerName" ; '
                                  'MultiLanguageProperty:value/AbstractLangString:text ?t }', 5.0)[1])
    assert {"Renamed GmbH", "Umbenannt GmbH"} <= {row["t"]["value"] for row in rows["results"]["bindings"]}
    assert untouched <= _triples(graph.graph)  # nothing outside the nameplate was re-emitted away
    twin.add_element(technical, "TechnicalPropertyAreas[0]", model.Property("Weight", model.datatypes.Double, 12.5))
    twin.add_element(technical, None, model.SubmodelElementList(
        "Readings", model.Property, value_type_list_element=model.datatypes.Int,
        value=[model.Property(None, model.datatypes.Int, n) for n in range(3)]))
    await settle(twin)
    twin.delete_element(technical, "Readings[0]")  # renumbers the items after it
    twin.delete_element(technical, "TechnicalPropertyAreas[0].Weight")
    await settle(twin)
    assert _isomorphic(graph.graph, _fresh(twin, hierarchy))
    assert graph.builds == 1


def test_lost_structure_events_rebuild_the_graph_from_the_twin(twin: Twin, hierarchy: PlantHierarchy) -> None:
    graph = SemanticGraph(twin, hierarchy)
    graph.build()
    technical = f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/TechnicalData"
    twin.delete(ObjectKind.SUBMODEL, technical)  # not following: as if the event had been dropped
    assert (iri(technical), RDF.type, AAS.Submodel) in graph.graph
    graph.apply(ChangeBatch(overflowed=True))
    assert (iri(technical), RDF.type, AAS.Submodel) not in graph.graph and graph.builds == 2
    assert _isomorphic(graph.graph, _fresh(twin, hierarchy))


async def test_eager_builds_in_the_background_after_start_and_follows(twin: Twin, plant: PlantModel,
                                                                       hierarchy: PlantHierarchy) -> None:
    graph = SemanticGraph(twin, hierarchy, eager=True)
    await graph.start()
    try:
        await graph.ensure_built()  # joins the build start() began
        assert graph.built and graph.builds == 1
        signal = twin.live(*plant.signal_target(shell_id("DemoPlant/Line1/Cell1/Filler1"), "SpindleSpeed"))
        twin.update(signal, 900.0)
        await settle(twin)
        _, body = graph.query(SPEED, 5.0)
        assert [row["v"]["value"] for row in json.loads(body)["results"]["bindings"]] == ["900.0"]
    finally:
        await graph.stop()


def test_the_graph_comparison_sees_a_change_inside_a_blank_node(twin: Twin, hierarchy: PlantHierarchy) -> None:
    """The tree comparison above is as strict as rdflib's: blank nodes renamed compare equal, one
    literal changed below a blank node does not."""
    graph = _fresh(twin, hierarchy)
    renamed, changed = Graph(), Graph()
    names: dict[BNode, BNode] = {}
    target = next(t for t in graph.triples((None, None, None)) if isinstance(t[0], BNode) and isinstance(t[2], Literal))
    for triple in graph.triples((None, None, None)):
        mapped = tuple(names.setdefault(n, BNode()) if isinstance(n, BNode) else n for n in triple)
        renamed.add(mapped)  # type: ignore[arg-type]
        changed.add(mapped if triple != target else (mapped[0], mapped[1], Literal(f"{target[2]} changed")))  # type: ignore[arg-type]
    assert _isomorphic(graph, renamed)
    assert not _isomorphic(graph, changed)
