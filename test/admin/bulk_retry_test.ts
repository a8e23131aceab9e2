// POST /sagas/retry: many parked sagas at once, by ids or by state, each
// retried exactly as the single retry does; nothing else touched; bounded
// per call; a strict body. Real sagas parked by a confirmation that keeps
// failing (CONFIRM_MAX_ATTEMPTS=2), real PostgreSQL, the in-process services.
import assert from "node:assert/strict";
import { createAdminApp } from "../../src/admin/app.ts";
import { MAX_BULK_IDS } from "../../src/admin/bulk_retry_body.ts";
import { retrySagas } from "../../src/db/admin_actions.ts";
import { retryVerdict } from "../../src/admin/operator_rules.ts";
import type { Sql } from "../../src/db/client.ts";
import { placeOrder, sampleOrder, waitFor, waitForStatus } from "../helpers/orders.ts";
import { harness, historyRows, settled } from "../helpers/saga_assert.ts";
import { freshDatabase } from "../../tooling/cluster/mod.ts";

function admin(sql: Sql) {
  const app = createAdminApp({ sql, listening: () => true, instanceId: "bulk-test" });
  return async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
}

/** A ledger row no orchestrator will claim (runnable in a day), to check it is left alone. */
async function standingRow(sql: Sql, status: string, state: string): Promise<string> {
  const id = crypto.randomUUID();
  await sql`INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version, run_at)
    VALUES (${id}, ${status}, ${state}, '{}'::jsonb, 'order-saga@1', now() + interval '1 day')`;
  return id;
}

async function adminRetries(sql: Sql, orderId: string): Promise<string[]> {
  return (await historyRows(sql, orderId)).filter((r) => r.event === "AdminRetry")
    .map((r) => r.instance_id ?? "");
}

async function revision(sql: Sql, orderId: string) {
  const [row] = await sql<{ status: string; revision: string }[]>`
    SELECT status, revision FROM order_ledger WHERE order_id = ${orderId}`;
  return row;
}

Deno.test("POST /sagas/retry retries the parked sagas named by id or state, and nothing else", async () => {
  const h = await harness({ env: { CONFIRM_MAX_ATTEMPTS: "2" } });
  try {
    const call = admin(h.sql);
    const parked = Array.from({ length: 6 }, () => sampleOrder());
    const done = sampleOrder();
    h.sandbox.orders.setFaults({ rules: [{ method: "POST", path: "/confirmation" }] });
    for (const o of parked) await placeOrder(h.sql, o);
    for (const o of parked) {
      assert.equal((await settled(h.sql, o.order_id)).status, "NEEDS_ATTENTION");
    }
    h.sandbox.orders.setFaults({
      rules: parked.map((o) => ({ method: "POST", path: "/confirmation", orderId: o.order_id })),
    });
    await placeOrder(h.sql, done);
    await waitForStatus(h.sql, done.order_id, ["COMPLETED"]);
    const running = await standingRow(h.sql, "RUNNING", "needsAttention");
    // Parked by an unexpected error in another state: not in a retry by state "needsAttention".
    const otherState = await standingRow(h.sql, "NEEDS_ATTENTION", "capturingPayment");
    const untouched = [done.order_id, running, otherState];
    const before = await Promise.all(untouched.map((id) => revision(h.sql, id)));

    // By ids: two parked, one finished, one running, one unknown.
    const [a, b] = [parked[0]!.order_id, parked[1]!.order_id];
    const byIds = await call("POST", "/sagas/retry", {
      order_ids: [a, b.toUpperCase(), done.order_id, running, crypto.randomUUID()],
    });
    assert.deepEqual(byIds, { status: 202, body: { retried: 2, more: false, limit: 1000 } });
    for (const id of [a, b]) {
      assert.deepEqual(await adminRetries(h.sql, id), ["admin:anonymous@bulk-test"]);
    }
    // Their confirmation still fails: they run again and park again.
    await waitFor(async () => {
      const rows = await Promise.all([a, b].map((id) => historyRows(h.sql, id)));
      return rows.every((r) =>
        r.at(-1)?.to_state === "needsAttention" && r.at(-1)?.event !== "AdminRetry"
      );
    }, { what: "the two retried sagas to park again" });
    for (const o of parked.slice(2)) assert.deepEqual(await adminRetries(h.sql, o.order_id), []);

    // By state, with the cause fixed: all six complete.
    h.sandbox.orders.setFaults({});
    await waitForStatus(h.sql, a, ["NEEDS_ATTENTION"]);
    await waitForStatus(h.sql, b, ["NEEDS_ATTENTION"]);
    const byState = await call("POST", "/sagas/retry", { state: "needsAttention" });
    assert.deepEqual(byState, { status: 202, body: { retried: 6, more: false, limit: 1000 } });
    for (const o of parked) {
      assert.equal((await settled(h.sql, o.order_id)).status, "COMPLETED", o.order_id);
    }
    assert.deepEqual(await adminRetries(h.sql, a), [
      "admin:anonymous@bulk-test",
      "admin:anonymous@bulk-test",
    ]);
    // The finished, the running and the one parked in another state are as they were.
    assert.deepEqual(await Promise.all(untouched.map((id) => revision(h.sql, id))), before);
    for (const id of untouched) assert.deepEqual(await adminRetries(h.sql, id), []);

    // Both filters: a saga must match both.
    const both = await call("POST", "/sagas/retry", {
      state: "needsAttention",
      order_ids: [otherState],
    });
    assert.equal(both.body.retried, 0);
    const nothing = await call("POST", "/sagas/retry", { state: "needsAttention" });
    assert.deepEqual(nothing.body, { retried: 0, more: false, limit: 1000 });
  } finally {
    await h.close();
  }
});

Deno.test("POST /sagas/retry refuses a bad body; GET /sagas/retry is a saga id, not the bulk route", async () => {
  const db = await freshDatabase();
  try {
    const call = admin(db.sql);
    const tooMany = Array.from({ length: MAX_BULK_IDS + 1 }, () => crypto.randomUUID());
    for (
      const [body, message] of [
        ["", /body must be JSON/],
        ["{", /body must be JSON/],
        ["[]", /JSON object/],
        ["null", /JSON object/],
        [{}, /give state, order_ids or both/],
        [{ state: null, order_ids: null }, /give state, order_ids or both/],
        [{ state: "" }, /state must be a state name/],
        [{ state: "drop table" }, /state must be a state name/],
        [{ state: 42 }, /state must be a state name/],
        [{ order_ids: [] }, /order_ids must be an array of 1 to 1000 UUIDs/],
        [{ order_ids: "abc" }, /order_ids must be an array/],
        [{ order_ids: ["abc"] }, /order_id must be a UUID/],
        [{ order_ids: [42] }, /order_ids must be UUIDs/],
        [{ order_ids: tooMany }, /order_ids must be an array of 1 to 1000 UUIDs/],
        [{ status: "NEEDS_ATTENTION" }, /unknown field "status"/],
        [{ state: "needsAttention", all: true }, /unknown field "all"/],
      ] as const
    ) {
      const r = await call("POST", "/sagas/retry", body);
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
      assert.match(r.body.error, message, JSON.stringify(body).slice(0, 80));
    }
    const huge = await call("POST", "/sagas/retry", { order_ids: ["x".repeat(70_000)] });
    assert.equal(huge.status, 413);

    // Route order: the static routes win over /sagas/:order_id, for their own methods only.
    const get = await call("GET", "/sagas/retry");
    assert.equal(get.status, 400);
    assert.match(get.body.error, /order_id must be a UUID, got "retry"/);
    assert.equal((await call("GET", "/sagas/counts")).status, 200);
    assert.equal((await call("POST", "/sagas/counts")).status, 405);
  } finally {
    await db.drop();
  }
});

Deno.test("a bulk retry is bounded per call, oldest first, and skips a saga locked elsewhere, saying more are left", async () => {
  const db = await freshDatabase();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await standingRow(db.sql, "NEEDS_ATTENTION", "needsAttention"));
    }
    const retry = () =>
      retrySagas(db.sql, {
        state: "needsAttention",
        orderIds: null,
        limit: 2,
        actor: "t",
        judge: retryVerdict,
      });
    const status = async (id: string) => (await revision(db.sql, id))!.status;

    assert.deepEqual(await retry(), { retried: 2, more: true });
    assert.deepEqual(await Promise.all(ids.map(status)), [
      "RUNNING",
      "RUNNING",
      "NEEDS_ATTENTION",
      "NEEDS_ATTENTION",
      "NEEDS_ATTENTION",
    ]);

    // Another session holds the oldest remaining row: skipped, not waited for.
    const holder = await db.sql.reserve();
    try {
      await holder`BEGIN`;
      await holder`SELECT 1 FROM order_ledger WHERE order_id = ${ids[2]!} FOR UPDATE`;
      const started = performance.now();
      assert.deepEqual(await retry(), { retried: 2, more: true });
      assert.ok(performance.now() - started < 1000, "no lock wait");
      assert.equal(await status(ids[2]!), "NEEDS_ATTENTION");
      assert.deepEqual(await retry(), { retried: 0, more: true }, "only the locked one is left");
      await holder`ROLLBACK`;
    } finally {
      holder.release();
    }
    assert.deepEqual(await retry(), { retried: 1, more: false });
    assert.deepEqual(await Promise.all(ids.map(status)), ids.map(() => "RUNNING"));
  } finally {
    await db.drop();
  }
});
