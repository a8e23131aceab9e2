import assert from "node:assert/strict";
import { freshDatabase } from "./helpers/db.ts";
import { startOrchestratorProcess } from "./helpers/process.ts";

Deno.test("start-up logs the four SPEC lines in order and SIGTERM exits 0", async () => {
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
    assert.deepEqual([...order].sort((a, b) => a - b), order, "in SPEC order");
    // Migrations were applied by start-up itself.
    const rows = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM schema_migrations`;
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
