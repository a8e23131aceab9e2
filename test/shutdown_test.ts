// SIGTERM mid-run: stop claiming, let in-flight steps finish within
// the grace period, persist, release every lease so another instance resumes
// at once, exit 0.
import assert from "node:assert/strict";
import {
  assertEffectsExactlyOnce,
  placeOrders,
  sampleOrder,
  waitAllCompleted,
  waitFor,
} from "./helpers/orders.ts";
import type { Sql } from "../src/db/client.ts";
import { withCluster } from "../tooling/cluster/mod.ts";

/** Sagas of `owner` calling capturePayment right now. */
/** Sagas `owner` holds whose capture request has left (its attempt is recorded). */
async function capturing(sql: Sql, owner: string): Promise<string[]> {
  const rows = await sql<{ order_id: string }[]>`
    SELECT order_id FROM order_ledger
    WHERE state = 'capturingPayment' AND lease_owner = ${owner}
      AND pending->>'step' = 'capturePayment'
      AND (snapshot->'context'->>'captureAttempted')::boolean`;
  return rows.map((r) => r.order_id);
}

async function leasesHeldBy(sql: Sql, owner: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM order_ledger WHERE lease_owner = ${owner}`;
  return row?.n ?? -1;
}

Deno.test("SIGTERM with a short grace releases every lease, so a long-lease instance resumes at once", async () => {
  // Captures take 1.5 s: far longer than the 300 ms grace.
  await withCluster({ payments: { processingMs: 1500 } }, async ({ db, sandbox, start }) => {
    // A 60 s lease on both sides: a lease left to expire would stall b for a minute.
    const env = { LEASE_MS: "60000", POLL_INTERVAL_MS: "60000" };
    const orders = Array.from({ length: 8 }, () => sampleOrder());
    const ids = orders.map((o) => o.order_id);
    const a = start("term-a", { ...env, SHUTDOWN_GRACE_MS: "300" });
    await a.started();
    await placeOrders(db.sql, orders);
    await waitFor(async () => (await capturing(db.sql, "term-a")).length === ids.length, {
      what: "every saga mid-capture on term-a",
    });
    // Hold them mid-call so the capture requests are surely at the service.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await capturing(db.sql, "term-a")).length, ids.length, "still mid-capture");

    a.kill("SIGTERM");
    const status = await a.status;
    assert.equal(status.code, 0, "exit code 0");
    const msgs = a.logs.map((l) => l.msg);
    for (
      const line of [
        "Shutting down: draining in-flight sagas",
        "Grace period over; aborting steps",
        "Leases released",
      ]
    ) {
      assert.ok(msgs.includes(line), `logged "${line}"`);
    }
    assert.equal(await leasesHeldBy(db.sql, "term-a"), 0, "no lease left with term-a");
    // The aborted captures were not recorded: the sagas wait, in doubt, for anyone.
    const [left] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM order_ledger
      WHERE state = 'capturingPayment' AND status = 'RUNNING' AND run_at <= now()`;
    assert.equal(left?.n, ids.length, "every saga is runnable now");

    const startedAt = Date.now();
    const b = start("term-b", env);
    // b's start-up claim cycle is its only chance: no NOTIFY comes, and its next poll is 60 s away.
    await waitAllCompleted(db.sql, ids, 15_000);
    const doneMs = Date.now() - startedAt;
    console.log(`after SIGTERM: term-b completed all ${ids.length} sagas ${doneMs} ms after start`);
    assert.ok(doneMs < 15_000, "well under the 60 s lease");
    const [byB] = await db.sql<{ n: number }[]>`
      SELECT count(DISTINCT order_id)::int AS n FROM saga_history
      WHERE instance_id = 'term-b' AND event = 'capturePayment:ok'`;
    assert.equal(byB?.n, ids.length, "term-b finished every interrupted capture");

    // The aborted calls reached the service; b's repeats were replays, not second captures.
    assertEffectsExactlyOnce(sandbox, ids);
    assert.ok(sandbox.payments.stats({ log: false }).idempotentReplays >= ids.length);

    b.kill("SIGTERM");
    assert.equal((await b.status).code, 0);
  });
});

Deno.test("SIGTERM with a long enough grace lets in-flight steps finish and persists them before exit", async () => {
  await withCluster({ payments: { processingMs: 1500 } }, async ({ db, sandbox, start }) => {
    const orders = Array.from({ length: 6 }, () => sampleOrder());
    const ids = orders.map((o) => o.order_id);
    const a = start("grace-a", {
      SHUTDOWN_GRACE_MS: "10000",
      POLL_INTERVAL_MS: "500",
    });
    await a.started();
    await placeOrders(db.sql, orders);
    await waitFor(async () => (await capturing(db.sql, "grace-a")).length === ids.length, {
      what: "every saga mid-capture on grace-a",
    });

    const signalledAt = new Date();
    a.kill("SIGTERM");
    await a.waitForLog((l) => l.msg === "Shutting down: draining in-flight sagas");
    // Stop claiming: an order placed during the drain is left to others.
    const late = sampleOrder();
    await placeOrders(db.sql, [late]);

    const status = await a.status;
    assert.equal(status.code, 0, "exit code 0");
    const msgs = a.logs.map((l) => l.msg);
    assert.ok(msgs.includes("Leases released"));
    assert.ok(!msgs.includes("Grace period over; aborting steps"), "nothing was cut short");
    assert.equal(await leasesHeldBy(db.sql, "grace-a"), 0, "no lease left with grace-a");

    // Every in-flight capture finished and was persisted by grace-a after the signal.
    const after = await db.sql<{ order_id: string; event: string; at: Date }[]>`
      SELECT order_id, event, at FROM saga_history
      WHERE instance_id = 'grace-a' AND at >= ${signalledAt} ORDER BY id`;
    const captured = new Set(
      after.filter((r) => r.event === "capturePayment:ok").map((r) => r.order_id),
    );
    assert.deepEqual([...captured].sort(), [...ids].sort(), "each capture persisted after SIGTERM");
    const [steps] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM saga_step
      WHERE step = 'capturePayment' AND outcome = 'ok' AND instance_id = 'grace-a'`;
    assert.equal(steps?.n, ids.length, "each capture outcome recorded");
    const counts: Record<string, number> = {};
    for (const r of after) counts[r.event] = (counts[r.event] ?? 0) + 1;
    console.log(`transitions written by grace-a after SIGTERM: ${JSON.stringify(counts)}`);
    const lateRows = await db.sql<{ status: string }[]>`
      SELECT status FROM outbox WHERE order_id = ${late.order_id}`;
    assert.deepEqual(lateRows.map((r) => r.status), ["PENDING"], "no intake while draining");

    // Whatever is left is another instance's to finish, each effect still once.
    const b = start("grace-b", { POLL_INTERVAL_MS: "500" });
    await waitAllCompleted(db.sql, [...ids, late.order_id], 15_000);
    assertEffectsExactlyOnce(sandbox, [...ids, late.order_id]);
    assert.equal(sandbox.payments.stats({ log: false }).idempotentReplays, 0, "no call repeated");

    b.kill("SIGTERM");
    assert.equal((await b.status).code, 0);
  });
});

// The documented shutdown and SagaPool.drain's own contract: in-flight *steps* finish, then leases go back.
// A saga whose step finished during the drain must not be driven on to its next step.
Deno.test("SIGTERM starts no new step: a saga whose in-flight step finished is handed back", async () => {
  await withCluster({ payments: { processingMs: 1500 } }, async ({ db, sandbox, start }) => {
    const orders = Array.from({ length: 4 }, () => sampleOrder());
    const ids = orders.map((o) => o.order_id);
    const a = start("drain-a", {
      SHUTDOWN_GRACE_MS: "10000",
      POLL_INTERVAL_MS: "500",
    });
    await a.started();
    await placeOrders(db.sql, orders);
    await waitFor(async () => (await capturing(db.sql, "drain-a")).length === ids.length, {
      what: "every saga mid-capture on drain-a",
    });

    const signalledAt = new Date();
    a.kill("SIGTERM");
    assert.equal((await a.status).code, 0);

    const after = await db.sql<{ event: string }[]>`
      SELECT event FROM saga_history
      WHERE instance_id = 'drain-a' AND at >= ${signalledAt} ORDER BY id`;
    assert.deepEqual(
      [...new Set(after.map((r) => r.event))],
      ["capturePayment:ok"],
      "after SIGTERM drain-a only finished the captures it had in flight",
    );
    assert.equal(sandbox.orders.stats({ log: false }).totals.confirmed, 0, "no confirmation sent");
    const [state] = await db.sql<{ states: string[] }[]>`
      SELECT array_agg(DISTINCT state) AS states FROM order_ledger`;
    assert.deepEqual(state?.states, ["confirmingOrder"]);
    assert.equal(await leasesHeldBy(db.sql, "drain-a"), 0);

    const b = start("drain-b", { POLL_INTERVAL_MS: "500" });
    await waitAllCompleted(db.sql, ids, 15_000);
    assertEffectsExactlyOnce(sandbox, ids);

    b.kill("SIGTERM");
    assert.equal((await b.status).code, 0);
  });
});
