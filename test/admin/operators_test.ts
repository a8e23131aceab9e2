// Operator names: with two operators' tokens (ADMIN_TOKENS), every action's
// record names the operator whose token took it — retry (one and bulk) and
// redrive in the saga's history, cancel through its outbox event's
// `requested_by`, which intake copies into the history row.
import assert from "node:assert/strict";
import { createAdminApp } from "../../src/admin/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { Sql } from "../../src/db/client.ts";
import { placeOrder, sampleOrder, waitFor } from "../helpers/orders.ts";
import { harness, historyRows, ledgerRow, outboxRows, settled } from "../helpers/saga_assert.ts";

const config = loadConfig({ ADMIN_TOKENS: "alice:alice-secret,bob:bob-secret" }, {
  hostname: "h",
  pid: 1,
});

function as(sql: Sql, token: string) {
  const app = createAdminApp({
    sql,
    listening: () => true,
    operators: config.admin.operators,
    instanceId: "ops-test",
  });
  return async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
}

async function rowsOf(sql: Sql, orderId: string, event: string) {
  return (await historyRows(sql, orderId)).filter((r) => r.event === event);
}

Deno.test("each operator action's record names the operator whose token took it", async () => {
  const h = await harness({ env: { CONFIRM_MAX_ATTEMPTS: "2", STEP_MAX_ATTEMPTS: "1000" } });
  try {
    const alice = as(h.sql, "alice-secret");
    const bob = as(h.sql, "bob-secret");
    const [one, two] = [sampleOrder(), sampleOrder()];
    const stuck = sampleOrder();
    h.sandbox.orders.setFaults({
      rules: [one, two].map((o) => ({
        method: "POST",
        path: "/confirmation",
        orderId: o.order_id,
      })),
    });
    h.sandbox.inventory.setFaults({
      rules: [{ method: "POST", path: "/reservations", orderId: stuck.order_id }],
    });
    for (const o of [one, two, stuck]) await placeOrder(h.sql, o);
    await settled(h.sql, one.order_id);
    await settled(h.sql, two.order_id);
    h.sandbox.orders.setFaults({});

    assert.equal((await alice("POST", `/sagas/${one.order_id}/retry`)).status, 202);
    const [aliceRetry] = await rowsOf(h.sql, one.order_id, "AdminRetry");
    assert.equal(aliceRetry?.instance_id, "admin:alice@ops-test");

    const bulk = await bob("POST", "/sagas/retry", { order_ids: [two.order_id] });
    assert.deepEqual(bulk.body, { retried: 1, more: false, limit: 1000 });
    const [bobRetry] = await rowsOf(h.sql, two.order_id, "AdminRetry");
    assert.equal(bobRetry?.instance_id, "admin:bob@ops-test");
    assert.deepEqual(bobRetry?.detail, { bulk: true });

    // Cancel goes through the outbox: the operator travels in the payload.
    await waitFor(async () =>
      (await ledgerRow(h.sql, stuck.order_id))?.state === "reservingInventory"
    );
    const cancel = await alice("POST", `/sagas/${stuck.order_id}/cancel`, { reason: "fraud" });
    assert.equal(cancel.status, 202);
    assert.equal((await settled(h.sql, stuck.order_id)).status, "CANCELLED");
    const [request] = await rowsOf(h.sql, stuck.order_id, "OrderCancellationRequested");
    assert.deepEqual(request?.detail, {
      reason: "fraud",
      status: "RUNNING",
      requested_by: "admin:alice@ops-test",
    });

    // Redrive of a dead cancellation for a saga that exists: its history names bob.
    const [dead] = await h.sql<{ id: string }[]>`
      INSERT INTO outbox (order_id, event_type, payload)
      VALUES (${one.order_id}, 'OrderCancellationRequested',
        ${h.sql.json({ order_id: one.order_id, reason: 42 })})
      RETURNING id`;
    await waitFor(async () =>
      (await outboxRows(h.sql, one.order_id)).find((e) => e.id === dead!.id && e.status === "DEAD")
    );
    await h.sql`UPDATE outbox SET payload = ${
      h.sql.json({ order_id: one.order_id, reason: "late" })
    } WHERE id = ${dead!.id}`;
    assert.equal((await bob("POST", `/outbox/${dead!.id}/redrive`)).status, 202);
    const [redrive] = await rowsOf(h.sql, one.order_id, "AdminRedrive");
    assert.equal(redrive?.instance_id, "admin:bob@ops-test");
    assert.equal(redrive?.detail?.event_id, Number(dead!.id));
    assert.match(String(redrive?.detail?.previous_error), /payload\.reason/);
    await waitFor(async () =>
      (await outboxRows(h.sql, one.order_id)).find((e) => e.id === dead!.id)?.status ===
        "PROCESSED"
    );

    // A token that is nobody's changes nothing.
    const stranger = as(h.sql, "carol-secret");
    assert.equal((await stranger("POST", "/sagas/retry", { state: "needsAttention" })).status, 401);
  } finally {
    await h.close();
  }
});
