// Through a real transaction-pooling PgBouncer (Debian's 1.18): orders
// complete with DATABASE_PREPARED_STATEMENTS=false; session limits hold when
// the server sets them and are reported when it does not.
import assert from "node:assert/strict";
import pino from "pino";
import { freshDatabase, type TestDatabase } from "./helpers/db.ts";
import { placeOrder, sampleOrder, waitFor } from "./helpers/orders.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { type PgBouncer, startPgBouncer } from "./helpers/pgbouncer.ts";
import { connectDatabase } from "../src/db/client.ts";
import { startSandbox } from "../src/sandbox/mod.ts";

const SERVER_URL = Deno.env.get("DATABASE_URL")!;

/** The pool an orchestrator gets when its DATABASE_URL goes through PgBouncer. */
async function throughBouncer(
  db: TestDatabase,
  bouncer: PgBouncer,
  logs: Array<{ level: number; msg: string }> = [],
): Promise<TestDatabase> {
  const url = bouncer.through(db.url);
  const logger = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const sql = await connectDatabase(url, { max: 5, prepare: false, logger, attempts: 1 });
  return { url, sql, drop: () => sql.end({ timeout: 2 }) };
}

/** A role default for this test database only (ALTER ROLE … IN DATABASE), as an operator sets it. */
async function setRoleDefaults(db: TestDatabase, settings: Record<string, string>) {
  const [who] = await db.sql<{ role: string; database: string }[]>`
    SELECT current_user AS role, current_database() AS database`;
  const { role, database } = who!;
  for (const [name, value] of Object.entries(settings)) {
    await db.sql.unsafe(`ALTER ROLE "${role}" IN DATABASE "${database}" SET ${name} = '${value}'`);
  }
}

Deno.test("through a transaction-pooling PgBouncer with DATABASE_PREPARED_STATEMENTS=false, 100 orders complete, each effect once", async () => {
  const db = await freshDatabase();
  // Fewer server connections than the pool has clients: statements of one
  // client connection land on different server connections, as under load.
  const bouncer = await startPgBouncer({
    serverUrl: SERVER_URL,
    settings: { default_pool_size: "2" },
  });
  const sandbox = await startSandbox();
  const pooled = await throughBouncer(db, bouncer);
  const o = startInProcess(pooled, sandbox.urls, {
    DATABASE_PREPARED_STATEMENTS: "false",
    POLL_INTERVAL_MS: "500",
  });
  try {
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
  } finally {
    await o.stop();
    await pooled.drop();
    await sandbox.close();
    await bouncer.stop();
    await db.drop();
  }
});

Deno.test("session limits set on the role hold through PgBouncer: a locked row fails our statement after lock_timeout", async () => {
  const db = await freshDatabase();
  await setRoleDefaults(db, {
    lock_timeout: "300ms",
    statement_timeout: "5s",
    idle_in_transaction_session_timeout: "10s",
  });
  const bouncer = await startPgBouncer({ serverUrl: SERVER_URL });
  const logs: Array<{ level: number; msg: string }> = [];
  const pooled = await throughBouncer(db, bouncer, logs);
  const holder = await db.sql.reserve();
  try {
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
  } finally {
    await holder`ROLLBACK`.catch(() => {});
    holder.release();
    await pooled.drop();
    await bouncer.stop();
    await db.drop();
  }
});

Deno.test("when nothing bounds the waits behind PgBouncer, start-up says so and gives the statements that fix it", async () => {
  const db = await freshDatabase();
  const bouncer = await startPgBouncer({ serverUrl: SERVER_URL });
  // A pooler that lets our start-up parameters through but drops them.
  const dropping = await startPgBouncer({
    serverUrl: SERVER_URL,
    settings: {
      ignore_startup_parameters:
        "lock_timeout,statement_timeout,idle_in_transaction_session_timeout",
    },
  });
  const refusedLogs: Array<{ level: number; msg: string }> = [];
  const droppedLogs: Array<{ level: number; msg: string }> = [];
  const refused = await throughBouncer(db, bouncer, refusedLogs);
  const dropped = await throughBouncer(db, dropping, droppedLogs);
  try {
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
  } finally {
    await refused.drop();
    await dropped.drop();
    await bouncer.stop();
    await dropping.stop();
    await db.drop();
  }
});
