"""Property: for random conditions, the planned answer (indexes + evaluator) is the naive loop's.

The data is a small repository whose values collide on purpose (few idShorts, semanticIds,
numbers and strings) so comparisons hit; conditions are drawn from every operator over indexed
and unindexed fields, across the hierarchy, with ``$match`` over lists. Values change between
runs (a live device update and a structural edit), after the value indexes exist, so the test
also checks that the indexes follow the bus.
"""

from __future__ import annotations

import random
from typing import Any

from basyx.aas import model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinbridge.aas.twin import Twin
from twinbridge.query.json_form import parse_query
from twinbridge.query.plan import Planner, naive
from twinbridge.query.syntax import Root
from twinbridge.query.value_index import ValueIndexes
from twinbridge.query.world import RepositoryWorld
from twinbridge.server.api.catalog import Catalogs
from twinbridge.server.api.query import CatalogView

ID_SHORTS = ["TechnicalData", "Nameplate", "Other"]
SEMANTIC_IDS = ["urn:sem:td", "urn:sem:np", "0173-1#02-BAF016#006"]
STRINGS = ["A", "B", "10", "x-1", "nl", "TechnicalData", "urn:sem:td", ""]


def _semantic(value: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, value),))


def _submodel(rng: random.Random, n: int) -> model.Submodel:
    width_type, width = rng.choice([(model.datatypes.Double, float(rng.randint(-5, 120))),
                                    (model.datatypes.Int, rng.randint(-5, 120)),
                                    (model.datatypes.String, rng.choice(STRINGS))])
    elements: list[model.SubmodelElement] = [
        model.Property("Width", width_type, width, semantic_id=_semantic(rng.choice(SEMANTIC_IDS))),
        model.SubmodelElementCollection("Props", [
            model.Property("Speed", model.datatypes.Int, rng.randint(0, 50)),
            model.Property("Label", model.datatypes.String, rng.choice(STRINGS)),
        ]),
        model.MultiLanguageProperty("Name", model.MultiLanguageTextType(
            {language: rng.choice(STRINGS) or "-" for language in rng.sample(["en", "de", "nl"], rng.randint(1, 2))})),
        model.SubmodelElementList("Items", model.Property, [
            model.Property(None, model.datatypes.Int, rng.randint(0, 20)) for _ in range(rng.randint(0, 3))
        ], value_type_list_element=model.datatypes.Int),
    ]
    if rng.random() < 0.2:
        elements.pop(0)  # no Width at all
    return model.Submodel(f"urn:sm:{n}", id_short=rng.choice(ID_SHORTS), submodel_element=elements,
                          semantic_id=_semantic(rng.choice(SEMANTIC_IDS)))


def make_twin() -> Twin:
    rng = random.Random(17)
    twin = Twin()
    for n in range(40):
        twin.create(_submodel(rng, n))
    for n in range(8):
        refs = {model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, f"urn:sm:{m}"),), model.Submodel)
                for m in rng.sample(range(40), 3)}
        twin.create(model.AssetAdministrationShell(
            model.AssetInformation(global_asset_id=f"urn:asset:{n % 3}",
                                   specific_asset_id=[model.SpecificAssetId("serial", rng.choice(STRINGS) or "s")]),
            f"urn:aas:{n}", id_short=rng.choice(["Press", "Filler"]), submodel=refs))
    return twin


INDEXED = ["$sm#idShort", "$sm#id", "$sm#semanticId", "$sme.Width#value", "$sme.Props.Speed#value",
           "$aas#idShort", "$aas#id", "$aas#assetInformation.globalAssetId"]
SM_FIELDS = ["$sm#idShort", "$sm#id", "$sm#semanticId", "$sm#semanticId.keys[].value", "$sme.Width#value",
             "$sme.Props.Speed#value", "$sme.Props.Label#value", "$sme#value", "$sme.Name#value", "$sme.Name#language",
             "$sme.Items[]#value", "$sme.Items[1]#value", "$sme#semanticId", "$sme.Width#valueType",
             "$aas#idShort", "$aas#assetInformation.globalAssetId"]
AAS_FIELDS = ["$aas#idShort", "$aas#id", "$aas#assetInformation.globalAssetId",
              "$aas#assetInformation.specificAssetIds[].value", "$sm#idShort", "$sme.Width#value"]

literals = st.one_of(
    st.sampled_from([*STRINGS, "urn:sm:3", "urn:aas:2", "urn:asset:1", "Press"]).map(lambda s: {"$strVal": s}),
    st.integers(-10, 130).map(lambda n: {"$numVal": n}),
    st.floats(-10, 130, allow_nan=False).map(lambda x: {"$numVal": x}),
    st.booleans().map(lambda b: {"$boolean": b}),
)


NUMBERS = [{"$numVal": n} for n in (0, 10, 45, 50, 100)]
TYPICAL: dict[str, list[dict[str, Any]]] = {
    "$sm#idShort": [{"$strVal": s} for s in ID_SHORTS],
    "$sm#id": [{"$strVal": f"urn:sm:{n}"} for n in range(0, 40, 3)],
    "$sm#semanticId": [{"$strVal": s} for s in SEMANTIC_IDS],
    "$sm#semanticId.keys[].value": [{"$strVal": s} for s in SEMANTIC_IDS],
    "$sme#semanticId": [{"$strVal": s} for s in SEMANTIC_IDS],
    "$aas#idShort": [{"$strVal": "Press"}, {"$strVal": "Filler"}],
    "$aas#id": [{"$strVal": f"urn:aas:{n}"} for n in range(8)],
    "$aas#assetInformation.globalAssetId": [{"$strVal": f"urn:asset:{n}"} for n in range(3)],
}


def _literal_for(field: str) -> st.SearchStrategy[dict[str, Any]]:
    typical = TYPICAL.get(field, NUMBERS + [{"$strVal": s} for s in STRINGS])
    return st.one_of(st.sampled_from(typical), literals)


def comparisons(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Half of the fields drawn are indexed ones, half of the other sides a value they hold: the
    comparisons plans answer from indexes come often enough to catch an index that misses one."""
    names = st.one_of(st.sampled_from([f for f in INDEXED if f in fields]), st.sampled_from(fields))
    field = names.map(lambda f: {"$field": f})
    other = names.flatmap(
        lambda f: st.tuples(st.just({"$field": f}), st.one_of(
            st.sampled_from(TYPICAL.get(f, NUMBERS)), st.sampled_from(TYPICAL.get(f, NUMBERS)),
            st.sampled_from(TYPICAL.get(f, NUMBERS)), _literal_for(f), field,
            literals.map(lambda v: {"$numCast": v}))))
    ordered = st.tuples(st.sampled_from(["$eq", "$eq", "$eq", "$ne", "$lt", "$le", "$gt", "$ge"]), other,
                        st.booleans()).map(
        lambda t: {t[0]: [t[1][0], t[1][1]] if t[2] else [t[1][1], t[1][0]]})
    strings = st.tuples(st.sampled_from(["$contains", "$starts-with", "$ends-with", "$regex"]), field,
                        st.sampled_from(["A", "1", "x", "^u", "[0-9]+$", "Tech"])).map(
        lambda t: {t[0]: [t[1], {"$strVal": t[2]}]})
    return st.one_of(ordered, ordered, ordered, strings)


def conditions(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    leaf = comparisons(fields)

    def extend(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(lambda items: {"$and": items}),
            st.lists(inner, min_size=2, max_size=3).map(lambda items: {"$or": items}),
            inner.map(lambda item: {"$not": item}),
            st.lists(leaf, min_size=1, max_size=3).map(lambda items: {"$match": items}),
        )
    flat = st.lists(leaf, min_size=2, max_size=3)
    return st.one_of(leaf, flat.map(lambda items: {"$and": items}), flat.map(lambda items: {"$or": items}),
                     flat.map(lambda items: {"$match": items}), st.recursive(leaf, extend, max_leaves=6))


TWIN = make_twin()
CATALOGS = Catalogs(TWIN)
VALUES = ValueIndexes(TWIN)
WORLD = RepositoryWorld(TWIN.shells, TWIN.submodels)


def _planned(root: Root, query: dict[str, Any]) -> list[str]:
    catalogs = CATALOGS.current()
    catalog = catalogs.submodels if root is Root.SM else catalogs.shells
    planner = Planner(root, CatalogView(catalog), WORLD, VALUES if root is Root.SM else None)
    return planner.page(parse_query(query), 0, None, 30.0).identifiers


def _naive(root: Root, query: dict[str, Any]) -> list[str]:
    objects = TWIN.submodels.values() if root is Root.SM else TWIN.shells.values()
    return naive(parse_query(query), root, list(objects), RepositoryWorld(TWIN.shells, TWIN.submodels))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=conditions(SM_FIELDS), writes=st.lists(st.tuples(st.integers(0, 39), st.integers(-5, 120)),
                                                       max_size=3))
def test_submodel_plans_answer_as_the_naive_loop(condition: dict[str, Any], writes: list[tuple[int, int]]) -> None:
    query = {"$condition": condition}
    for _ in range(2):  # the second run uses value indexes built on the way
        assert _planned(Root.SM, query) == _naive(Root.SM, query)
    for n, value in writes:
        identifier = f"urn:sm:{n}"
        if TWIN.submodels[identifier].submodel_element.get("id_short", "Props") is not None:
            TWIN.update(TWIN.live(identifier, "Props.Speed"), value)  # a device's value change
        width = TWIN.submodels[identifier].submodel_element.get("id_short", "Width")
        if isinstance(width, model.Property) and width.value_type is model.datatypes.Int:
            TWIN.modify_element(identifier, "Width", lambda element, v=value: setattr(element, "value", v))
    assert _planned(Root.SM, query) == _naive(Root.SM, query)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=conditions(AAS_FIELDS))
def test_shell_plans_answer_as_the_naive_loop(condition: dict[str, Any]) -> None:
    query = {"$condition": condition}
    assert _planned(Root.AAS, query) == _naive(Root.AAS, query)


def test_every_indexed_comparison_answers_as_the_naive_loop() -> None:
    """Exhaustively, next to the random conditions: each indexed field, operator and typical value."""
    for field in INDEXED:
        root = Root.AAS if field.startswith("$aas") else Root.SM
        for op in ("$eq", "$ne", "$lt", "$le", "$gt", "$ge"):
            for literal in [*TYPICAL.get(field, NUMBERS), {"$numVal": 44.5}, {"$strVal": "A"}]:
                for operands in ([{"$field": field}, literal], [literal, {"$field": field}]):
                    query = {"$condition": {op: operands}}
                    for _ in range(2):
                        assert _planned(root, query) == _naive(root, query), query
