// `deno task inspect-relay [--port 8080]`: the local relay between the
// orchestrator (INSPECT_URL=ws://127.0.0.1:8080) or `deno task replay` and
// the Stately inspector in a browser. It is @statelyai/inspect's own server:
// a WebSocket hub that forwards every frame to the other clients (replaying
// the last 200 to a newcomer) and, over HTTP on the same port, a page that
// frames the inspector UI from stately.ai (so the browser needs internet;
// the orchestrator and the relay do not).
import { parseArgs } from "node:util";
import process from "node:process";
import { createInspectorServer } from "@statelyai/inspect/server";
import { complain, say } from "../cli_output.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "8080" } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  complain(`--port must be a port number, got "${values.port}"`);
  process.exit(2);
}

const server = createInspectorServer({ port, autoOpen: false });
say(`Inspector relay listening on port ${port}`);
say(`  orchestrator / replay:  INSPECT_URL=ws://127.0.0.1:${port}`);
say(`  browser:                http://localhost:${port}`);

const stop = () => {
  server.stop();
  process.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
