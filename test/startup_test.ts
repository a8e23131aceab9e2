import assert from "node:assert/strict";
import postgres from "postgres";
import { startEmbedded } from "../src/db/embedded.ts";
import { createLogger } from "../src/log.ts";
import {
  freePort,
  freshDatabase,
  type OrchestratorProcess,
  startOrchestratorProcess,
} from "../tooling/cluster/mod.ts";

Deno.test("start-up logs the four documented lines in order and SIGTERM exits 0", async () => {
  const db = await freshDatabase({ migrate: false });
  const p = startOrchestratorProcess({ DATABASE_URL: db.url, INSTANCE_ID: "startup-test" });
  try {
    await p.waitForLog((l) => l.msg === "Starting polling loop");
    const order = [
      "Orchestrator starting...",
      "Database connection verified",
      "Subscribed to order_events channel",
      "Starting polling loop",
    ].map((m) => p.logs.findIndex((l) => l.msg === m));
    assert.ok(order.every((i) => i >= 0), `all four lines logged: ${order}`);
    assert.deepEqual([...order].sort((a, b) => a - b), order, "in the documented order");
    // Migrations were applied by start-up itself.
    const rows = await db.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM orchestrator_migrations`;
    assert.ok((rows[0]?.n ?? 0) >= 1);
    p.kill("SIGTERM");
    const status = await p.status;
    assert.equal(status.code, 0);
  } finally {
    p.kill("SIGKILL");
    await p.status;
    await db.drop();
  }
});

for (
  const [variable, value] of [
    ["POLL_INTERVAL_MS", "soon"],
    ["ADMIN_PORT", "70000"],
    ["LOG_LEVEL", "loud"],
    ["ORDERS_SERVICE_URL", "not a url"],
    ["LEASE_MS", "-5"],
    ["DATABASE_PREPARED_STATEMENTS", "sometimes"],
    ["LISTEN_DATABASE_URL", "http://db.internal/shop"],
    ["DATABASE_SSLMODE", "maybe"],
  ] as const
) {
  Deno.test(`a bad ${variable} stops start-up with exit code 2 naming the variable`, async () => {
    const p = startOrchestratorProcess({
      [variable]: value,
      DATABASE_URL: "postgres://x@127.0.0.1:1/x",
    });
    const status = await p.status;
    assert.equal(status.code, 2);
    const fatal = p.logs.find((l) => l.level === 60);
    assert.ok(fatal, "a fatal log line");
    assert.match(fatal.msg, new RegExp(variable));
  });
}

Deno.test("a non-loopback ADMIN_HOST without ADMIN_TOKEN is refused with exit code 2", async () => {
  const p = startOrchestratorProcess({
    ADMIN_HOST: "0.0.0.0",
    DATABASE_URL: "postgres://x@127.0.0.1:1/x",
  });
  const status = await p.status;
  assert.equal(status.code, 2);
  assert.match(p.logs.find((l) => l.level === 60)!.msg, /ADMIN_TOKEN/);
});

Deno.test("an unreachable database exits non-zero after a bounded retry", async () => {
  const p = startOrchestratorProcess({ DATABASE_URL: "postgres://x:y@127.0.0.1:1/x" });
  const status = await p.status;
  assert.notEqual(status.code, 0);
  assert.ok(p.logs.some((l) => l.msg === "Database unreachable"));
});

/** A producer's outbox that cannot take 001: it has no status column. */
const UNMIGRATABLE_OUTBOX = `CREATE TABLE outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id uuid NOT NULL, event_type text NOT NULL, payload jsonb NOT NULL)`;

/** The process's exit status, or a kill after `ms` (so a hang fails the test instead of stalling it). */
async function exitWithin(p: OrchestratorProcess, ms: number): Promise<Deno.CommandStatus> {
  const timer = setTimeout(() => p.kill("SIGKILL"), ms);
  try {
    return await p.status;
  } finally {
    clearTimeout(timer);
  }
}

function assertMigrationFailureReported(p: OrchestratorProcess, status: Deno.CommandStatus) {
  assert.equal(status.code, 1);
  const fatal = p.logs.find((l) => l.level === 60);
  assert.ok(fatal, `a fatal log line:\n${p.other.join("\n")}`);
  assert.match(fatal.msg, /001_core\.sql/, "names the migration");
  assert.match(fatal.msg, /column "status" of relation "outbox" does not exist/, "and why");
  assert.equal(fatal.migration, "001_core.sql");
  assert.ok(
    !p.other.some((l) => /uncaught/i.test(l)),
    `no unhandled error:\n${p.other.join("\n")}`,
  );
}

Deno.test("a migration that cannot be applied stops start-up with a fatal line naming it, exit 1", async () => {
  const db = await freshDatabase({ migrate: false });
  try {
    await db.sql.unsafe(UNMIGRATABLE_OUTBOX);
    const p = startOrchestratorProcess({ DATABASE_URL: db.url });
    assertMigrationFailureReported(p, await exitWithin(p, 30_000));
    assert.ok(!p.logs.some((l) => l.msg === "Starting polling loop"));
  } finally {
    await db.drop();
  }
});

Deno.test("a failed migration stops the embedded PostgreSQL before exiting", async () => {
  const id = crypto.randomUUID().slice(0, 8);
  const dataDir = `.data/migrate-test-${id}`;
  const root = new URL("../", import.meta.url);
  const pgDir = new URL(`${dataDir}/pg`, root).pathname;
  const port = await freePort();
  // Prepare the data directory the process will start its server from.
  const server = await startEmbedded({ dataDir: pgDir, port, logger: createLogger("warn") });
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  await sql.unsafe(UNMIGRATABLE_OUTBOX);
  await sql.end({ timeout: 2 });
  await server.stop();
  try {
    const p = startOrchestratorProcess({
      DATABASE_URL: "",
      DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(port),
    });
    assertMigrationFailureReported(p, await exitWithin(p, 60_000));
    const probe = postgres(server.adminUrl, { max: 1, connect_timeout: 2, onnotice: () => {} });
    const answered = await probe`SELECT 1`.then(() => true, () => false);
    await probe.end({ timeout: 1 });
    assert.equal(answered, false, "the embedded server was stopped");
  } finally {
    await stopLeftoverServer(`${pgDir}/postmaster.pid`);
    await Deno.remove(new URL(dataDir, root), { recursive: true }).catch(() => {});
  }
});

/** If the process under test left its server running, stop it by the pid it recorded. */
async function stopLeftoverServer(pidFile: string): Promise<void> {
  const pid = Number((await Deno.readTextFile(pidFile).catch(() => "")).split("\n")[0]);
  if (!pid) return;
  try {
    Deno.kill(pid, "SIGINT"); // PostgreSQL's "fast" shutdown
  } catch { /* already gone */ }
}
