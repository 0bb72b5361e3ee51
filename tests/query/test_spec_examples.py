"""Every example of the specification's query-language page, with the result the page gives.

IDTA-01002 v3.1, clause "Query Language": the comparison table over the example shell, the
``$match`` table, and the "Examples for Grammar and JSON Schema" (the page gives data for the
first and the last; HandoverDocumentation and TechnicalData get data of ours in ``spec_data``).
"""

from __future__ import annotations

from typing import Any

import pytest
from basyx.aas import model

from tests.query.spec_data import SHELL_ID, example_shell, handover_documentation, technical_data
from twinbridge.query.json_form import parse_query
from twinbridge.query.plan import naive
from twinbridge.query.syntax import QuerySyntaxError, Root
from twinbridge.query.world import RepositoryWorld


def field(text: str) -> dict[str, str]:
    return {"$field": text}


def shells_matching(condition: dict[str, Any]) -> list[str]:
    shell = example_shell()
    world = RepositoryWorld({shell.id: shell}, {})
    return naive(parse_query({"$condition": condition}), Root.AAS, [shell], world)


ASSET_KIND = field("$aas#assetInformation.assetKind")
SUBMODELS = field("$aas#submodels")
BOOL_TRUE = {"$boolCast": {"$strVal": "true"}}

# (comparison, result) in the order of the page's table
COMPARISONS: list[tuple[dict[str, Any], bool]] = [
    ({"$eq": [field("$aas#idShort"), field("$aas#assetInformation.assetType")]}, True),
    ({"$le": [field("$aas#idShort"), field("$aas#assetInformation.assetType")]}, True),
    ({"$ne": [field("$aas#idShort"), field("$aas#assetInformation.assetType")]}, False),
    ({"$le": [{"$numVal": 1}, {"$numVal": 2}]}, True),
    ({"$gt": [{"$numVal": 1}, {"$numVal": 2}]}, False),
    ({"$lt": [{"$strVal": "a"}, {"$strVal": "b"}]}, True),
    ({"$gt": [{"$strVal": "1"}, {"$strVal": "2"}]}, False),
    ({"$gt": [{"$strVal": "11"}, {"$strVal": "2"}]}, False),
    ({"$eq": [ASSET_KIND, SUBMODELS]}, False),
    ({"$ne": [ASSET_KIND, SUBMODELS]}, True),
    ({"$eq": [ASSET_KIND, ASSET_KIND]}, True),
    ({"$ne": [ASSET_KIND, ASSET_KIND]}, False),
    ({"$eq": [SUBMODELS, SUBMODELS]}, True),
    ({"$eq": [ASSET_KIND, {"$numVal": 17}]}, False),
    ({"$ne": [ASSET_KIND, {"$numVal": 17}]}, True),
    ({"$le": [ASSET_KIND, ASSET_KIND]}, True),
    ({"$ge": [BOOL_TRUE, BOOL_TRUE]}, True),
    ({"$gt": [BOOL_TRUE, BOOL_TRUE]}, False),
    ({"$contains": [field("$aas#id"), {"$strVal": "https://example.com/asset-administration"}]}, True),
]


@pytest.mark.parametrize(("condition", "expected"), COMPARISONS, ids=[str(c) for c, _ in COMPARISONS])
def test_comparison_table(condition: dict[str, Any], expected: bool) -> None:
    assert shells_matching(condition) == ([SHELL_ID] if expected else [])


def test_comparison_table_type_mismatch_is_refused_naming_the_position() -> None:
    """``13 $eq '13'``: the table's "Type mismatch" row; a query that compares two literals of
    different types is refused before it runs (400 over HTTP), so it matches nothing."""
    with pytest.raises(QuerySyntaxError, match=r"\$condition\.\$eq: type mismatch: number \$eq string"):
        shells_matching({"$eq": [{"$numVal": 13}, {"$strVal": "13"}]})


def specific(member: str, value: str) -> dict[str, Any]:
    return {"$eq": [field(f"$aas#assetInformation.specificAssetIds[].{member}"), {"$strVal": value}]}


MATCHES: list[tuple[dict[str, Any], bool]] = [
    ({"$match": [specific("name", "supplierId"), specific("value", "aas-1")]}, True),
    ({"$match": [specific("name", "supplierId"), specific("value", "aas-2")]}, False),
    ({"$and": [specific("name", "supplierId"), specific("value", "aas-2")]}, True),
    ({"$or": [{"$match": [specific("name", "supplierId"), specific("value", "aas-1")]},
              {"$match": [specific("name", "customerId"), specific("value", "aas-2")]}]}, True),
]


@pytest.mark.parametrize(("condition", "expected"), MATCHES, ids=["match", "match-other-item", "and", "or-of-matches"])
def test_match_table(condition: dict[str, Any], expected: bool) -> None:
    assert shells_matching(condition) == ([SHELL_ID] if expected else [])


# ------------------------------------------------- grammar/JSON examples
def submodels_matching(query: dict[str, Any], submodels: list[model.Submodel]) -> list[str]:
    world = RepositoryWorld({}, {sm.id: sm for sm in submodels})
    return naive(parse_query(query), Root.SM, submodels, world)


def test_single_comparison_example() -> None:
    query = {"$condition": {"$eq": [field("$aas#idShort"), field("$aas#assetInformation.assetType")]}}
    shell = example_shell()
    assert naive(parse_query(query), Root.AAS, [shell], RepositoryWorld({}, {})) == [SHELL_ID]


HANDOVER_QUERY = {"$condition": {"$match": [
    {"$eq": [field("$sme.Documents[].DocumentClassification.Class#value"), {"$strVal": "03-01"}]},
    {"$eq": [field("$sme.Documents[].DocumentVersion.SMLLanguages[]#language"), {"$strVal": "nl"}]},
]}}


def test_handover_documentation_example() -> None:
    """Commissioning (03-01) documents in Dutch: only where one document is both."""
    both = handover_documentation("urn:sm:both", [("03-01", ["en", "nl"]), ("02-01", ["de"])])
    apart = handover_documentation("urn:sm:apart", [("03-01", ["en"]), ("02-01", ["nl"])])
    neither = handover_documentation("urn:sm:neither", [("02-01", ["de"])])
    assert submodels_matching(HANDOVER_QUERY, [both, apart, neither]) == ["urn:sm:both"]


TECHNICAL_QUERY = {"$condition": {"$and": [
    {"$match": [
        {"$eq": [field("$sm#idShort"), {"$strVal": "TechnicalData"}]},
        {"$eq": [field("$sme.ProductClassifications.ProductClassificationItem.ProductClassId#value"),
                 {"$strVal": "27-37-09-05"}]},
    ]},
    {"$match": [
        {"$eq": [field("$sm#idShort"), {"$strVal": "TechnicalData"}]},
        {"$eq": [field("$sme#semanticId"), {"$strVal": "0173-1#02-BAF016#006"}]},
        {"$lt": [field("$sme#value"), {"$numVal": 100}]},
    ]},
]}}


def test_technical_data_example() -> None:
    """Motor starters (27-37-09-05) narrower than 100 mm."""
    submodels = [
        technical_data("urn:sm:narrow-starter", "27-37-09-05", 45.0),
        technical_data("urn:sm:wide-starter", "27-37-09-05", 120.0),
        technical_data("urn:sm:narrow-other", "27-37-09-01", 45.0),
    ]
    assert submodels_matching(TECHNICAL_QUERY, submodels) == ["urn:sm:narrow-starter"]


def test_match_specific_asset_ids_example() -> None:
    query = {"$condition": MATCHES[3][0]}
    shell = example_shell()
    assert naive(parse_query(query), Root.AAS, [shell], RepositoryWorld({}, {})) == [SHELL_ID]
