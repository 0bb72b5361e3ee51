"""Browsing the mirrored environment with a real asyncua client: layout, types, values, data types."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import pytest
from asyncua import Client, Node, ua
from basyx.aas import model
from basyx.aas.examples.data.example_aas import create_full_example
from basyx.aas.model import datatypes as xs

from tests.opcua.conftest import OPERATIONAL, SPEED_SEMANTIC_ID, i4aas_of, ns_of
from tests.ports import free_port
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua import OpcUaServer, OpcUaSettings
from twinbridge.server.opcua.ids import element_node_id, shell_node_id, submodel_node_id
from twinbridge.server.opcua.nodes import child_id

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _path(client: Client, *names: str) -> Node:
    """A node by BrowseNames; the last one, when it is "Value", is the I4AAS child."""
    ns, i4aas = await ns_of(client), await i4aas_of(client)
    return await client.nodes.objects.get_child([f"{i4aas if name == 'Value' else ns}:{name}" for name in names])


async def test_browse_from_environment_to_a_property_value_and_type(client: Client) -> None:
    speed = await _path(client, "AASEnvironment", "Machine1", "OperationalData", "Speed")
    i4aas = await i4aas_of(client)
    value = await speed.get_child(f"{i4aas}:Value")
    assert await value.read_value() == 12.5
    assert await value.read_data_type() == ua.NodeId(ua.ObjectIds.Double)
    value_type = await speed.get_child(f"{i4aas}:ValueType")
    assert await value_type.read_value() == 10  # AASValueTypeDataType.Double
    assert await value_type.read_data_type() == ua.NodeId(3004, i4aas)
    assert await (await speed.get_child(f"{i4aas}:IdShort")).read_value() == "Speed"
    assert await (await speed.get_child(f"{i4aas}:Category")).read_value() == "VARIABLE"
    assert await (await speed.get_child(f"{i4aas}:ModelingKind")).read_value() == 1  # Instance
    [entry] = await speed.get_referenced_nodes(ua.ObjectIds.HasDictionaryEntry)
    assert (await entry.read_browse_name()).Name == SPEED_SEMANTIC_ID
    assert await entry.read_type_definition() == ua.NodeId(1024, i4aas)  # AASIrdiConceptDescriptionType
    type_definition = client.get_node(await speed.read_type_definition())
    assert await type_definition.read_browse_name() == ua.QualifiedName("AASPropertyType", i4aas)
    assert (await speed.read_display_name()).Text == "Speed"


async def test_identifiables_expose_their_id_and_types(client: Client) -> None:
    ns, i4aas = await ns_of(client), await i4aas_of(client)
    shell = await _path(client, "AASEnvironment", "Machine1")
    identification = await shell.get_child(f"{i4aas}:Identification")
    assert await (await identification.get_child(f"{i4aas}:Id")).read_value() == "urn:twinbridge:test:aas:m1"
    assert await (await identification.get_child(f"{i4aas}:IdType")).read_value() == 1  # IRI
    asset = await shell.get_child(f"{i4aas}:Asset")
    assert await (await asset.get_child([f"{i4aas}:Identification", f"{i4aas}:Id"])).read_value() == "urn:asset:m1"
    assert await (await asset.get_child(f"{i4aas}:AssetKind")).read_value() == 1  # Instance
    submodel = await shell.get_child(f"{ns}:OperationalData")
    assert await (await submodel.get_child([f"{i4aas}:Identification", f"{i4aas}:Id"])).read_value() \
        == "urn:twinbridge:test:sm:m1:operational"
    assert await (await submodel.get_child(f"{i4aas}:ModelingKind")).read_value() == 1
    assert await submodel.get_child([f"{i4aas}:Administration"])
    names = {}
    for node in (shell, submodel):
        names[(await node.read_browse_name()).Name] = \
            (await client.get_node(await node.read_type_definition()).read_browse_name()).Name
    assert names == {"Machine1": "AASAssetAdministrationShellType", "OperationalData": "AASSubmodelType"}


async def test_data_types_follow_the_table(client: Client) -> None:
    ns, i4aas = await ns_of(client), await i4aas_of(client)
    submodel = await _path(client, "AASEnvironment", "Machine1", "OperationalData")
    expected = {
        "Count": (ua.VariantType.Int32, 7),
        "Running": (ua.VariantType.Boolean, True),
        "Label": (ua.VariantType.String, "press"),
        "Stamp": (ua.VariantType.DateTime, datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)),
        "Day": (ua.VariantType.String, "2026-05-17"),
    }
    for name, (variant_type, value) in expected.items():
        data_value = await (await submodel.get_child([f"{ns}:{name}", f"{i4aas}:Value"])).read_data_value()
        assert data_value.Value.VariantType == variant_type, name
        read = data_value.Value.Value
        if isinstance(read, datetime.datetime) and read.tzinfo is None:
            read = read.replace(tzinfo=datetime.UTC)
        assert read == value, name
    torque = await submodel.get_child([f"{ns}:Spindle", f"{ns}:Torque", f"{i4aas}:Value"])
    assert (await torque.read_data_value()).Value.VariantType == ua.VariantType.Float
    items = await (await submodel.get_child(f"{ns}:Temperatures")).get_children()
    names = {(await item.read_browse_name()).Name for item in items}
    assert {"[0]", "[1]"} <= names
    window = await submodel.get_child(f"{ns}:Window")
    assert await (await window.get_child(f"{i4aas}:Min")).read_value() == 1.0
    assert await (await window.get_child(f"{i4aas}:Max")).read_value() == 9.0


async def test_a_value_opc_ua_cannot_hold_gets_a_bad_status_not_a_crash(client: Client) -> None:
    huge = await _path(client, "AASEnvironment", "Machine1", "OperationalData", "Huge", "Value")
    data_value = await client.uaclient.read_attributes([huge.nodeid], ua.AttributeIds.Value)
    assert data_value[0].StatusCode.value == ua.StatusCodes.BadOutOfRange
    speed = await _path(client, "AASEnvironment", "Machine1", "OperationalData", "Speed", "Value")
    assert await speed.read_value() == 12.5


async def test_every_element_kind_of_the_full_example_is_mirrored(tmp_path: Path) -> None:
    twin = Twin()
    for obj in create_full_example():
        twin.create(obj)
    server = OpcUaServer(twin, OpcUaSettings(host="127.0.0.1", port=free_port()), tmp_path)
    await server.start()
    try:
        async with Client(server.endpoint_url, timeout=10) as client:
            ns, i4aas = await ns_of(client), await i4aas_of(client)
            submodel = await client.nodes.objects.get_child(
                [f"{ns}:AASEnvironment", f"{ns}:TestAssetAdministrationShell", f"{ns}:TestSubmodel"])
            kinds = {}
            for child in await submodel.get_children(refs=ua.ObjectIds.HasComponent):
                type_id = await child.read_type_definition()
                kinds[(await child.read_browse_name()).Name] = \
                    (await client.get_node(type_id).read_browse_name()).Name
            assert kinds["ExampleRelationshipElement"] == "AASRelationshipElementType"
            assert kinds["ExampleAnnotatedRelationshipElement"] == "AASAnnotatedRelationshipElementType"
            assert kinds["ExampleOperation"] == "AASOperationType"
            assert kinds["ExampleSubmodelCollection"] == "AASSubmodelElementCollectionType"
            collection = await submodel.get_child(f"{ns}:ExampleSubmodelCollection")
            inner = {}
            for child in await collection.get_children(refs=ua.ObjectIds.HasComponent):
                type_id = await child.read_type_definition()
                inner[(await child.read_browse_name()).Name] = \
                    (await client.get_node(type_id).read_browse_name()).Name
            assert inner["ExampleBlob"] == "AASBlobType"
            assert inner["ExampleFile"] == "AASFileType"
            assert inner["ExampleMultiLanguageProperty"] == "AASMultiLanguagePropertyType"
            assert inner["ExampleRange"] == "AASRangeType"
            assert inner["ExampleReferenceElement"] == "AASReferenceElementType"
            mlp = await collection.get_child([f"{ns}:ExampleMultiLanguageProperty", f"{i4aas}:Value"])
            texts = await mlp.read_value()
            assert {text.Locale for text in texts} >= {"en-US", "de"}
            keys = await collection.get_child([f"{ns}:ExampleReferenceElement", f"{i4aas}:Value", f"{i4aas}:Keys"])
            assert await keys.read_data_type() == ua.NodeId(3011, i4aas)  # AASKeyDataType
            read = await keys.read_value()
            assert [(key.Type.name, key.Local, key.IdType.name) for key in read][-1] == ("Property", True, "IdShort")
            assert read[-1].Value == "ExampleProperty"
            description = await (await collection.get_child(f"{ns}:ExampleRange")).read_description()
            assert description.Text and description.Locale
    finally:
        await server.stop()


async def test_a_browse_path_that_does_not_exist_answers_bad_no_match(client: Client) -> None:
    ns = await ns_of(client)
    path = ua.BrowsePath()
    path.StartingNode = client.nodes.objects.nodeid
    element = ua.RelativePathElement()
    element.ReferenceTypeId = ua.NodeId(ua.ObjectIds.HierarchicalReferences)
    element.IncludeSubtypes = True
    element.TargetName = ua.QualifiedName("NoSuchShell", ns)
    path.RelativePath = ua.RelativePath(Elements=[element])
    results = await client.uaclient.translate_browsepaths_to_nodeids([path])
    assert results[0].StatusCode.value == ua.StatusCodes.BadNoMatch


async def _supertypes(client: Client, node: Node) -> list[str]:
    chain = []
    while True:
        chain.append((await node.read_browse_name()).Name)
        parents = await node.get_references(ua.ObjectIds.HasSubtype, ua.BrowseDirection.Inverse)
        if not parents:
            return chain
        node = client.get_node(parents[0].NodeId)


async def _interfaces(node: Node) -> list[str]:
    return [(await target.read_browse_name()).Name for target in await node.get_referenced_nodes(
        ua.ObjectIds.HasInterface, ua.BrowseDirection.Forward)]


async def test_the_types_are_opc_30270s_in_its_namespace(client: Client) -> None:
    ns, i4aas = await ns_of(client), await i4aas_of(client)
    assert "http://opcfoundation.org/UA/I4AAS/" in await client.get_namespace_array()
    property_type = client.get_node(ua.NodeId(1013, i4aas))
    assert await _supertypes(client, property_type) == [
        "AASPropertyType", "AASSubmodelElementType", "BaseObjectType"]
    assert await _interfaces(client.get_node(ua.NodeId(1009, i4aas))) == ["IAASReferableType"]
    identifiable = client.get_node(ua.NodeId(1034, i4aas))
    assert await _supertypes(client, identifiable) == ["IAASIdentifiableType", "IAASReferableType",
                                                       "BaseInterfaceType", "BaseObjectType"]
    for number in (1002, 1005, 1006):  # shell, asset, submodel
        assert await _interfaces(client.get_node(ua.NodeId(number, i4aas))) == ["IAASIdentifiableType"]
    members: dict[tuple[int, str], Node] = {}
    for child in await property_type.get_children():
        name = await child.read_browse_name()
        members[(name.NamespaceIndex, name.Name)] = child
    assert set(members) == {(i4aas, name) for name in ("Value", "ValueId", "ValueType")}
    assert await members[(i4aas, "ValueType")].read_data_type() == ua.NodeId(3004, i4aas)
    value_types = client.get_node(ua.NodeId(3004, i4aas))
    strings = await (await value_types.get_child("0:EnumStrings")).read_value()
    assert [text.Text for text in strings][:3] == ["Boolean", "SByte", "Byte"]
    assert await _supertypes(client, value_types) == ["AASValueTypeDataType", "Enumeration", "BaseDataType"]
    key = client.get_node(ua.NodeId(3011, i4aas))
    definition = await key.read_data_type_definition()
    assert [field.Name for field in definition.Fields] == ["Type", "Local", "Value", "IdType"]
    for number, name in ((1004, "AASReferenceType"), (1010, "AASSubmodelElementCollectionType"),
                         (1012, "AASMultiLanguagePropertyType"), (1016, "AASBlobType"), (1017, "AASFileType"),
                         (1018, "AASRelationshipElementType"), (1019, "AASAnnotatedRelationshipElementType"),
                         (1020, "AASReferenceElementType"), (1022, "AASEntityType"), (1023, "AASRangeType"),
                         (1029, "AASIdentifierType"), (1030, "AASAdministrativeInformationType")):
        assert await client.get_node(ua.NodeId(number, i4aas)).read_browse_name() == ua.QualifiedName(name, i4aas)
    own_list = client.get_node(ua.NodeId("AASSubmodelElementListType", ns))
    assert (await _supertypes(client, own_list))[:3] == [
        "AASSubmodelElementListType", "AASOrderedSubmodelElementCollectionType", "AASSubmodelElementCollectionType"]


async def test_node_ids_have_exactly_one_reading() -> None:
    ids = {
        submodel_node_id(2, "urn:x#a"),
        element_node_id(2, "urn:x", "a"),
        submodel_node_id(2, "urn:x/IdShort"),
        child_id(submodel_node_id(2, "urn:x"), "IdShort"),
        child_id(element_node_id(2, "urn:x", "a"), "Value"),
        element_node_id(2, "urn:x", "a.Value"),
        shell_node_id(2, "urn:x"),
        submodel_node_id(2, "urn:x%23a"),
    }
    assert len(ids) == 8
    assert submodel_node_id(2, "https://example.org/sm/1").Identifier == "sm:https://example.org/sm/1"


async def test_a_model_reference_points_at_its_target_with_aas_reference(twin: Twin, client: Client) -> None:
    ns, i4aas = await ns_of(client), await i4aas_of(client)
    keys = (model.Key(model.KeyTypes.SUBMODEL, OPERATIONAL), model.Key(model.KeyTypes.PROPERTY, "Speed"))
    twin.add_element(OPERATIONAL, None, model.ReferenceElement("SpeedLink", model.ModelReference(keys, model.Property)))
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        try:
            value = await _path(client, "AASEnvironment", "Machine1", "OperationalData", "SpeedLink")
            value = await value.get_child(f"{i4aas}:Value")
            break
        except ua.UaError:
            assert asyncio.get_running_loop().time() < deadline, "the element was not mirrored"
            await asyncio.sleep(0.05)
    [target] = await value.get_referenced_nodes(ua.NodeId(4003, i4aas))  # AASReference
    speed = await _path(client, "AASEnvironment", "Machine1", "OperationalData", "Speed")
    assert target.nodeid == speed.nodeid
    [keys_node] = await value.get_children(refs=ua.ObjectIds.HasProperty)
    assert [(key.Type.name, key.Local, key.Value) for key in await keys_node.read_value()] == [
        ("Submodel", True, OPERATIONAL), ("Property", True, "Speed")]
    assert ns != i4aas


async def test_qualifiers_are_aas_qualifier_type_objects(twin: Twin, client: Client) -> None:
    i4aas = await i4aas_of(client)
    twin.add_element(OPERATIONAL, None, model.Property(
        "Limited", xs.Double, 1.0,
        qualifier=[model.Qualifier("SMT/Cardinality", xs.String, "One"), model.Qualifier("Limit", xs.Int, 90)]))
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        try:
            limited = await _path(client, "AASEnvironment", "Machine1", "OperationalData", "Limited")
            break
        except ua.UaError:
            assert asyncio.get_running_loop().time() < deadline, "the element was not mirrored"
            await asyncio.sleep(0.05)
    qualifiers = {}
    for child in await limited.get_children(refs=ua.ObjectIds.HasComponent):
        if await child.read_type_definition() == ua.NodeId(1032, i4aas):  # AASQualifierType
            values = [await (await child.get_child(f"{i4aas}:{name}")).read_value() for name in ("Value", "ValueType")]
            qualifiers[await (await child.get_child(f"{i4aas}:Type")).read_value()] = values
    assert qualifiers == {"SMT/Cardinality": ["One", 11], "Limit": [90, 5]}  # String, Int32


async def test_server_dictionaries_organize_one_entry_per_semantic_id(client: Client) -> None:
    i4aas = await i4aas_of(client)
    dictionaries = client.get_node(ua.ObjectIds.Dictionaries)
    entries = {(await entry.read_browse_name()).Name: entry
               for entry in await dictionaries.get_children(refs=ua.ObjectIds.Organizes)}
    speed = entries[SPEED_SEMANTIC_ID]
    assert await speed.read_type_definition() == ua.NodeId(1024, i4aas)
    [back] = await speed.get_referenced_nodes(ua.ObjectIds.Organizes, ua.BrowseDirection.Inverse)
    assert back.nodeid == dictionaries.nodeid
