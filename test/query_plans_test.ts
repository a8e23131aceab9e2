// Performance must not degrade as history accumulates. With 1,000,000
// finished sagas and 1,000,000 processed events kept (generated with SQL),
// every query the claim loop, intake, the admin API, the metrics scrape and
// the retention sweep run stays index-driven: no sequential scan of the big
// tables, and a bounded number of rows read, whatever the tables hold. The
// plans are the ones PostgreSQL really ran (auto_explain, actual rows).
import assert from "node:assert/strict";
import postgres from "postgres";
import {
  countPendingOutbox,
  getSaga,
  listOutbox,
  listSagas,
  operationalGauges,
  OUTBOX_STATUSES,
  SAGA_STATUSES,
  sagaCounts,
  sagaHistory,
} from "../src/db/admin_reads.ts";
import { claimSagas, idleCheck, releaseLeases, renewLeases } from "../src/db/claims.ts";
import {
  claimOutbox,
  insertSagas,
  pendingOutboxIds,
  requestCancels,
} from "../src/db/intake_queries.ts";
import {
  deleteFinishedSagas,
  deleteProcessedEvents,
  oldestFinishedAgeSeconds,
} from "../src/db/maintenance.ts";
import { persistTransitions } from "../src/db/transitions.ts";
import { stepTransition } from "./helpers/transitions.ts";
import {
  type ExplainedStatement,
  type PlanSession,
  planSession,
  rowsExamined,
  seqScans,
} from "./helpers/plans.ts";
import { type FreshDatabase, freshDatabase } from "../tooling/cluster/mod.ts";

const BIG = ["order_ledger", "outbox", "saga_history", "saga_step"] as const;
const FINISHED = 1_000_000;
const ME = "plans-test";

async function seed(url: string) {
  // A connection of its own: seeding takes longer than the product's statement timeout.
  const db = { sql: postgres(url, { max: 1, onnotice: () => {} }) };
  await db.sql.unsafe(`SET synchronous_commit = off`);
  // Seeding is not what is measured: no NOTIFY per generated event.
  await db.sql.unsafe(`ALTER TABLE outbox DISABLE TRIGGER USER`);
  // A month of finished sagas and their events; history and steps for one in ten.
  await db.sql.unsafe(`
    INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version, created_at,
      updated_at, finished_at)
    SELECT gen_random_uuid(), s, lower(s), '{}'::jsonb, 'order-saga@1', at, at, at
    FROM (SELECT CASE WHEN i % 10 = 0 THEN 'CANCELLED' ELSE 'COMPLETED' END AS s,
      now() - (i % 2592000) * interval '1 second' AS at
      FROM generate_series(1, ${FINISHED}) i) g`);
  await db.sql.unsafe(`
    INSERT INTO saga_history (order_id, event, to_state, at)
    SELECT order_id, 'OrderPlaced', state, created_at FROM order_ledger
    WHERE order_id < '1a000000-0000-0000-0000-000000000000'`);
  await db.sql.unsafe(`
    INSERT INTO saga_step (order_id, step, outcome, http_status)
    SELECT order_id, 'createOrder', 'ok', 201 FROM order_ledger
    WHERE order_id < '1a000000-0000-0000-0000-000000000000'`);
  await db.sql.unsafe(`
    INSERT INTO outbox (order_id, event_type, payload, status, processed_at, created_at)
    SELECT order_id, 'OrderPlaced', '{}'::jsonb, 'PROCESSED', created_at, created_at
    FROM order_ledger`);
  // What is live: running and parked sagas, pending and dead events.
  await db.sql.unsafe(`
    INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version, run_at,
      lease_owner, lease_until)
    SELECT gen_random_uuid(), CASE WHEN i % 10 = 0 THEN 'NEEDS_ATTENTION' ELSE 'RUNNING' END,
      CASE WHEN i % 3 = 0 THEN 'capturingPayment' ELSE 'reservingInventory' END, '{}'::jsonb,
      'order-saga@1', now() - interval '1 second',
      CASE WHEN i % 2 = 0 THEN 'someone' END,
      CASE WHEN i % 2 = 0 THEN now() + interval '1 minute' END
    FROM generate_series(1, 1000) i`);
  await db.sql.unsafe(`
    INSERT INTO outbox (order_id, event_type, payload, status)
    SELECT gen_random_uuid(), 'OrderPlaced', '{}'::jsonb,
      CASE WHEN i % 10 = 0 THEN 'DEAD' ELSE 'PENDING' END
    FROM generate_series(1, 200) i`);
  await db.sql.unsafe(`ALTER TABLE outbox ENABLE TRIGGER USER`);
  await db.sql.unsafe(`ANALYZE`);
  await db.sql.end({ timeout: 2 });
}

let shared: { db: FreshDatabase; session: PlanSession; someOrder: string } | undefined;
async function setup() {
  if (shared) return shared;
  const db = await freshDatabase();
  const started = Date.now();
  await seed(db.url);
  console.log(`seeded ${FINISHED} finished sagas and events in ${Date.now() - started} ms`);
  const [row] = await db.sql<{ order_id: string }[]>`
    SELECT order_id FROM order_ledger WHERE status = 'COMPLETED' LIMIT 1`;
  shared = { db, session: await planSession(db.url), someOrder: row!.order_id };
  return shared;
}

/** Runs `fn`, then checks every statement it ran: no seq scan of a big table, few rows read. */
async function assertIndexDriven(
  name: string,
  fn: Parameters<PlanSession["explain"]>[0],
  maxRows: number,
) {
  const { session } = await setup();
  const statements: ExplainedStatement[] = await session.explain(fn);
  assert.ok(statements.length > 0, `${name}: a plan was captured`);
  for (const s of statements) {
    assert.deepEqual(
      seqScans(s.plan, BIG),
      [],
      `${name}: no sequential scan\n${s.text}\n${JSON.stringify(s.plan, null, 1)}`,
    );
    const rows = rowsExamined(s.plan, BIG);
    assert.ok(rows <= maxRows, `${name}: ${rows} rows read (at most ${maxRows})\n${s.text}`);
  }
  return statements;
}

// One test per family, sharing the seeded database (seeding is the slow part).
Deno.test("with a million finished sagas and events kept, the claim loop's queries stay index-driven", async () => {
  await assertIndexDriven("claimSagas", (sql) => claimSagas(sql, ME, 256, 10_000), 2_000);
  await assertIndexDriven("claimOutbox", (sql) => claimOutbox(sql as never, 100), 1_000);
  await assertIndexDriven("idleCheck (next wake-up)", (sql) => idleCheck(sql, ME), 2_000);
  await assertIndexDriven(
    "renewLeases",
    async (sql) => {
      const ids = await sql<{ order_id: string }[]>`
        SELECT order_id FROM order_ledger WHERE status = 'RUNNING' LIMIT 100`;
      return renewLeases(sql, "someone", ids.map((r) => r.order_id), 10_000);
    },
    2_000,
  );
  await assertIndexDriven("releaseLeases", (sql) => releaseLeases(sql, "someone"), 2_000);
});

// Each transition finds its saga by order id. The instance's other leases
// (and, between vacuums, every lease it ever held: an index keeps dead
// entries until then) must not be read for it. Statistics gathered while
// nothing was leased (a quiet hour's ANALYZE) make every lease owner look
// as if it held no rows, and the planner looked sagas up by lease owner
// alone, reading all of the instance's leases for every transition: with a
// million sagas kept, a saga cost PostgreSQL 2 to 2.7 times the CPU.
Deno.test("…a batch of transitions reads only its own sagas' rows", async () => {
  await assertIndexDriven(
    "persistTransitions (50 sagas of a new instance leasing 200)",
    async (sql) => {
      // Statistics of a quiet moment (rolled back with the rest).
      await sql`UPDATE order_ledger SET lease_owner = NULL WHERE lease_owner IS NOT NULL`;
      await sql`ANALYZE order_ledger`;
      const rows = await sql<{ order_id: string; lease_epoch: string; revision: string }[]>`
        UPDATE order_ledger SET lease_owner = 'new-instance', lease_until = now() + interval '1 minute'
        WHERE order_id IN (
          SELECT order_id FROM order_ledger WHERE status = 'RUNNING' AND lease_owner IS NULL
          LIMIT 200)
        RETURNING order_id, lease_epoch, revision`;
      return persistTransitions(
        sql,
        rows.slice(0, 50).map((r) =>
          stepTransition({
            orderId: r.order_id,
            me: "new-instance",
            epoch: r.lease_epoch,
            revision: r.revision,
          })
        ),
      );
    },
    // Three lookups per saga (lock, busy check, update); the lease-taking update reads 200.
    1_000,
  );
});

Deno.test("…intake's queries stay index-driven", async () => {
  const { someOrder } = await setup();
  await assertIndexDriven(
    "insertSagas (a duplicate and a new one)",
    (sql) =>
      insertSagas(
        sql as never,
        [someOrder, crypto.randomUUID()].map((id, i) => ({
          order_id: id,
          state: "creatingOrder",
          snapshot: {},
          machine_version: "order-saga@1",
          event_type: "OrderPlaced",
          pending: null,
          source_event_id: String(i + 1),
          claim: true,
        })),
        ME,
        10_000,
      ),
    100,
  );
  await assertIndexDriven(
    "requestCancels",
    (sql) =>
      requestCancels(sql as never, [{
        order_id: someOrder,
        reason: "r",
        event_type: "OrderCancellationRequested",
        versions: ["order-saga@1"],
      }], ME),
    100,
  );
  await assertIndexDriven("pendingOutboxIds", (sql) => pendingOutboxIds(sql, 100), 1_000);
});

Deno.test("…the admin API's and the metrics scrape's queries stay index-driven", async () => {
  const { someOrder } = await setup();
  for (const statuses of [SAGA_STATUSES, ["COMPLETED"], ["NEEDS_ATTENTION"]] as const) {
    await assertIndexDriven(
      `listSagas ${statuses.join(",")}`,
      (sql) => listSagas(sql, { statuses, state: null, after: null, limit: 51 }),
      51 * statuses.length,
    );
  }
  await assertIndexDriven(
    "listSagas by state among unfinished sagas",
    (sql) =>
      listSagas(sql, {
        statuses: ["RUNNING", "NEEDS_ATTENTION"],
        state: "capturingPayment",
        after: null,
        limit: 51,
      }),
    2_000,
  );
  await assertIndexDriven("getSaga", (sql) => getSaga(sql, someOrder), 10);
  await assertIndexDriven("sagaHistory", (sql) => sagaHistory(sql, someOrder, 1000), 1000);
  await assertIndexDriven("countPendingOutbox", (sql) => countPendingOutbox(sql), 1_000);
  await assertIndexDriven("sagaCounts", (sql) => sagaCounts(sql), 100);
  await assertIndexDriven("operationalGauges", (sql) => operationalGauges(sql), 1_000);
  for (const status of OUTBOX_STATUSES) {
    await assertIndexDriven(
      `listOutbox ${status}`,
      (sql) => listOutbox(sql, { status, afterId: null, limit: 51 }),
      1_000,
    );
  }
  await assertIndexDriven(
    "oldestFinishedAgeSeconds",
    (sql) => oldestFinishedAgeSeconds(sql),
    10,
  );
});

Deno.test("…the retention sweep's statements stay index-driven", async () => {
  // 29 days: the oldest tenth or so of the seeded month is due.
  const retention = 29 * 24 * 3600;
  const statements = await assertIndexDriven(
    "deleteFinishedSagas",
    (sql) => deleteFinishedSagas(sql as never, retention, 500),
    5_000,
  );
  // The status counts' trigger (005) runs a nested statement of its own.
  assert.ok(statements.some((s) => /doomed/.test(s.text)));
  await assertIndexDriven(
    "deleteProcessedEvents",
    (sql) => deleteProcessedEvents(sql as never, retention, 500),
    2_000,
  );
  const { db, session } = await setup();
  await session.close();
  await db.drop();
});
