// GET /sagas/counts and the counters behind it (migration 005): always equal
// to count(*) by status, whatever sagas did (complete, cancel, park, retry)
// and however rows went (batch inserts, plain DELETEs as retention does,
// TRUNCATE); untouched by transitions that keep the status; initialised from
// the rows an existing installation holds.
import assert from "node:assert/strict";
import { createAdminApp } from "../../src/admin/app.ts";
import type { Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { placeOrder, sampleOrder, waitForStatus } from "../helpers/orders.ts";
import { harness, settled } from "../helpers/saga_assert.ts";
import { freshDatabase } from "../../tooling/cluster/mod.ts";

const STATUSES = ["RUNNING", "COMPLETED", "CANCELLED", "NEEDS_ATTENTION"] as const;

/** count(*) by status, every status present (0 when none). */
async function counted(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`
    SELECT status, count(*)::int AS n FROM order_ledger GROUP BY status`;
  const out: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const r of rows) out[r.status] = r.n;
  return out;
}

async function routeCounts(sql: Sql) {
  const res = await createAdminApp({ sql, listening: () => true }).request("/sagas/counts");
  assert.equal(res.status, 200);
  return await res.json();
}

async function assertCountsMatch(sql: Sql, when: string) {
  const body = await routeCounts(sql);
  assert.deepEqual(Object.keys(body).sort(), [...STATUSES].sort(), when);
  assert.deepEqual(body, await counted(sql), when);
}

/**
 * Inserts `n` ledger rows in one statement, as a batch of intake would; not
 * runnable for a day, so that no orchestrator claims their empty snapshots.
 */
async function insertRows(sql: Sql, n: number, status: string) {
  await sql`
    INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version, run_at)
    SELECT gen_random_uuid(), ${status}, 'seeded', '{}'::jsonb, 'order-saga@1',
      now() + interval '1 day'
    FROM generate_series(1, ${n})`;
}

Deno.test("GET /sagas/counts equals count(*) by status through completions, cancellations, parks, retries and deletes", async () => {
  const h = await harness({ env: { CONFIRM_MAX_ATTEMPTS: "2" } });
  try {
    await assertCountsMatch(h.sql, "empty");
    const happy = [sampleOrder(), sampleOrder(), sampleOrder()];
    const declined = [1, 2].map((i) => sampleOrder({ payment_authorization_id: `decline-c${i}` }));
    const parked = [sampleOrder(), sampleOrder()];
    h.sandbox.orders.setFaults({
      rules: parked.map((o) => ({ method: "POST", path: "/confirmation", orderId: o.order_id })),
    });
    for (const o of [...happy, ...declined, ...parked]) await placeOrder(h.sql, o);
    for (const o of [...happy, ...declined, ...parked]) await settled(h.sql, o.order_id);
    assert.deepEqual(await routeCounts(h.sql), {
      RUNNING: 0,
      COMPLETED: 3,
      CANCELLED: 2,
      NEEDS_ATTENTION: 2,
    });

    // A retry takes one parked saga back to RUNNING and on to COMPLETED.
    h.sandbox.orders.setFaults({});
    const retried = parked[0]!.order_id;
    const retry = await createAdminApp({ sql: h.sql, listening: () => true })
      .request(`/sagas/${retried}/retry`, { method: "POST" });
    assert.equal(retry.status, 202);
    await waitForStatus(h.sql, retried, ["COMPLETED"]);
    await assertCountsMatch(h.sql, "after a retry");
    assert.equal((await routeCounts(h.sql)).COMPLETED, 4);

    // Retention deletes finished sagas with plain DELETEs, row by row or in batches.
    await h.sql`DELETE FROM order_ledger WHERE order_id = ${happy[0]!.order_id}`;
    await h.sql`DELETE FROM order_ledger WHERE order_id = ${declined[0]!.order_id}`;
    await assertCountsMatch(h.sql, "after single deletes");
    await insertRows(h.sql, 1500, "COMPLETED");
    await insertRows(h.sql, 20, "RUNNING");
    await h.sql`UPDATE order_ledger SET status = 'NEEDS_ATTENTION' WHERE state = 'seeded'
      AND status = 'RUNNING'`;
    await h.sql`DELETE FROM order_ledger WHERE order_id IN (
      SELECT order_id FROM order_ledger WHERE status = 'COMPLETED' LIMIT 1000)`;
    await assertCountsMatch(h.sql, "after batch inserts, a bulk status change and a batch delete");
    // A sweep's shape: the rows locked in one CTE, deleted in another.
    await h.sql`
      WITH doomed AS MATERIALIZED (
        SELECT order_id FROM order_ledger WHERE status IN ('COMPLETED', 'CANCELLED')
        LIMIT 300 FOR UPDATE SKIP LOCKED
      ), gone AS (
        DELETE FROM order_ledger l USING doomed WHERE l.order_id = doomed.order_id RETURNING 1
      )
      SELECT count(*) FROM gone`;
    await assertCountsMatch(h.sql, "after a delete in a CTE");
    // A duplicate insert (ON CONFLICT DO NOTHING, as intake's) counts nothing.
    await h.sql`INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version)
      SELECT order_id, 'RUNNING', 'x', '{}', 'order-saga@1' FROM order_ledger
      ON CONFLICT DO NOTHING`;
    await h.sql`TRUNCATE order_ledger`;
    await assertCountsMatch(h.sql, "after TRUNCATE");
  } finally {
    await h.close();
  }
});

Deno.test("a transition that keeps the status leaves the counters alone; a status change writes one counter row", async () => {
  const db = await freshDatabase();
  try {
    await insertRows(db.sql, 3, "RUNNING");
    const counterWrites = async (statement: (tx: Sql) => Promise<unknown>) =>
      await db.sql.begin(async (tx) => {
        // This transaction's own statistics, exact and immediate.
        const stat = async () => {
          const [row] = await tx<{ n: number }[]>`
            SELECT n_tup_upd::int AS n FROM pg_stat_xact_user_tables
            WHERE relname = 'saga_status_counts'`;
          return row?.n ?? 0;
        };
        const before = await stat();
        await statement(tx as unknown as Sql);
        return (await stat()) - before;
      });
    // What persistTransitions does mid-saga: status is set, to the same value.
    assert.equal(
      await counterWrites((tx) =>
        tx`UPDATE order_ledger SET state = 'reservingInventory', status = status,
          revision = revision + 1, updated_at = now()`
      ),
      0,
    );
    // Lease renewals and claims do not set the status at all.
    assert.equal(
      await counterWrites((tx) => tx`UPDATE order_ledger SET lease_until = now(), run_at = now()`),
      0,
    );
    // Three sagas finishing in one statement: three changes of the same counter row.
    assert.equal(await counterWrites((tx) => tx`UPDATE order_ledger SET status = 'COMPLETED'`), 3);
    // Inserts and deletes count once per statement, however many rows.
    assert.equal(
      await counterWrites((tx) =>
        tx`INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version)
          SELECT gen_random_uuid(), 'RUNNING', 's', '{}', 'v' FROM generate_series(1, 50)`
      ),
      1,
    );
    assert.equal(await counterWrites((tx) => tx`DELETE FROM order_ledger`), 1);
    assert.equal(await counterWrites((tx) => tx`DELETE FROM order_ledger`), 0, "nothing deleted");
    await assertCountsMatch(db.sql, "after all of it");
  } finally {
    await db.drop();
  }
});

Deno.test("migration 005 counts the sagas an existing installation already holds", async () => {
  const db = await freshDatabase();
  try {
    // An installation from before 005: rows written without the triggers.
    await db.sql`ALTER TABLE order_ledger DISABLE TRIGGER USER`;
    await insertRows(db.sql, 40, "COMPLETED");
    await insertRows(db.sql, 7, "CANCELLED");
    await insertRows(db.sql, 3, "NEEDS_ATTENTION");
    await insertRows(db.sql, 5, "RUNNING");
    await db.sql`ALTER TABLE order_ledger ENABLE TRIGGER USER`;
    await db.sql`DROP TABLE saga_status_counts`;
    await db.sql`DELETE FROM orchestrator_migrations WHERE name = '005_saga_counts.sql'`;

    assert.deepEqual(await migrate(db.sql), ["005_saga_counts.sql"]);
    assert.deepEqual(await routeCounts(db.sql), {
      RUNNING: 5,
      COMPLETED: 40,
      CANCELLED: 7,
      NEEDS_ATTENTION: 3,
    });
    await insertRows(db.sql, 2, "RUNNING");
    await assertCountsMatch(db.sql, "counting on from there");
  } finally {
    await db.drop();
  }
});
