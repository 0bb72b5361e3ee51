// node-opcua's historyRead against twinbridge, driven by tests/history/test_opcua_history.py.
// Usage: node node_history.mjs <endpoint> <nodeId> <start ISO> <end ISO> <processing interval ms>
// Prints one JSON line: the raw values (value, source timestamp, status) and the 10 s averages.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

// node-opcua-client is installed once for the OPC UA tests, in tests/opcua/node.
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "opcua", "node", "package.json"));
const { AggregateFunction, MessageSecurityMode, OPCUAClient, SecurityPolicy } = require("node-opcua-client");

const [endpoint, nodeId, start, end, interval] = process.argv.slice(2);
const client = OPCUAClient.create({
  endpointMustExist: false,
  securityMode: MessageSecurityMode.None,
  securityPolicy: SecurityPolicy.None,
  connectionStrategy: { maxRetry: 2, initialDelay: 200, maxDelay: 1000 },
});
await client.connect(endpoint);
const session = await client.createSession();
const raw = await session.readHistoryValue(nodeId, new Date(start), new Date(end));
const averages = await session.readAggregateValue(
  { nodeId }, new Date(start), new Date(end), AggregateFunction.Average, Number(interval));
process.stdout.write(JSON.stringify({
  event: "history",
  status: raw.statusCode.name,
  raw: raw.historyData.dataValues.map((dv) => [dv.value.value, dv.sourceTimestamp.toISOString(), dv.statusCode.name]),
  averageStatus: averages.statusCode.name,
  averages: averages.historyData.dataValues.map((dv) => dv.value.value),
}) + "\n");
await session.close();
await client.disconnect();
