// Independent OPC UA client (node-opcua) driven by tests/opcua/test_node_interop.py.
// Prints one JSON object per line: plant tree, the value read, "subscribed", the notification,
// the Property's OPC 30270 ValueType, and the status of a write.
// Usage: node interop.mjs <endpoint> <namespace uri> <I4AAS namespace uri> <user> <password>
import {
  AttributeIds,
  BrowseDirection,
  DataType,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  UserTokenType,
  makeBrowsePath,
} from "node-opcua-client";

const [endpoint, namespaceUri, i4aasUri, userName, password] = process.argv.slice(2);
const say = (event) => process.stdout.write(JSON.stringify(event) + "\n");

const client = OPCUAClient.create({
  endpointMustExist: false,
  securityMode: MessageSecurityMode.None,
  securityPolicy: SecurityPolicy.None,
  connectionStrategy: { maxRetry: 2, initialDelay: 200, maxDelay: 1000 },
});

async function resolve(session, path) {
  const result = await session.translateBrowsePath(makeBrowsePath("RootFolder", path));
  if (!result.targets || result.targets.length === 0) {
    throw new Error(`no node at ${path}: ${result.statusCode.name}`);
  }
  return result.targets[0].targetId;
}

async function organized(session, nodeId, depth) {
  const result = await session.browse({
    nodeId,
    referenceTypeId: "Organizes",
    browseDirection: BrowseDirection.Forward,
    includeSubtypes: false,
    resultMask: 63,
  });
  const tree = {};
  for (const reference of result.references || []) {
    tree[reference.browseName.name] = depth > 0 ? await organized(session, reference.nodeId, depth - 1) : {};
  }
  return tree;
}

await client.connect(endpoint);
const session = await client.createSession({ type: UserTokenType.UserName, userName, password });
try {
  const namespaces = await session.readNamespaceArray();
  const ns = namespaces.indexOf(namespaceUri);
  const i4aas = namespaces.indexOf(i4aasUri);
  const plant = await resolve(session, `/Objects/${ns}:Plant`);
  say({ event: "plant", tree: await organized(session, plant, 6) });

  const base = `/Objects/${ns}:AASEnvironment/${ns}:Machine1/${ns}:OperationalData`;
  const speed = await resolve(session, `${base}/${ns}:Speed/${i4aas}:Value`);
  const read = await session.read({ nodeId: speed, attributeId: AttributeIds.Value });
  say({ event: "read", value: read.value.value, type: DataType[read.value.dataType], status: read.statusCode.name });

  // OPC 30270: the Property's ValueType is an AASValueTypeDataType enumeration, named by its EnumStrings
  const valueType = await resolve(session, `${base}/${ns}:Speed/${i4aas}:ValueType`);
  const [typeValue, typeDataType] = await session.read([
    { nodeId: valueType, attributeId: AttributeIds.Value },
    { nodeId: valueType, attributeId: AttributeIds.DataType },
  ]);
  const dataTypeId = typeDataType.value.value;
  const [dataTypeName] = await session.read([{ nodeId: dataTypeId, attributeId: AttributeIds.BrowseName }]);
  const enumStrings = await session.translateBrowsePath(
    { startingNode: dataTypeId, relativePath: { elements: [{ targetName: { namespaceIndex: 0, name: "EnumStrings" } }] } });
  const strings = await session.read({ nodeId: enumStrings.targets[0].targetId, attributeId: AttributeIds.Value });
  const typeNode = await session.read({ nodeId: await resolve(session, `${base}/${ns}:Speed`),
                                        attributeId: AttributeIds.NodeId });
  const typeDefinition = await session.browse({
    nodeId: typeNode.value.value, referenceTypeId: "HasTypeDefinition", browseDirection: BrowseDirection.Forward,
    resultMask: 63 });
  say({
    event: "valueType",
    i4aasIndex: i4aas,
    dataType: `${dataTypeName.value.value.namespaceIndex}:${dataTypeName.value.value.name}`,
    dataTypeId: dataTypeId.toString(),
    value: typeValue.value.value,
    name: strings.value.value[typeValue.value.value].text,
    typeDefinition: typeDefinition.references[0].nodeId.toString(),
  });

  const subscription = await session.createSubscription2({
    requestedPublishingInterval: 50,
    requestedMaxKeepAliveCount: 20,
    requestedLifetimeCount: 200,
    publishingEnabled: true,
  });
  const item = await subscription.monitor(
    { nodeId: speed, attributeId: AttributeIds.Value },
    { samplingInterval: 0, queueSize: 1, discardOldest: true },
    TimestampsToReturn.Both,
  );
  const changed = new Promise((done) => {
    item.on("changed", (dataValue) => {
      if (dataValue.value.value !== read.value.value) {
        done(dataValue);
      }
    });
  });
  say({ event: "subscribed" });
  const notified = await changed;
  say({
    event: "notified",
    value: notified.value.value,
    status: notified.statusCode.name,
    sourceTimestamp: notified.sourceTimestamp ? notified.sourceTimestamp.toISOString() : null,
  });
  await subscription.terminate();

  const label = await resolve(session, `${base}/${ns}:Label/${i4aas}:Value`);
  const written = await session.write({
    nodeId: label,
    attributeId: AttributeIds.Value,
    value: { value: { dataType: DataType.String, value: "from-node-opcua" } },
  });
  const mismatch = await session.write({
    nodeId: label,
    attributeId: AttributeIds.Value,
    value: { value: { dataType: DataType.Double, value: 1.5 } },
  });
  say({ event: "written", status: written.name, mismatch: mismatch.name });
} finally {
  await session.close();
  await client.disconnect();
}
