// Every saga path end to end: real PostgreSQL, the in-process
// reference services, one in-process orchestrator. Each test checks the
// ledger row, saga_step, saga_history, and the effects the services counted
// for the order — exactly, and in order where compensations are involved.
import assert from "node:assert/strict";
import {
  calls,
  effectSequence,
  effectsFor,
  harness,
  historyEvents,
  historyRows,
  ledgerRow,
  only,
  outboxRows,
  ROUTES,
  settled,
  stepRecords,
} from "./helpers/saga_assert.ts";
import { placeOrder, requestCancel, sampleOrder, waitFor } from "./helpers/orders.ts";

Deno.test("the happy path completes the order with each forward effect exactly once", async () => {
  const h = await harness();
  try {
    const order = sampleOrder();
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "COMPLETED");
    assert.equal(row.state, "completed");
    assert.equal(row.pending, null);
    assert.equal(row.lease_owner, null);
    assert.deepEqual(await stepRecords(h.sql, order.order_id), {
      createOrder: "ok 201",
      reserveInventory: "ok 201",
      capturePayment: "ok 200",
      confirmOrder: "ok 200",
    });
    assert.deepEqual(await historyEvents(h.sql, order.order_id), [
      "OrderPlaced",
      "createOrder:ok",
      "reserveInventory:ok",
      "capturePayment:attempt",
      "capturePayment:ok",
      "confirmOrder:ok",
    ]);
    // The capture's write-ahead rode in the reservation's commit: five commits became four.
    const commits = await h.sql<{ event: string; tx: string }[]>`
      SELECT event, xmin::text AS tx FROM saga_history WHERE order_id = ${order.order_id} ORDER BY id`;
    const txOf = (event: string) => commits.find((c) => c.event === event)!.tx;
    assert.equal(txOf("capturePayment:attempt"), txOf("reserveInventory:ok"));
    assert.equal(new Set(commits.map((c) => c.tx)).size, 5, "OrderPlaced and four writes");
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
    );
    assert.deepEqual(effectSequence(h.sandbox, order.order_id), [
      "created",
      "reserved",
      "captured",
      "confirmed",
    ]);
    assert.equal(h.sandbox.payments.get(order.payment_authorization_id)?.amount_cents, 3000);
    assert.deepEqual((await outboxRows(h.sql, order.order_id)).map((r) => r.status), [
      "PROCESSED",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("an out-of-stock order cancels the order, then voids, and never releases", async () => {
  const h = await harness();
  try {
    const order = sampleOrder({
      items: [{ sku: "OUT-OF-STOCK-widget", quantity: 1, unit_price_cents: 700 }],
    });
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "CANCELLED");
    assert.equal(row.state, "cancelled");
    assert.deepEqual(await stepRecords(h.sql, order.order_id), {
      createOrder: "ok 201",
      reserveInventory: "rejected 409",
      cancelOrder: "ok 200",
      voidPayment: "ok 200",
    });
    assert.deepEqual(await historyEvents(h.sql, order.order_id), [
      "OrderPlaced",
      "createOrder:ok",
      "reserveInventory:rejected",
      "cancelOrder:ok",
      "voidPayment:ok",
    ]);
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, cancelled: 1, voided: 1 }),
    );
    assert.deepEqual(effectSequence(h.sandbox, order.order_id), ["created", "cancelled", "voided"]);
    assert.equal(calls(h.sandbox, "inventory", ROUTES.releaseReservation), 0);
    assert.equal(row.snapshot.context.failure?.step, "reserveInventory");
    assert.equal(row.snapshot.context.failure?.reason, "insufficient_stock");
  } finally {
    await h.close();
  }
});

Deno.test("a declined capture releases, cancels, then voids, in that order, and captures nothing", async () => {
  const h = await harness();
  try {
    const order = sampleOrder({ payment_authorization_id: "decline-card-1" });
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "CANCELLED");
    assert.equal(row.state, "cancelled");
    assert.deepEqual(await stepRecords(h.sql, order.order_id), {
      createOrder: "ok 201",
      reserveInventory: "ok 201",
      capturePayment: "rejected 402",
      releaseReservation: "ok 200",
      cancelOrder: "ok 200",
      voidPayment: "ok 200",
    });
    assert.deepEqual(await historyEvents(h.sql, order.order_id), [
      "OrderPlaced",
      "createOrder:ok",
      "reserveInventory:ok",
      "capturePayment:attempt",
      "capturePayment:rejected",
      "releaseReservation:ok",
      "cancelOrder:ok",
      "voidPayment:ok",
    ]);
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, released: 1, cancelled: 1, voided: 1 }),
    );
    assert.deepEqual(effectSequence(h.sandbox, order.order_id), [
      "created",
      "reserved",
      "released",
      "cancelled",
      "voided",
    ]);
    assert.equal(h.sandbox.orders.get(order.order_id)?.status, "cancelled");
    assert.equal(h.sandbox.payments.get(order.payment_authorization_id)?.status, "voided");
  } finally {
    await h.close();
  }
});

Deno.test("a rejected createOrder only voids the authorization", async () => {
  const h = await harness();
  try {
    const order = sampleOrder({ customer_id: "reject-me" });
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "CANCELLED");
    assert.equal(row.state, "cancelled");
    assert.deepEqual(await stepRecords(h.sql, order.order_id), {
      createOrder: "rejected 422",
      voidPayment: "ok 200",
    });
    assert.deepEqual(await historyEvents(h.sql, order.order_id), [
      "OrderPlaced",
      "createOrder:rejected",
      "voidPayment:ok",
    ]);
    assert.deepEqual(effectsFor(h.sandbox, order.order_id), only({ voided: 1 }));
    assert.equal(calls(h.sandbox, "inventory", ROUTES.reserveInventory), 0);
    assert.equal(calls(h.sandbox, "inventory", ROUTES.releaseReservation), 0);
    assert.equal(calls(h.sandbox, "orders", ROUTES.cancelOrder), 0);
    assert.equal(calls(h.sandbox, "payments", ROUTES.capturePayment), 0);
  } finally {
    await h.close();
  }
});

Deno.test("two transient reservation failures are retried with the same Idempotency-Key and reserve once", async () => {
  const h = await harness({ record: ["inventory"] });
  try {
    const order = sampleOrder();
    h.sandbox.inventory.setFaults({
      rules: [{ method: "POST", path: "/reservations", orderId: order.order_id, times: 2 }],
    });
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "COMPLETED");
    assert.equal(row.state, "completed");
    assert.equal(calls(h.sandbox, "inventory", ROUTES.reserveInventory), 3);
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
    );
    // Headers as received (the sandbox keeps none, so a recording proxy sits in front).
    const reservations = h.requests.filter((r) =>
      r.method === "POST" && r.path === "/reservations"
    );
    assert.equal(reservations.length, 3);
    for (const r of reservations) {
      assert.equal(r.idempotencyKey, `${order.order_id}:reserveInventory`);
      assert.equal(r.contentType, "application/json");
      assert.deepEqual(JSON.parse(r.body), {
        order_id: order.order_id,
        items: [{ sku: "SKU-1", quantity: 2 }, { sku: "SKU-2", quantity: 1 }],
      });
    }
    assert.equal(h.sandbox.inventory.faults.config.rules?.[0]?.times, 0);
    assert.deepEqual(await stepRecords(h.sql, order.order_id), {
      createOrder: "ok 201",
      reserveInventory: "ok 201",
      capturePayment: "ok 200",
      confirmOrder: "ok 200",
    });
    assert.deepEqual(await historyEvents(h.sql, order.order_id), [
      "OrderPlaced",
      "createOrder:ok",
      "reserveInventory:transient",
      "retryDue",
      "reserveInventory:transient",
      "retryDue",
      "reserveInventory:ok",
      "capturePayment:attempt",
      "capturePayment:ok",
      "confirmOrder:ok",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("a reservation that keeps failing exhausts its retries and compensates what it may have touched", async () => {
  const h = await harness({ env: { STEP_MAX_ATTEMPTS: "3" } });
  try {
    const order = sampleOrder();
    h.sandbox.inventory.setFaults({
      rules: [{ method: "POST", path: "/reservations", orderId: order.order_id }],
    });
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "CANCELLED");
    assert.equal(row.state, "cancelled");
    assert.equal(calls(h.sandbox, "inventory", ROUTES.reserveInventory), 3);
    // The release found nothing (404) and counts as done.
    assert.equal(calls(h.sandbox, "inventory", ROUTES.releaseReservation), 1);
    assert.deepEqual(await stepRecords(h.sql, order.order_id), {
      createOrder: "ok 201",
      releaseReservation: "ok 404",
      cancelOrder: "ok 200",
      voidPayment: "ok 200",
    });
    assert.deepEqual(await historyEvents(h.sql, order.order_id), [
      "OrderPlaced",
      "createOrder:ok",
      "reserveInventory:transient",
      "retryDue",
      "reserveInventory:transient",
      "retryDue",
      "reserveInventory:transient",
      "releaseReservation:ok",
      "cancelOrder:ok",
      "voidPayment:ok",
    ]);
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, cancelled: 1, voided: 1 }),
    );
    assert.deepEqual(effectSequence(h.sandbox, order.order_id), ["created", "cancelled", "voided"]);
    assert.equal(row.snapshot.context.failure?.step, "reserveInventory");
    assert.match(row.snapshot.context.failure?.reason ?? "", /^retries exhausted: HTTP 503/);
  } finally {
    await h.close();
  }
});

Deno.test("a lost capture response is retried with the same key and replayed, capturing once", async () => {
  const h = await harness({ record: ["payments"] });
  try {
    const order = sampleOrder();
    h.sandbox.payments.setFaults({
      rules: [{ method: "POST", path: "/payments/capture", times: 1, afterEffect: true }],
    });
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "COMPLETED");
    assert.equal(calls(h.sandbox, "payments", ROUTES.capturePayment), 2);
    const payments = h.sandbox.payments.stats({ log: false });
    assert.equal(payments.idempotentReplays, 1);
    assert.equal(payments.faultsInjected, 1);
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
    );
    const captures = h.requests.filter((r) => r.path.startsWith("/payments/capture/"));
    assert.deepEqual(
      captures.map((r) => r.idempotencyKey),
      [`${order.order_id}:capturePayment`, `${order.order_id}:capturePayment`],
    );
    assert.deepEqual(await stepRecords(h.sql, order.order_id), {
      createOrder: "ok 201",
      reserveInventory: "ok 201",
      capturePayment: "ok 200",
      confirmOrder: "ok 200",
    });
    assert.deepEqual(await historyEvents(h.sql, order.order_id), [
      "OrderPlaced",
      "createOrder:ok",
      "reserveInventory:ok",
      "capturePayment:attempt",
      "capturePayment:transient",
      "retryDue",
      "capturePayment:ok",
      "confirmOrder:ok",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("a confirmation rejected a few times after the capture is retried until it completes, never compensated", async () => {
  const h = await harness();
  try {
    const order = sampleOrder();
    h.sandbox.orders.setFaults({
      rules: [{ method: "POST", path: "/confirmation", status: 409, times: 2 }],
    });
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "COMPLETED");
    assert.equal(row.state, "completed");
    assert.equal(calls(h.sandbox, "orders", ROUTES.confirmOrder), 3);
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
    );
    assert.deepEqual(await stepRecords(h.sql, order.order_id), {
      createOrder: "ok 201",
      reserveInventory: "ok 201",
      capturePayment: "ok 200",
      confirmOrder: "ok 200",
    });
    assert.deepEqual(await historyEvents(h.sql, order.order_id), [
      "OrderPlaced",
      "createOrder:ok",
      "reserveInventory:ok",
      "capturePayment:attempt",
      "capturePayment:ok",
      "confirmOrder:rejected",
      "retryDue",
      "confirmOrder:rejected",
      "retryDue",
      "confirmOrder:ok",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("a confirmation that always fails parks the saga as NEEDS_ATTENTION without compensating", async () => {
  const h = await harness({ start: false });
  try {
    const instance = h.startCapturing({ CONFIRM_MAX_ATTEMPTS: "3" });
    const order = sampleOrder();
    h.sandbox.orders.setFaults({ rules: [{ method: "POST", path: "/confirmation" }] });
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "NEEDS_ATTENTION");
    assert.equal(row.state, "needsAttention");
    assert.equal(row.lease_owner, null);
    assert.equal(row.snapshot.context.parkedAt, "confirmingOrder");
    assert.equal(row.snapshot.context.failure?.step, "confirmOrder");
    assert.match(row.snapshot.context.failure?.reason ?? "", /^retries exhausted: HTTP 503/);
    assert.equal(calls(h.sandbox, "orders", ROUTES.confirmOrder), 3);
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, captured: 1 }),
    );
    assert.equal(calls(h.sandbox, "orders", ROUTES.cancelOrder), 0);
    assert.equal(calls(h.sandbox, "inventory", ROUTES.releaseReservation), 0);
    assert.equal(calls(h.sandbox, "payments", ROUTES.voidPayment), 0);
    assert.deepEqual(await stepRecords(h.sql, order.order_id), {
      createOrder: "ok 201",
      reserveInventory: "ok 201",
      capturePayment: "ok 200",
    });
    const events = await historyEvents(h.sql, order.order_id);
    assert.deepEqual(events.slice(-1), ["confirmOrder:transient"]);
    assert.equal(events.filter((e) => e === "confirmOrder:transient").length, 3);
    const last = (await historyRows(h.sql, order.order_id)).at(-1);
    assert.equal(last?.to_state, "needsAttention");
    // The operator hears of it at warn, with the step and its last failure.
    const warned = instance.logs.filter((l) => l.level === 40 && l.order_id === order.order_id);
    assert.equal(warned.length, 1, JSON.stringify(warned));
    assert.match(String(warned[0]!.msg), /NEEDS_ATTENTION/);
    assert.equal(warned[0]!.event, "confirmOrder:transient");
    assert.equal(warned[0]!.status, 503);
  } finally {
    await h.close();
  }
});

Deno.test("a void that exhausts its retries parks the saga as NEEDS_ATTENTION after the other compensations", async () => {
  const h = await harness({ env: { COMPENSATION_MAX_ATTEMPTS: "3" } });
  try {
    const order = sampleOrder({ payment_authorization_id: "decline-and-no-void" });
    h.sandbox.payments.setFaults({ rules: [{ method: "POST", path: "/payments/void" }] });
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "NEEDS_ATTENTION");
    assert.equal(row.state, "needsAttention");
    assert.equal(row.snapshot.context.parkedAt, "voidingPayment");
    assert.equal(row.snapshot.context.failure?.step, "voidPayment");
    assert.equal(calls(h.sandbox, "payments", ROUTES.voidPayment), 3);
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, released: 1, cancelled: 1 }),
    );
    assert.deepEqual(effectSequence(h.sandbox, order.order_id), [
      "created",
      "reserved",
      "released",
      "cancelled",
    ]);
    assert.deepEqual(await stepRecords(h.sql, order.order_id), {
      createOrder: "ok 201",
      reserveInventory: "ok 201",
      capturePayment: "rejected 402",
      releaseReservation: "ok 200",
      cancelOrder: "ok 200",
    });
    const events = await historyEvents(h.sql, order.order_id);
    assert.equal(events.filter((e) => e === "voidPayment:transient").length, 3);
  } finally {
    await h.close();
  }
});

Deno.test("a cancellation during a slow reservation compensates what was touched and captures nothing", async () => {
  const h = await harness();
  try {
    const order = sampleOrder();
    // The reservation hangs, then fails without an effect: the cancel lands mid-call.
    h.sandbox.inventory.setFaults({
      rules: [{ method: "POST", path: "/reservations", delayMs: 600, times: 1 }],
    });
    await placeOrder(h.sql, order);
    await waitFor(() => calls(h.sandbox, "inventory", ROUTES.reserveInventory) >= 1, {
      what: "the reservation call to start",
    });
    await requestCancel(h.sql, order.order_id, "changed my mind");
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "CANCELLED");
    assert.equal(row.state, "cancelled");
    assert.equal(row.snapshot.context.cancelReason, "changed my mind");
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, cancelled: 1, voided: 1 }),
    );
    assert.deepEqual(effectSequence(h.sandbox, order.order_id), ["created", "cancelled", "voided"]);
    assert.equal(calls(h.sandbox, "payments", ROUTES.capturePayment), 0);
    assert.equal(h.sandbox.orders.get(order.order_id)?.cancel_reason, "changed my mind");
    const steps = await stepRecords(h.sql, order.order_id);
    assert.equal(steps.capturePayment, undefined);
    assert.equal(steps.releaseReservation, "ok 404");
    const events = await historyEvents(h.sql, order.order_id);
    assert.ok(events.includes("OrderCancellationRequested"), events.join(", "));
    assert.ok(events.includes("CANCEL"), events.join(", "));
    assert.deepEqual(events.slice(-3), [
      "releaseReservation:ok",
      "cancelOrder:ok",
      "voidPayment:ok",
    ]);
    assert.deepEqual((await outboxRows(h.sql, order.order_id)).map((r) => r.status), [
      "PROCESSED",
      "PROCESSED",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("a cancellation during a reservation that then succeeds still cancels before the capture", async () => {
  const h = await harness();
  try {
    const order = sampleOrder();
    // The reservation succeeds, slowly: the cancel is recorded before the capture is ever tried.
    h.sandbox.inventory.processingMs = 600;
    await placeOrder(h.sql, order);
    await waitFor(() => calls(h.sandbox, "inventory", ROUTES.reserveInventory) >= 1, {
      what: "the reservation call to start",
    });
    await requestCancel(h.sql, order.order_id, "changed my mind");
    await waitFor(async () =>
      (await outboxRows(h.sql, order.order_id)).every((r) => r.status === "PROCESSED")
    );
    const requested = (await historyRows(h.sql, order.order_id))
      .find((r) => r.event === "OrderCancellationRequested");
    assert.equal(requested?.from_state, "reservingInventory", "recorded before the pivot");
    const row = await settled(h.sql, order.order_id);

    assert.equal(calls(h.sandbox, "payments", ROUTES.capturePayment), 0, "no capture attempted");
    assert.equal(row.status, "CANCELLED");
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, released: 1, cancelled: 1, voided: 1 }),
    );
    assert.deepEqual(effectSequence(h.sandbox, order.order_id), [
      "created",
      "reserved",
      "released",
      "cancelled",
      "voided",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("a cancellation committed with its OrderPlaced cancels the order before any capture", async () => {
  const h = await harness();
  try {
    const order = sampleOrder();
    await h.sql.begin(async (tx) => {
      await tx`INSERT INTO outbox (order_id, event_type, payload)
        VALUES (${order.order_id}, 'OrderPlaced', ${tx.json(order as never)})`;
      await tx`INSERT INTO outbox (order_id, event_type, payload) VALUES (${order.order_id},
        'OrderCancellationRequested', ${tx.json({ order_id: order.order_id, reason: "oops" })})`;
    });
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "CANCELLED");
    assert.equal(row.snapshot.context.cancelReason, "oops");
    const effects = effectsFor(h.sandbox, order.order_id);
    assert.equal(effects.captured, 0);
    assert.equal(effects.reserved, effects.released, "any reservation is released");
    assert.equal(effects.created, effects.cancelled, "any created order is cancelled");
    assert.equal(effects.voided, 1);
    assert.equal(effectSequence(h.sandbox, order.order_id).at(-1), "voided");
    assert.deepEqual((await outboxRows(h.sql, order.order_id)).map((r) => r.status), [
      "PROCESSED",
      "PROCESSED",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("a cancellation during a long retry wait wakes the saga and compensates without waiting out the delay", async () => {
  // Retry-After: 30 s on a 503 makes the wait at least 30 s (capped at 10 × RETRY_MAX_MS).
  const h = await harness({ env: { RETRY_BASE_MS: "3000", RETRY_MAX_MS: "3000" } });
  try {
    const order = sampleOrder();
    h.sandbox.inventory.setFaults({
      rules: [{ method: "POST", path: "/reservations", retryAfter: "30", times: 1 }],
    });
    await placeOrder(h.sql, order);
    await waitFor(async () => (await ledgerRow(h.sql, order.order_id))?.pending?.kind === "timer", {
      what: "the saga to wait for its retry",
    });
    await requestCancel(h.sql, order.order_id);
    const row = await settled(h.sql, order.order_id, 10_000);

    assert.equal(row.status, "CANCELLED");
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, cancelled: 1, voided: 1 }),
    );
    assert.equal(calls(h.sandbox, "inventory", ROUTES.reserveInventory), 1);
    assert.equal(calls(h.sandbox, "payments", ROUTES.capturePayment), 0);
  } finally {
    await h.close();
  }
});

Deno.test("a cancellation after the capture is recorded and ignored: the order completes without a void", async () => {
  const h = await harness();
  try {
    const order = sampleOrder();
    // The first confirmation hangs and fails, so the saga is caught in confirmingOrder.
    h.sandbox.orders.setFaults({
      rules: [{ method: "POST", path: "/confirmation", delayMs: 600, times: 1 }],
    });
    await placeOrder(h.sql, order);
    await waitFor(() => calls(h.sandbox, "orders", ROUTES.confirmOrder) >= 1, {
      what: "the confirmation call to start",
    });
    assert.equal((await ledgerRow(h.sql, order.order_id))?.state, "confirmingOrder");
    await requestCancel(h.sql, order.order_id, "too late");
    const row = await settled(h.sql, order.order_id);

    assert.equal(row.status, "COMPLETED");
    assert.equal(row.state, "completed");
    assert.equal(row.snapshot.context.cancelReason, "too late");
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
    );
    assert.equal(calls(h.sandbox, "payments", ROUTES.voidPayment), 0);
    assert.equal(calls(h.sandbox, "orders", ROUTES.cancelOrder), 0);
    assert.equal(calls(h.sandbox, "inventory", ROUTES.releaseReservation), 0);
    const history = await historyRows(h.sql, order.order_id);
    const requested = history.find((r) => r.event === "OrderCancellationRequested");
    assert.ok(requested, "the request is in the history");
    assert.equal(requested.from_state, "confirmingOrder");
    assert.deepEqual(requested.detail, { reason: "too late", status: "RUNNING" });
    assert.equal(history.at(-1)?.event, "confirmOrder:ok");
    assert.deepEqual((await outboxRows(h.sql, order.order_id)).map((r) => r.status), [
      "PROCESSED",
      "PROCESSED",
    ]);

    // A cancellation after completion only adds a history line.
    await requestCancel(h.sql, order.order_id, "even later");
    await waitFor(async () =>
      (await outboxRows(h.sql, order.order_id)).every((r) => r.status === "PROCESSED") &&
      (await outboxRows(h.sql, order.order_id)).length === 3
    );
    const after = await historyRows(h.sql, order.order_id);
    assert.deepEqual(after.at(-1)?.detail, { reason: "even later", status: "COMPLETED" });
    assert.equal(after.at(-1)?.event, "OrderCancellationRequested");
    assert.equal((await ledgerRow(h.sql, order.order_id))?.status, "COMPLETED");
    assert.equal(calls(h.sandbox, "payments", ROUTES.voidPayment), 0);
  } finally {
    await h.close();
  }
});

Deno.test("a duplicate OrderPlaced, in one transaction or in separate ones, runs one saga with each effect once", async () => {
  const h = await harness();
  try {
    const same = sampleOrder();
    const separate = sampleOrder();
    await h.sql.begin(async (tx) => {
      for (let i = 0; i < 2; i++) {
        await tx`INSERT INTO outbox (order_id, event_type, payload)
          VALUES (${same.order_id}, 'OrderPlaced', ${tx.json(same as never)})`;
      }
    });
    await placeOrder(h.sql, separate);
    await placeOrder(h.sql, separate);
    await settled(h.sql, same.order_id);
    await settled(h.sql, separate.order_id);
    // And once more after it finished.
    await placeOrder(h.sql, separate);
    await waitFor(async () =>
      (await outboxRows(h.sql, separate.order_id)).filter((r) => r.status === "PROCESSED")
        .length === 3
    );

    for (const order of [same, separate]) {
      const [{ n }] = await h.sql<[{ n: number }]>`
        SELECT count(*)::int AS n FROM order_ledger WHERE order_id = ${order.order_id}`;
      assert.equal(n, 1);
      assert.equal((await ledgerRow(h.sql, order.order_id))?.status, "COMPLETED");
      assert.deepEqual(
        effectsFor(h.sandbox, order.order_id),
        only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
      );
      const events = await historyEvents(h.sql, order.order_id);
      assert.equal(events.filter((e) => e === "OrderPlaced").length, 1);
      assert.equal(events.filter((e) => e === "createOrder:ok").length, 1);
      for (const r of await outboxRows(h.sql, order.order_id)) {
        assert.equal(r.status, "PROCESSED");
        assert.equal(r.last_error, null);
      }
    }
    assert.equal(calls(h.sandbox, "orders", ROUTES.createOrder), 2);
    assert.equal(calls(h.sandbox, "payments", ROUTES.capturePayment), 2);
  } finally {
    await h.close();
  }
});

Deno.test("a retry wait is stored as a deadline on an unleased ledger row", async () => {
  // Full jitter alone could pick ~0 ms; Retry-After: 1 pins the wait to 1000–1500 ms.
  const h = await harness({ env: { RETRY_BASE_MS: "1500", RETRY_MAX_MS: "1500" } });
  try {
    const order = sampleOrder();
    h.sandbox.inventory.setFaults({
      rules: [{ method: "POST", path: "/reservations", retryAfter: "1", times: 1 }],
    });
    await placeOrder(h.sql, order);
    const waiting = await waitFor(async () => {
      const row = await ledgerRow(h.sql, order.order_id);
      return row?.pending?.kind === "timer" ? row : undefined;
    }, { what: "the retry wait" });
    const observedAt = Date.now();

    assert.equal(waiting.status, "RUNNING");
    assert.equal(waiting.state, "reservingInventory");
    assert.deepEqual(waiting.snapshot.value, { reservingInventory: "waiting" });
    assert.equal(waiting.lease_owner, null);
    assert.equal(waiting.lease_until, null);
    const at = waiting.pending?.at;
    assert.equal(typeof at, "number");
    assert.equal(waiting.run_at.getTime(), at, "run_at is the stored deadline");
    assert.ok(at! > observedAt, "the deadline is in the future");
    const retryInMs = waiting.snapshot.context.retryInMs;
    assert.ok(retryInMs >= 1000 && retryInMs <= 1500, `retryInMs ${retryInMs}`);
    const [transient] = await h.sql<[{ at: Date }]>`
      SELECT at FROM saga_history WHERE order_id = ${order.order_id}
        AND event = 'reserveInventory:transient'`;
    assert.ok(
      Math.abs(at! - (transient.at.getTime() + retryInMs)) < 250,
      "deadline = time of the failure + the chosen delay",
    );

    const done = await settled(h.sql, order.order_id);
    assert.equal(done.status, "COMPLETED");
    const [retried] = await h.sql<[{ at: Date }]>`
      SELECT at FROM saga_history WHERE order_id = ${order.order_id} AND event = 'retryDue'`;
    assert.ok(retried.at.getTime() >= at! - 5, "the retry did not run before its deadline");
    assert.equal(calls(h.sandbox, "inventory", ROUTES.reserveInventory), 2);
  } finally {
    await h.close();
  }
});
