// `deno task replay <order_id> [--delay-ms 300]`: replays a saga's persisted
// history into the Stately inspector (DATABASE_URL, INSPECT_URL; start the
// relay first with `deno task inspect-relay`). The snapshots are recomputed
// from the saga's input and the events it recorded (src/inspect/replay.ts),
// and sent in order, paced by --delay-ms so the inspector animates the run.
import process from "node:process";
import { parseArgs } from "node:util";
import { createSql } from "../db/client.ts";
import { createLogger, flushLogger } from "../log.ts";
import { sagaVersion } from "../../machines/registry.ts";
import { loadSagaForReplay } from "../inspect/history_source.ts";
import { createInspection } from "../inspect/mod.ts";
import { inputFrom, replayFrames } from "../inspect/replay.ts";
import { complain, say } from "../cli_output.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function fail(message: string, code = 1): never {
  complain(message);
  process.exit(code);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { "delay-ms": { type: "string", default: "0" } },
});
const orderId = positionals[0] ?? "";
const delayMs = Number(values["delay-ms"]);
if (!UUID.test(orderId)) fail("Usage: deno task replay <order_id> [--delay-ms 300]", 2);
if (!Number.isInteger(delayMs) || delayMs < 0) fail("--delay-ms must be a whole number", 2);
const databaseUrl = Deno.env.get("DATABASE_URL");
if (!databaseUrl) fail("Set DATABASE_URL to the orchestrator's database", 2);
const url = Deno.env.get("INSPECT_URL") || "ws://127.0.0.1:8080";

const sql = createSql(databaseUrl, { max: 1 });
const saga = await loadSagaForReplay(sql, orderId.toLowerCase())
  .catch((err) => fail(`Could not read the saga: ${(err as Error).message}`))
  .finally(() => sql.end({ timeout: 2 }));
if (!saga) fail(`No saga "${orderId}" in the ledger`);
const version = sagaVersion(saga.machine_version);
if (!version) fail(`Machine version "${saga.machine_version}" is not registered in this release`);

const { machine, definition } = version;
const input = inputFrom(definition, saga.snapshot);
const replay = replayFrames(saga.history, machine, input);
for (const d of replay.divergences) complain(`Warning: ${d}`);

const logger = createLogger("warn");
const inspection = createInspection({ url, logger });
if (!(await inspection.ready(5_000))) {
  await inspection.stop();
  fail(`Inspector relay not reachable at ${url}: start it with \`deno task inspect-relay\``);
}
const secrets = definition.privacy?.secrets((saga.snapshot as { context?: unknown }).context) ?? [];
const ref = { orderId: saga.order_id, machine, secrets };
for (const frame of replay.frames) {
  inspection.sendSaga(ref, frame);
  // Pace by transition: an event frame starts the next step of the run.
  if (frame.type === "@xstate.snapshot" && delayMs > 0) {
    await new Promise((r) => setTimeout(r, delayMs));
  }
}
await inspection.stop();
await flushLogger(logger);
say(
  `Replayed ${saga.order_id} (${saga.machine_version}): ${replay.frames.length} frames, ` +
    `ended in ${saga.state} (${saga.status}) to ${url}`,
);
