// Through a real transaction-pooling PgBouncer (Debian's 1.18): orders
// complete with DATABASE_PREPARED_STATEMENTS=false; LISTEN through it is
// caught by its probe (logged, in /readyz, polling carries on);
// LISTEN_DATABASE_URL brings NOTIFY pick-up back; session limits hold when
// the server sets them and are reported when it does not.
import assert from "node:assert/strict";
import pino from "pino";
import { placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { type PgBouncer, startPgBouncer } from "./helpers/pgbouncer.ts";
import { connectDatabase, type Sql } from "../src/db/client.ts";
import { startListener } from "../src/db/listener.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import {
  type FreshDatabase,
  freshDatabase,
  type OrchestratorProcess,
  startOrchestratorProcess,
} from "../tooling/cluster/mod.ts";

const SERVER_URL = Deno.env.get("DATABASE_URL")!;

/** The pool an orchestrator gets when its DATABASE_URL goes through PgBouncer. */
async function throughBouncer(
  db: FreshDatabase,
  bouncer: PgBouncer,
  logs: Array<{ level: number; msg: string }> = [],
): Promise<FreshDatabase> {
  const url = bouncer.through(db.url);
  const logger = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const sql = await connectDatabase(url, { max: 5, prepare: false, logger, attempts: 1 });
  return { name: db.name, url, sql, drop: () => sql.end({ timeout: 2 }) };
}

function adminUrl(p: OrchestratorProcess): Promise<string> {
  return p.waitForLog((l) => l.msg === "Admin API listening").then((l) => String(l.url));
}

async function readyz(p: OrchestratorProcess) {
  const res = await fetch(`${await adminUrl(p)}/readyz`);
  return { status: res.status, body: await res.json() };
}

/** Outbox insert committed → the saga's ledger row exists (claimed), in ms. */
async function pickUpMs(db: FreshDatabase): Promise<number> {
  const order = sampleOrder();
  await placeOrder(db.sql, order);
  const committed = performance.now();
  await waitFor(async () => {
    const [r] = await db.sql`SELECT 1 FROM order_ledger WHERE order_id = ${order.order_id}`;
    return r;
  }, { intervalMs: 2, timeoutMs: 30_000, what: "the saga claimed" });
  const ms = performance.now() - committed;
  await waitForStatus(db.sql, order.order_id, ["COMPLETED"]);
  return ms;
}

/**
 * Runs `body`; what it registered with `defer` is undone afterwards, newest
 * first, also when it fails half-way (no PgBouncer left running).
 */
async function withCleanup(
  body: (defer: (undo: () => Promise<unknown>) => void) => Promise<void>,
): Promise<void> {
  const undo: Array<() => Promise<unknown>> = [];
  const errors: unknown[] = [];
  try {
    await body((f) => undo.unshift(f));
  } catch (err) {
    errors.push(err);
  }
  for (const f of undo) await f().catch((err) => errors.push(err));
  if (errors.length > 0) throw errors[0];
}

/** A role default for this test database only (ALTER ROLE … IN DATABASE), as an operator sets it. */
async function setRoleDefaults(db: FreshDatabase, settings: Record<string, string>) {
  const [who] = await db.sql<{ role: string; database: string }[]>`
    SELECT current_user AS role, current_database() AS database`;
  const { role, database } = who!;
  for (const [name, value] of Object.entries(settings)) {
    await db.sql.unsafe(`ALTER ROLE "${role}" IN DATABASE "${database}" SET ${name} = '${value}'`);
  }
}

Deno.test("through a transaction-pooling PgBouncer with DATABASE_PREPARED_STATEMENTS=false, 100 orders complete, each effect once", async () => {
  await withCleanup(async (defer) => {
    const db = await freshDatabase();
    defer(() => db.drop());
    // Fewer server connections than the pool has clients: statements of one
    // client connection land on different server connections, as under load.
    const bouncer = await startPgBouncer({
      serverUrl: SERVER_URL,
      settings: { default_pool_size: "2" },
    });
    defer(() => bouncer.stop());
    const sandbox = await startSandbox();
    defer(() => sandbox.close());
    const pooled = await throughBouncer(db, bouncer);
    defer(() => pooled.drop());
    const o = startInProcess(pooled, sandbox.urls, {
      DATABASE_PREPARED_STATEMENTS: "false",
      LISTEN_DATABASE_URL: db.url,
      POLL_INTERVAL_MS: "500",
    });
    defer(() => o.stop());
    const orders = Array.from({ length: 100 }, () => sampleOrder());
    await Promise.all(orders.map((order) => placeOrder(db.sql, order)));
    await waitFor(async () => {
      const [r] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM order_ledger WHERE status = 'COMPLETED'`;
      return r?.n === 100;
    }, { timeoutMs: 30_000, what: `100 sagas completed\n${bouncer.log().slice(-2000)}` });
    assert.equal(sandbox.orders.stats({ log: false }).totals.created, 100);
    assert.equal(sandbox.payments.stats({ log: false }).totals.captured, 100);
    assert.equal(sandbox.orders.stats({ log: false }).totals.confirmed, 100);
  });
});

Deno.test("LISTEN through PgBouncer: the probe catches it, the log and /readyz say why, and polling completes orders", async () => {
  const db = await freshDatabase();
  const bouncer = await startPgBouncer({ serverUrl: SERVER_URL });
  const sandbox = await startSandbox();
  const p = startOrchestratorProcess({
    DATABASE_URL: bouncer.through(db.url),
    DATABASE_PREPARED_STATEMENTS: "false",
    // Migrations need a session a transaction pooler cannot give (freshDatabase applied them).
    MIGRATE: "false",
    POLL_INTERVAL_MS: "500",
    INSTANCE_ID: "pgbouncer-listen",
    ...sandbox.env,
  });
  try {
    await p.waitForLog((l) => l.msg === "Starting polling loop");
    const warning = p.logs.find((l) => l.level === 40 && /^LISTEN unavailable/.test(l.msg));
    assert.ok(warning, `a LISTEN warning:\n${p.logs.map((l) => l.msg).join("\n")}`);
    assert.match(warning.msg, /probe notification did not arrive within 2000 ms/);
    assert.match(warning.msg, /LISTEN_DATABASE_URL/);
    assert.match(warning.msg, /polling every 500 ms/);
    // The documented start-up order, with the warning in place of "Subscribed…".
    const order = [
      "Orchestrator starting...",
      "Database connection verified",
      warning.msg,
      "Starting polling loop",
    ].map((m) => p.logs.findIndex((l) => l.msg === m));
    assert.ok(order.every((i) => i >= 0), `all logged: ${order}`);
    assert.deepEqual([...order].sort((a, b) => a - b), order, "in order");
    assert.ok(!p.logs.some((l) => l.msg === "Subscribed to order_events channel"));

    const ready = await readyz(p);
    assert.equal(ready.status, 200, "polling only is still ready");
    assert.equal(ready.body.listen, false);
    assert.match(ready.body.listen_reason, /probe notification did not arrive/);

    const latencies = [];
    for (let i = 0; i < 3; i++) latencies.push(await pickUpMs(db));
    console.log(
      `pick-up with LISTEN through PgBouncer (polling every 500 ms), ms: ${
        latencies.map((l) => l.toFixed(0)).join(", ")
      }`,
    );
    p.kill("SIGTERM");
    assert.equal((await p.status).code, 0);
  } finally {
    p.kill("SIGKILL");
    await p.status;
    await sandbox.close();
    await bouncer.stop();
    await db.drop();
  }
});

Deno.test("LISTEN_DATABASE_URL direct, DATABASE_URL through PgBouncer: migrations and LISTEN use it, and NOTIFY pick-up is back to milliseconds", async () => {
  // Not migrated: start-up migrates over the direct connection (a pooler cannot hold its session).
  const db = await freshDatabase({ migrate: false });
  const bouncer = await startPgBouncer({ serverUrl: SERVER_URL });
  const sandbox = await startSandbox();
  const p = startOrchestratorProcess({
    DATABASE_URL: bouncer.through(db.url),
    DATABASE_PREPARED_STATEMENTS: "false",
    LISTEN_DATABASE_URL: db.url,
    // Only NOTIFY can explain a pick-up well under this.
    POLL_INTERVAL_MS: "10000",
    INSTANCE_ID: "pgbouncer-direct-listen",
    ...sandbox.env,
  });
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
    const subscribed = p.logs[order[2]!]!;
    const ready = await readyz(p);
    assert.equal(ready.body.listen, true);
    assert.equal(ready.body.listen_reason, undefined);

    const latencies = [];
    for (let i = 0; i < 5; i++) latencies.push(await pickUpMs(db));
    console.log(
      `LISTEN probe round trip ${subscribed.probe_ms} ms; NOTIFY pick-up through PgBouncer ` +
        `with LISTEN_DATABASE_URL (poll 10 s), ms: ${
          latencies.map((l) => l.toFixed(1)).join(", ")
        }`,
    );
    assert.ok(Math.max(...latencies) < 1000, `all under 1 s: ${latencies}`);
    p.kill("SIGTERM");
    assert.equal((await p.status).code, 0);
  } finally {
    p.kill("SIGKILL");
    await p.status;
    await sandbox.close();
    await bouncer.stop();
    await db.drop();
  }
});

Deno.test("session limits set on the role hold through PgBouncer: a locked row fails our statement after lock_timeout", async () => {
  await withCleanup(async (defer) => {
    const db = await freshDatabase();
    defer(() => db.drop());
    await setRoleDefaults(db, {
      lock_timeout: "300ms",
      statement_timeout: "5s",
      idle_in_transaction_session_timeout: "10s",
    });
    const bouncer = await startPgBouncer({ serverUrl: SERVER_URL });
    defer(() => bouncer.stop());
    const logs: Array<{ level: number; msg: string }> = [];
    const pooled = await throughBouncer(db, bouncer, logs);
    defer(() => pooled.drop());
    const holder = await db.sql.reserve();
    defer(async () => {
      await holder`ROLLBACK`.catch(() => {});
      holder.release();
    });
    assert.ok(!logs.some((l) => l.level >= 40), `no warning: ${JSON.stringify(logs)}`);
    assert.ok(logs.some((l) => /Session limits come from the server/.test(l.msg)));
    const order = sampleOrder();
    await placeOrder(db.sql, order);
    await holder`BEGIN`;
    await holder`SELECT 1 FROM outbox WHERE order_id = ${order.order_id} FOR UPDATE`;
    const t0 = performance.now();
    const err = await pooled.sql`
      UPDATE outbox SET attempts = attempts WHERE order_id = ${order.order_id}`
      .then(() => undefined, (e) => e);
    const ms = performance.now() - t0;
    console.log(`blocked statement through PgBouncer failed after ${ms.toFixed(0)} ms: ${err}`);
    assert.equal(err?.code, "55P03", `lock_not_available: ${err}`);
    assert.ok(ms >= 250 && ms < 2000, `bounded by lock_timeout (300 ms): ${ms}`);
  });
});

Deno.test("when nothing bounds the waits behind PgBouncer, start-up says so and gives the statements that fix it", async () => {
  await withCleanup(async (defer) => {
    const db = await freshDatabase();
    defer(() => db.drop());
    const bouncer = await startPgBouncer({ serverUrl: SERVER_URL });
    defer(() => bouncer.stop());
    // A pooler that lets our start-up parameters through but drops them.
    const dropping = await startPgBouncer({
      serverUrl: SERVER_URL,
      settings: {
        ignore_startup_parameters:
          "lock_timeout,statement_timeout,idle_in_transaction_session_timeout",
      },
    });
    defer(() => dropping.stop());
    const refusedLogs: Array<{ level: number; msg: string }> = [];
    const droppedLogs: Array<{ level: number; msg: string }> = [];
    const refused = await throughBouncer(db, bouncer, refusedLogs);
    defer(() => refused.drop());
    const dropped = await throughBouncer(db, dropping, droppedLogs);
    defer(() => dropped.drop());
    for (
      const [logs, cause] of [[refusedLogs, /refused them/], [droppedLogs, /dropped/]] as const
    ) {
      const warning = logs.find((l) => l.level === 40);
      assert.ok(warning, `a warning: ${JSON.stringify(logs)}`);
      assert.match(
        warning.msg,
        /lock_timeout, statement_timeout, idle_in_transaction_session_timeout are 0/,
      );
      assert.match(warning.msg, cause);
      assert.match(
        warning.msg,
        /ALTER ROLE "[^"]+" IN DATABASE "t_[0-9a-f]+" SET lock_timeout = '2000ms';/,
      );
    }
    // The pool works all the same.
    assert.deepEqual([...await refused.sql`SELECT 1 AS one`], [{ one: 1 }]);
  });
});

Deno.test("a LISTEN that failed its probe is probed again, and is up once the path is fixed", async () => {
  const db = await freshDatabase({ migrate: false });
  const bouncer = await startPgBouncer({ serverUrl: SERVER_URL });
  const events: string[] = [];
  const listener = startListener(bouncer.through(db.url), {
    onNotify: (payload) => events.push(`notify ${payload}`),
    onUp: () => events.push("up"),
    onDown: (reason) => events.push(`down ${reason}`),
  }, { probeSql: db.sql as Sql, probeTimeoutMs: 300, reprobeIntervalMs: 200 });
  try {
    await waitFor(() => events.length > 0, { what: "the first probe's verdict" });
    assert.match(events[0]!, /^down LISTEN connected but a probe notification did not arrive/);
    // The operator switches the pool to session mode: LISTEN keeps its server connection.
    await bouncer.reconfigure({ pool_mode: "session" });
    await waitFor(() => events.includes("up"), {
      what: "LISTEN up after the fix",
      timeoutMs: 10_000,
    });
    assert.ok(!events.some((e) => e.startsWith("notify")), `probes are never work: ${events}`);
    await db.sql`SELECT pg_notify('order_events', '42')`;
    await waitFor(() => events.includes("notify 42"), { what: "a real notification" });
  } finally {
    await listener.stop();
    await bouncer.stop();
    await db.drop();
  }
});
