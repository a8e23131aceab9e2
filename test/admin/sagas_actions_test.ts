// GET /sagas/:order_id, POST …/retry and POST …/cancel against real sagas: a
// real PostgreSQL, the in-process reference services and orchestrators.
import assert from "node:assert/strict";
import { createAdminApp } from "../../src/admin/app.ts";
import { harness, historyEvents, ledgerRow, outboxRows, settled } from "../helpers/saga_assert.ts";
import { placeOrder, sampleOrder, waitFor } from "../helpers/orders.ts";
import type { Sql } from "../../src/db/client.ts";

function admin(sql: Sql) {
  const app = createAdminApp({ sql, listening: () => true, instanceId: "test-admin" });
  return async (method: string, path: string, body?: string) => {
    const res = await app.request(path, { method, body });
    return { status: res.status, body: await res.json() };
  };
}

const CONFIRM_FAILS = { rules: [{ method: "POST", path: "/confirmation" }] };

Deno.test("GET /sagas/:order_id shows a finished saga with its history; 404 unknown, 400 not a UUID", async () => {
  const h = await harness();
  try {
    const call = admin(h.sql);
    const order = sampleOrder();
    await placeOrder(h.sql, order);
    await settled(h.sql, order.order_id);

    const { status, body } = await call("GET", `/sagas/${order.order_id}`);
    assert.equal(status, 200);
    assert.equal(body.order_id, order.order_id);
    assert.equal(body.status, "COMPLETED");
    assert.equal(body.state, "completed");
    assert.equal(body.machine_version, "order-saga@1");
    assert.equal(body.snapshot.value, "completed");
    assert.equal(body.snapshot.context.order.orderId, order.order_id);
    assert.equal(body.last_error, null);
    assert.equal(body.cancel_requested, false);
    assert.equal(body.lease_owner, null);
    assert.ok(!Number.isNaN(Date.parse(body.created_at)));
    assert.ok(Date.parse(body.updated_at) >= Date.parse(body.created_at));
    assert.deepEqual(
      body.history.map((r: { event: string }) => r.event),
      await historyEvents(h.sql, order.order_id),
    );
    assert.deepEqual(Object.keys(body.history[0]).sort(), ["at", "event", "from", "to"]);
    assert.deepEqual(body.history.at(-1), {
      at: body.history.at(-1).at,
      event: "confirmOrder:ok",
      from: "confirmingOrder.calling",
      to: "completed",
    });
    // Upper-case UUIDs name the same saga.
    assert.equal((await call("GET", `/sagas/${order.order_id.toUpperCase()}`)).status, 200);

    const unknown = crypto.randomUUID();
    assert.deepEqual(await call("GET", `/sagas/${unknown}`), {
      status: 404,
      body: { error: `saga "${unknown}" not found` },
    });
    for (const bad of ["nope", "1234", `${unknown}x`, "%27%3B--"]) {
      const r = await call("GET", `/sagas/${bad}`);
      assert.equal(r.status, 400, bad);
      assert.match(r.body.error, /order_id must be a UUID/);
    }
  } finally {
    await h.close();
  }
});

Deno.test("POST retry resumes a saga the machine parked (RETRY event), woken by NOTIFY, to COMPLETED", async () => {
  // A long poll interval: only the retry's NOTIFY can wake the instance in time.
  const h = await harness({ env: { CONFIRM_MAX_ATTEMPTS: "2", POLL_INTERVAL_MS: "60000" } });
  try {
    const call = admin(h.sql);
    const order = sampleOrder();
    const id = order.order_id;
    h.sandbox.orders.setFaults(CONFIRM_FAILS);
    await placeOrder(h.sql, order);
    const parked = await settled(h.sql, id);
    assert.equal(parked.status, "NEEDS_ATTENTION");
    assert.equal(parked.state, "needsAttention");

    // Parked by the machine after the capture: no cancelling it any more.
    const cancel = await call("POST", `/sagas/${id}/cancel`);
    assert.equal(cancel.status, 409);
    assert.match(cancel.body.error, /saga is NEEDS_ATTENTION/);

    h.sandbox.orders.setFaults({});
    const retry = await call("POST", `/sagas/${id}/retry`);
    assert.deepEqual(retry, {
      status: 202,
      body: { order_id: id, action: "retry", accepted: true, state: "needsAttention" },
    });
    const done = await settled(h.sql, id, 5_000);
    assert.equal(done.status, "COMPLETED");
    assert.equal(done.last_error, null);
    const events = await historyEvents(h.sql, id);
    assert.deepEqual(events.slice(events.indexOf("AdminRetry")), [
      "AdminRetry",
      "RETRY",
      "confirmOrder:ok",
    ]);
    const [adminRow] = await h.sql<{ instance_id: string }[]>`
      SELECT instance_id FROM saga_history WHERE order_id = ${id} AND event = 'AdminRetry'`;
    assert.equal(adminRow?.instance_id, "admin:anonymous@test-admin");

    // Finished now: neither action applies.
    const again = await call("POST", `/sagas/${id}/retry`);
    assert.equal(again.status, 409);
    assert.match(again.body.error, /saga is COMPLETED; only a NEEDS_ATTENTION saga can be retried/);
    assert.equal((await call("POST", `/sagas/${id}/cancel`)).status, 409);
  } finally {
    await h.close();
  }
});

Deno.test("POST retry resumes a saga parked by an unexpected error from its pending work", async () => {
  const h = await harness({ start: false, env: { CONFIRM_MAX_ATTEMPTS: "1000" } });
  try {
    const call = admin(h.sql);
    const order = sampleOrder();
    const id = order.order_id;
    h.sandbox.orders.setFaults(CONFIRM_FAILS);
    const first = h.start();
    await placeOrder(h.sql, order);
    await waitFor(async () => (await ledgerRow(h.sql, id))?.state === "confirmingOrder", {
      what: "the saga to reach confirmingOrder",
    });

    // Captured and still running: too late to cancel.
    const cancel = await call("POST", `/sagas/${id}/cancel`);
    assert.equal(cancel.status, 409);
    assert.match(cancel.body.error, /a payment capture has been attempted/);
    // Running: nothing to retry.
    const early = await call("POST", `/sagas/${id}/retry`);
    assert.equal(early.status, 409);
    assert.match(early.body.error, /saga is RUNNING/);

    // Park it the way the runner does after an unexpected error (parkSaga):
    // status and last_error change, the snapshot and pending work stay.
    await first.stop();
    await h.sql`UPDATE order_ledger SET status = 'NEEDS_ATTENTION',
      last_error = 'unexpected error: test', lease_owner = NULL, lease_until = NULL
      WHERE order_id = ${id}`;
    h.sandbox.orders.setFaults({});
    h.start();

    const retry = await call("POST", `/sagas/${id}/retry`);
    assert.equal(retry.status, 202);
    assert.equal(retry.body.state, "confirmingOrder");
    const done = await settled(h.sql, id);
    assert.equal(done.status, "COMPLETED");
    assert.equal(done.last_error, null);
    const events = await historyEvents(h.sql, id);
    const after = events.slice(events.lastIndexOf("AdminRetry"));
    assert.ok(!after.includes("RETRY"), `no RETRY event for an error park: ${after}`);
    assert.equal(after.at(-1), "confirmOrder:ok");
  } finally {
    await h.close();
  }
});

Deno.test("POST cancel before the capture goes through the outbox and compensates to CANCELLED", async () => {
  const h = await harness({ env: { STEP_MAX_ATTEMPTS: "1000", RETRY_BASE_MS: "50" } });
  try {
    const call = admin(h.sql);
    const order = sampleOrder();
    const id = order.order_id;
    h.sandbox.inventory.setFaults({ rules: [{ method: "POST", path: "/reservations" }] });
    await placeOrder(h.sql, order);
    await waitFor(async () => (await ledgerRow(h.sql, id))?.state === "reservingInventory", {
      what: "the saga to reach reservingInventory",
    });

    const res = await call("POST", `/sagas/${id}/cancel`, JSON.stringify({ reason: "ops: fraud" }));
    assert.equal(res.status, 202);
    assert.equal(res.body.order_id, id);
    assert.equal(res.body.accepted, true);
    assert.equal(res.body.reason, "ops: fraud");
    assert.equal(typeof res.body.event_id, "string");

    const row = await settled(h.sql, id);
    assert.equal(row.status, "CANCELLED");
    assert.equal(row.cancel_reason, "ops: fraud");
    const events = await outboxRows(h.sql, id);
    assert.deepEqual(events.map((e) => [e.event_type, e.status]), [
      ["OrderPlaced", "PROCESSED"],
      ["OrderCancellationRequested", "PROCESSED"],
    ]);
    assert.equal(events[1]?.id, res.body.event_id);
    assert.ok((await historyEvents(h.sql, id)).includes("CANCEL"));

    const again = await call("POST", `/sagas/${id}/cancel`);
    assert.equal(again.status, 409);
    assert.match(again.body.error, /saga is CANCELLED in cancelled: the saga has finished/);
    assert.equal((await call("POST", `/sagas/${id}/retry`)).status, 409);
  } finally {
    await h.close();
  }
});

Deno.test("POST cancel and retry: 404 unknown, 400 bad id or body, 413 oversized body", async () => {
  const h = await harness({ start: false });
  try {
    const call = admin(h.sql);
    const unknown = crypto.randomUUID();
    for (const action of ["retry", "cancel"]) {
      assert.deepEqual(await call("POST", `/sagas/${unknown}/${action}`), {
        status: 404,
        body: { error: `saga "${unknown}" not found` },
      });
      const bad = await call("POST", `/sagas/not-a-uuid/${action}`);
      assert.equal(bad.status, 400);
    }
    // A RUNNING saga (no orchestrator runs it) to validate bodies against.
    const order = sampleOrder();
    await h.sql`INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version)
      VALUES (${order.order_id}, 'RUNNING', 'creatingOrder',
        ${h.sql.json({ value: { creatingOrder: "calling" }, context: { touched: [] } })},
        'order-saga@1')`;
    const path = `/sagas/${order.order_id}/cancel`;
    const bodies: Array<[string, RegExp]> = [
      ["{", /body must be JSON/],
      ["[]", /JSON object/],
      ['"text"', /JSON object/],
      ['{"reason": 42}', /reason must be a non-empty string/],
      ['{"reason": "   "}', /reason/],
      [JSON.stringify({ reason: "x".repeat(1001) }), /at most 1000/],
    ];
    for (const [body, message] of bodies) {
      const r = await call("POST", path, body);
      assert.equal(r.status, 400, body);
      assert.match(r.body.error, message, body);
    }
    const huge = await call("POST", path, JSON.stringify({ reason: "x".repeat(20_000) }));
    assert.equal(huge.status, 413);
    assert.match(huge.body.error, /body larger than/);
    assert.equal((await outboxRows(h.sql, order.order_id)).length, 0, "nothing was written");

    // No body at all is fine: a default reason.
    const ok = await call("POST", path);
    assert.equal(ok.status, 202);
    assert.equal(ok.body.reason, "cancelled by operator");
    const [event] = await outboxRows(h.sql, order.order_id);
    assert.equal(event?.event_type, "OrderCancellationRequested");
  } finally {
    await h.close();
  }
});
