// The wake-up gate (migrations 004 and 010): producers notify only while an
// orchestrator waits idle, so a busy orchestrator costs their commits
// nothing; an idle one still hears of an insert at once. A real second
// session listens on order_events as any other subscriber would.
import assert from "node:assert/strict";
import postgres from "postgres";
import { placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import { type FreshDatabase, freshDatabase } from "../tooling/cluster/mod.ts";
import type { Sql } from "../src/db/client.ts";
import { armWakeup, disarmWakeup, wakeupArmed } from "../src/db/wakeup_gate.ts";

const armed = (db: FreshDatabase) => wakeupArmed(db.sql);

/** Another subscriber to order_events, recording every payload it receives. */
async function listener(db: FreshDatabase) {
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  const payloads: string[] = [];
  await sql.listen("order_events", (p) => payloads.push(p));
  return { payloads, close: () => sql.end({ timeout: 1 }) };
}

/**
 * Inserts an event through `via` (by default the test's own pool; a producer's
 * session may lack SELECT, so the id is read back separately) and returns its id.
 */
async function insertEvent(
  db: FreshDatabase,
  type = "SomethingElse",
  via: Sql = db.sql,
): Promise<string> {
  const id = crypto.randomUUID();
  await via`INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${id}, ${type}, ${via.json({ order_id: id })})`;
  const [row] = await db.sql<{ id: string }[]>`SELECT id FROM outbox WHERE order_id = ${id}`;
  return row!.id;
}

/** Waits for a marker NOTIFY sent now: once it arrives, one for `id` would have too. */
async function heardBefore(db: FreshDatabase, other: { payloads: string[] }, id: string) {
  const marker = `marker:${crypto.randomUUID()}`;
  await db.sql`SELECT pg_notify('order_events', ${marker})`;
  await waitFor(() => other.payloads.includes(marker));
  return other.payloads.includes(id);
}

Deno.test("producers notify (event id as payload) only while the gate is armed", async () => {
  const db = await freshDatabase();
  const other = await listener(db);
  try {
    assert.equal(await armed(db), true, "armed until an orchestrator says it is busy");
    // Unlogged where the server can (15 on): opening and closing it writes no WAL.
    const [gate] = await db.sql<{ persistence: string; unloggedPossible: boolean }[]>`
      SELECT relpersistence AS persistence,
        current_setting('server_version_num')::int >= 150000 AS "unloggedPossible"
      FROM pg_class WHERE relname = 'orchestrator_wakeup_gate'`;
    assert.equal(gate?.persistence, gate?.unloggedPossible ? "u" : "p");
    const heard = await insertEvent(db);
    await waitFor(() => other.payloads.includes(heard), { what: "the notification" });

    await disarmWakeup(db.sql);
    assert.equal(await armed(db), false);
    const silent = await insertEvent(db);
    assert.ok(!await heardBefore(db, other, silent), "no notification while disarmed");

    await armWakeup(db.sql);
    const again = await insertEvent(db);
    await waitFor(() => other.payloads.includes(again), { what: "notify once armed again" });

    // A gate never set (a fresh or restored sequence) errs on the side of notifying.
    await disarmWakeup(db.sql);
    await db.sql`ALTER SEQUENCE orchestrator_wakeup_gate RESTART`;
    assert.equal(await armed(db), true);
    const after = await insertEvent(db);
    await waitFor(() => other.payloads.includes(after), { what: "notify with the gate never set" });
  } finally {
    await other.close();
    await db.drop();
  }
});

Deno.test("a producer's role with nothing but INSERT on outbox sees the gate as it is", async () => {
  const db = await freshDatabase();
  const other = await listener(db);
  const role = `producer_${crypto.randomUUID().slice(0, 8)}`;
  const session = await db.sql.reserve();
  try {
    await db.sql.unsafe(`CREATE ROLE ${role} NOLOGIN`);
    await db.sql.unsafe(`GRANT USAGE ON SCHEMA public TO ${role}`);
    await db.sql.unsafe(`GRANT INSERT ON outbox TO ${role}`);
    await session.unsafe(`SET ROLE ${role}`);
    const insertAsProducer = () => insertEvent(db, "SomethingElse", session);
    // Without read access to the gate, PostgreSQL would refuse the insert
    // (before 17) or read the gate as never set and always notify (17 on).
    await disarmWakeup(db.sql);
    const silent = await insertAsProducer();
    assert.ok(!await heardBefore(db, other, silent), "no notification while disarmed");

    await armWakeup(db.sql);
    const heard = await insertAsProducer();
    await waitFor(() => other.payloads.includes(heard), { what: "the notification once armed" });
  } finally {
    await session.unsafe("RESET ROLE").catch(() => {});
    session.release();
    await other.close();
    await db.sql.unsafe(`DROP OWNED BY ${role}`).catch(() => {});
    await db.sql.unsafe(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    await db.drop();
  }
});

Deno.test("an orchestrator disarms the gate while a cycle runs and arms it when it goes idle", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const o = startInProcess(db, sandbox.urls, {
    POLL_INTERVAL_MS: "60000",
    DB_LOCK_TIMEOUT_MS: "3000",
  });
  const other = await listener(db);
  try {
    await waitFor(() =>
      o.listening() &&
      o.orchestrator.supervisor.actor.getSnapshot().matches({ running: { work: "idle" } }), {
      what: "LISTEN up and the supervisor idle",
    });
    await waitFor(async () => await armed(db) === true, { what: "armed once idle" });

    // Make the next cycle slow after its intake commits: the saga claim waits on a table lock.
    const session = await db.sql.reserve();
    await session`BEGIN`;
    await session`LOCK TABLE order_ledger IN ACCESS EXCLUSIVE MODE`;
    try {
      // Dead-lettered by intake without touching the ledger: intake commits, the claim waits.
      const first = await insertEvent(db, "UnknownEvent");
      await waitFor(async () => {
        const [r] = await db.sql<
          { status: string }[]
        >`SELECT status FROM outbox WHERE id = ${first}`;
        return r?.status === "DEAD";
      }, { what: "the cycle's intake to commit" });
      assert.equal(await armed(db), false, "disarmed while the cycle is busy");
      const during = await insertEvent(db, "UnknownEvent");
      assert.ok(
        !await heardBefore(db, other, during),
        "a busy orchestrator costs producers no NOTIFY",
      );
    } finally {
      await session`COMMIT`;
      session.release();
    }
    // The event inserted while busy is found without a notification, then the gate re-arms.
    await waitFor(async () => {
      const [r] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM outbox WHERE status = 'PENDING'`;
      return r?.n === 0;
    }, { what: "the silent event to be applied", timeoutMs: 10_000 });
    await waitFor(async () => await armed(db) === true, { what: "armed again once idle" });

    // And an idle orchestrator still wakes at once.
    const order = sampleOrder();
    await placeOrder(db.sql, order);
    await waitForStatus(db.sql, order.order_id, ["COMPLETED"], 5_000);
  } finally {
    await other.close();
    await o.stop();
    await sandbox.close();
    await db.drop();
  }
});
