"""JSON and XML environments: round trips, strict errors that say where, failsafe loading,
format guessing, export selections and all-or-nothing imports."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from basyx.aas import model
from basyx.aas.examples.data.example_aas import create_full_example

from tests.aas.environments import canonical
from twinbridge.aas.errors import InvalidInput, NotFound, StorageFull
from twinbridge.aas.serialization import (
    Environment,
    FormatError,
    ImportSummary,
    collect,
    guess_format,
    import_environment,
    read_environment,
    write_environment,
)
from twinbridge.aas.store import SqliteStore
from twinbridge.aas.twin import Twin

SHELL_ID = "https://example.org/Test_AssetAdministrationShell"
TEST_SUBMODEL = "https://example.org/Test_Submodel"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"




@pytest.fixture
def twin() -> Twin:
    twin = Twin()
    for obj in create_full_example():
        twin.create(obj)
    twin.save_file("/TestFile.pdf", "application/pdf", PDF)
    twin.save_file("/unreferenced.txt", "text/plain", b"not exported")
    return twin


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_round_trip(twin: Twin, fmt: str) -> None:
    env = collect(twin)
    data = write_environment(env, fmt)  # type: ignore[arg-type]
    again = read_environment(data, fmt)  # type: ignore[arg-type]
    assert canonical(again) == canonical(env)
    assert [len(again.shells), len(again.submodels), len(again.concept_descriptions)] == [1, 3, 1]


def test_xml_is_aas_3_0_and_3_1_is_read_too(twin: Twin) -> None:
    data = write_environment(collect(twin), "xml")
    assert b'<aas:environment xmlns:aas="https://admin-shell.io/aas/3/0">' in data[:200]
    as_31 = data.replace(b"https://admin-shell.io/aas/3/0", b"https://admin-shell.io/aas/3/1")
    assert canonical(read_environment(as_31, "xml")) == canonical(read_environment(data, "xml"))


def test_json_leaves_out_empty_lists_and_empty_specific_asset_ids() -> None:
    entity = model.Entity("Thing", model.EntityType.CO_MANAGED_ENTITY)
    env = Environment(submodels=[model.Submodel("urn:sm", submodel_element=[entity])])
    document = orjson.loads(write_environment(env, "json"))
    assert set(document) == {"submodels"}
    assert "specificAssetIds" not in document["submodels"][0]["submodelElements"][0]


NESTED_DEFECT = {
    "submodels": [{
        "modelType": "Submodel",
        "id": "urn:sm",
        "submodelElements": [
            {"modelType": "Property", "idShort": "fine", "valueType": "xs:int", "value": "1"},
            {"modelType": "SubmodelElementCollection", "idShort": "c",
             "value": [{"modelType": "Property", "idShort": "p"}]},
        ],
    }]
}


def test_strict_json_error_names_the_path() -> None:
    with pytest.raises(FormatError) as error:
        read_environment(orjson.dumps(NESTED_DEFECT), "json")
    assert str(error.value) == "submodels[0].submodelElements[1].value[0]: Property 'p': missing attribute 'valueType'"
    assert isinstance(error.value, InvalidInput)


def test_failsafe_json_skips_the_defect_and_keeps_the_rest() -> None:
    env = read_environment(orjson.dumps(NESTED_DEFECT), "json", failsafe=True)
    submodel = env.submodels[0]
    assert [element.id_short for element in submodel.submodel_element] == ["fine", "c"]
    assert len(submodel.get_referable("c").value) == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"submodels": [', "not valid JSON: unexpected end of data: line 1 column 16"),
        (b"[]", "an AAS environment is a JSON object, not a list"),
        (b'{"shells": []}', "unknown top-level key(s) 'shells'"),
        (b'{"submodels": {}}', "submodels: expected a list, found dict"),
        (b'{"submodels": [{"modelType": "Foo"}]}', "submodels[0]: unknown modelType 'Foo'"),
        (b'{"submodels": [{"modelType": "Submodel", "id": "x", "idShort": "1x"}]}',
         "submodels[0]: Submodel '1x': The id_short must start with a letter"),
        (b'{"submodels": [{"modelType": "Submodel", "id": "x"}, {"modelType": "Submodel", "id": "x"}]}',
         "submodels[1]: duplicate id 'x'"),
        (b'{"assetAdministrationShells": [{"modelType": "Submodel", "id": "x"}]}',
         "assetAdministrationShells[0]: expected AssetAdministrationShell, found Submodel"),
    ],
)
def test_strict_json_errors(data: bytes, message: str) -> None:
    with pytest.raises(FormatError) as error:
        read_environment(data, "json")
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<a>", "not a valid AAS XML environment: Premature end of data in tag a line 1"),
        (b'<environment xmlns="urn:other"/>', "must be an environment in namespace https://admin-shell.io/aas/3/0"),
        (b'<aas:environment xmlns:aas="https://admin-shell.io/aas/3/0"><aas:submodels><aas:submodel>'
         b"\n<aas:idShort>x</aas:idShort></aas:submodel></aas:submodels></aas:environment>",
         "aas:submodel on line 1 has no child aas:id"),
    ],
)
def test_strict_xml_errors(data: bytes, message: str) -> None:
    with pytest.raises(FormatError) as error:
        read_environment(data, "xml")
    assert message in str(error.value)


def test_xml_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file://{secret}">]>'
        '<aas:environment xmlns:aas="https://admin-shell.io/aas/3/0"><aas:submodels><aas:submodel>'
        "<aas:id>&e;</aas:id></aas:submodel></aas:submodels></aas:environment>"
    ).encode()
    with pytest.raises(FormatError) as error:
        read_environment(data, "xml")
    assert "TOP-SECRET" not in str(error.value)


def test_unknown_format() -> None:
    with pytest.raises(FormatError, match="unknown format 'yaml'"):
        read_environment(b"{}", "yaml")  # type: ignore[arg-type]
    with pytest.raises(FormatError, match="unknown format 'yaml'"):
        write_environment(Environment(), "yaml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filename", "content_type", "data", "expected"),
    [
        (None, None, b"PK\x03\x04rest", "aasx"),
        ("model.json", "application/xml", b"\xef\xbb\xbf  {}", "json"),  # the bytes decide
        (None, None, b"\n<?xml version='1.0'?><x/>", "xml"),
        (None, "application/asset-administration-shell-package+xml", b"", "aasx"),
        (None, "application/json; charset=utf-8", b"", "json"),
        (None, "text/xml", b"", "xml"),
        ("Plant.AASX", "application/octet-stream", b"", "aasx"),
        ("env.xml", None, b"", "xml"),
    ],
)
def test_guess_format(filename: str | None, content_type: str | None, data: bytes, expected: str) -> None:
    assert guess_format(filename, content_type, data) == expected


def test_guess_format_refuses_unknown_input() -> None:
    with pytest.raises(FormatError, match=r"cannot tell the format of notes\.txt"):
        guess_format("notes.txt", "text/plain", b"hello")


def test_collect_everything_with_referenced_files_only(twin: Twin) -> None:
    env = collect(twin)
    assert [len(env.shells), len(env.submodels), len(env.concept_descriptions)] == [1, 3, 1]
    assert env.files == {"/TestFile.pdf": ("application/pdf", PDF)}
    assert collect(twin, include_concept_descriptions=False).concept_descriptions == []


def test_collect_by_shell_brings_its_submodels_and_concepts(twin: Twin) -> None:
    extra = model.Submodel("urn:not-in-the-shell")
    twin.create(extra)
    env = collect(twin, shell_ids=[SHELL_ID])
    assert [shell.id for shell in env.shells] == [SHELL_ID]
    assert {submodel.id for submodel in env.submodels} == set(twin.submodels) - {"urn:not-in-the-shell"}
    assert [cd.id for cd in env.concept_descriptions] == ["https://example.org/Test_ConceptDescription"]


def test_collect_by_submodel(twin: Twin) -> None:
    env = collect(twin, submodel_ids=[TEST_SUBMODEL])
    assert env.shells == [] and [submodel.id for submodel in env.submodels] == [TEST_SUBMODEL]
    assert "/TestFile.pdf" in env.files
    only = collect(twin, submodel_ids=["http://example.org/Submodels/Assets/TestAsset/BillOfMaterial"])
    assert only.files == {}


def test_collect_unknown_id(twin: Twin) -> None:
    with pytest.raises(NotFound):
        collect(twin, submodel_ids=["urn:nope"])


def test_import_counts_and_persists(tmp_path: Path, twin: Twin) -> None:
    env = read_environment(write_environment(collect(twin), "json"), "json")
    env.files["/TestFile.pdf"] = ("application/pdf", PDF)
    store = SqliteStore(tmp_path / "s.sqlite3")
    target = Twin(store)
    target.create(model.Submodel(TEST_SUBMODEL, id_short="Old"))
    assert import_environment(target, env) == ImportSummary(created=4, replaced=1, files=1)
    assert target.submodel(TEST_SUBMODEL).id_short == "TestSubmodel"
    store.close()
    reopened = Twin(SqliteStore(tmp_path / "s.sqlite3"))
    assert canonical(collect(reopened)) == canonical(env)
    assert reopened.load_file("/TestFile.pdf") == ("application/pdf", PDF)


def test_bad_environment_leaves_twin_unchanged(twin: Twin) -> None:
    before = canonical(collect(twin))
    duplicate = Environment(submodels=[model.Submodel("urn:new"), model.Submodel("urn:new")])
    with pytest.raises(FormatError, match="holds Submodel 'urn:new' twice"):
        import_environment(twin, duplicate)
    wrong_kind = Environment(
        submodels=[model.Submodel("urn:new2"), model.Property("p", model.datatypes.Int)],  # type: ignore[list-item]
    )
    with pytest.raises(InvalidInput, match="Property is not a shell, submodel or concept description"):
        import_environment(twin, wrong_kind)
    bad_file = Environment(submodels=[model.Submodel("urn:new3")], files={"/f": ("text/plain", "str")})  # type: ignore[dict-item]
    with pytest.raises(FormatError, match="file '/f': expected"):
        import_environment(twin, bad_file)
    assert canonical(collect(twin)) == before
    assert twin.load_file("/f") is None


def test_failsafe_json_skips_defective_identifiables_and_unknown_keys() -> None:
    data = (b'{"extra": 1, "submodels": [{"modelType": "Submodel"}, {"modelType": "Submodel", "id": "urn:ok"},'
            b' {"modelType": "Submodel", "id": "urn:ok"}]}')
    env = read_environment(data, "json", failsafe=True)
    assert [submodel.id for submodel in env.submodels] == ["urn:ok"]


def test_json_with_a_byte_order_mark() -> None:
    env = read_environment(b'\xef\xbb\xbf{"submodels": [{"modelType": "Submodel", "id": "urn:bom"}]}', "json")
    assert [submodel.id for submodel in env.submodels] == ["urn:bom"]


def test_reads_3_0_xml_with_a_default_namespace() -> None:
    data = (
        b"<?xml version='1.0' encoding='utf-8'?>\n"
        b'<environment xmlns="https://admin-shell.io/aas/3/0"><submodels><submodel>'
        b"<idShort>Nameplate</idShort><id>urn:sm</id><submodelElements><property><idShort>Serial</idShort>"
        b"<valueType>xs:string</valueType><value>A-17</value></property></submodelElements>"
        b"</submodel></submodels></environment>"
    )
    submodel = read_environment(data, "xml").submodels[0]
    assert submodel.get_referable("Serial").value == "A-17"  # type: ignore[attr-defined]


def test_store_failure_mid_import_restores_the_twin(tmp_path: Path, twin: Twin) -> None:
    store = SqliteStore(tmp_path / "full.sqlite3", max_bytes=512 * 1024)  # a real SQLITE_FULL past 512 KiB
    target = Twin(store)
    target.create(model.Submodel(TEST_SUBMODEL, id_short="Old"))
    target.save_file("/TestFile.pdf", "application/pdf", b"old bytes")
    env = collect(twin)
    env.files["/full.bin"] = ("application/octet-stream", b"x" * 1024 * 1024)
    with pytest.raises(StorageFull, match="is full"):
        import_environment(target, env)
    assert list(target.submodels) == [TEST_SUBMODEL] and target.shells == {}
    assert target.submodel(TEST_SUBMODEL).id_short == "Old"
    assert target.load_file("/TestFile.pdf") == ("application/pdf", b"old bytes")
    target.close()
    reopened = Twin(SqliteStore(tmp_path / "full.sqlite3"))
    assert list(reopened.submodels) == [TEST_SUBMODEL] and reopened.submodel(TEST_SUBMODEL).id_short == "Old"


def test_unserializable_object_half_way_is_undone(twin: Twin) -> None:
    before = canonical(collect(twin))
    broken = model.Property("p", model.datatypes.Int, value=1)
    broken.semantic_id = object()  # type: ignore[assignment]
    env = Environment(submodels=[
        model.Submodel("urn:first-is-fine"),
        model.Submodel(TEST_SUBMODEL, id_short="Replacement"),
        model.Submodel("urn:broken", submodel_element=[broken]),
    ])
    with pytest.raises(InvalidInput, match="Submodel 'urn:broken' cannot be serialized"):
        import_environment(twin, env)
    assert canonical(collect(twin)) == before
    assert "urn:first-is-fine" not in twin.submodels
