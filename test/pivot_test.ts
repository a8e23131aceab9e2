// The pivot is a one-way door: once a capture has been attempted, nothing but
// Payments' own decline compensates the saga — not an operator's cancel, not
// a producer's OrderCancellationRequested, not an operator's retry of the
// parked saga, not a crash. Real PostgreSQL, real services on loopback, the
// admin API, and (for the crash) a real process killed at a named point.
import assert from "node:assert/strict";
import { createAdminApp } from "../src/admin/app.ts";
import type { Sql } from "../src/db/client.ts";
import {
  calls,
  effectsFor,
  harness,
  historyEvents,
  ledgerRow,
  only,
  outboxRows,
  ROUTES,
  settled,
} from "./helpers/saga_assert.ts";
import {
  placeOrder,
  requestCancel,
  sampleOrder,
  waitFor,
  waitForStatus,
} from "./helpers/orders.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import { freshDatabase, startOrchestratorProcess } from "../tooling/cluster/mod.ts";

function admin(sql: Sql) {
  const app = createAdminApp({ sql, listening: () => true, instanceId: "pivot-test" });
  return async (method: string, path: string, body?: string) => {
    const res = await app.request(path, { method, body });
    return { status: res.status, body: await res.json() };
  };
}

/** Every capture takes the money, then answers too late: the client times out. */
const CAPTURES_TIME_OUT = {
  rules: [{ method: "POST", path: "/payments/capture", afterEffect: true, delayMs: 1500 }],
};
const IN_DOUBT_ENV = {
  STEP_MAX_ATTEMPTS: "2",
  HTTP_TIMEOUT_MS: "300",
  RETRY_BASE_MS: "20",
  RETRY_MAX_MS: "50",
};

/** The money stayed taken and nothing was undone. */
function assertCapturedNeverCompensated(sandbox: Parameters<typeof effectsFor>[0], id: string) {
  assert.deepEqual(
    effectsFor(sandbox, id),
    only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
  );
  assert.equal(calls(sandbox, "payments", ROUTES.voidPayment), 0, "no void was ever sent");
  assert.equal(calls(sandbox, "orders", ROUTES.cancelOrder), 0, "no order cancellation sent");
  assert.equal(calls(sandbox, "inventory", ROUTES.releaseReservation), 0, "no release sent");
}

Deno.test("a capture in doubt is never compensated: cancelled by the operator and the producer, then retried, it completes", async () => {
  const h = await harness({ env: IN_DOUBT_ENV });
  try {
    const call = admin(h.sql);
    const order = sampleOrder();
    const id = order.order_id;
    h.sandbox.payments.setFaults(CAPTURES_TIME_OUT);
    await placeOrder(h.sql, order);
    const parked = await waitForStatus(h.sql, id, ["NEEDS_ATTENTION"]);
    assert.equal(parked.state, "needsAttention");
    assert.equal(h.sandbox.payments.stats({ log: false }).totals.captured, 1, "the money is taken");

    const first = await call("POST", `/sagas/${id}/cancel`);
    assert.equal(first.status, 409);
    assert.match(first.body.error, /a payment capture has been attempted/);

    // A producer's cancellation for the parked saga is recorded, not dropped.
    await requestCancel(h.sql, id, "customer changed their mind");
    await waitFor(async () => (await outboxRows(h.sql, id)).every((e) => e.status === "PROCESSED"));
    const recorded = await ledgerRow(h.sql, id);
    assert.equal(recorded?.status, "NEEDS_ATTENTION");
    assert.equal(recorded?.cancel_reason, "customer changed their mind");

    h.sandbox.payments.setFaults({});
    assert.equal((await call("POST", `/sagas/${id}/retry`)).status, 202);
    const second = await call("POST", `/sagas/${id}/cancel`);
    assert.equal(second.status, 409, "still refused while the retried saga runs");

    const done = await settled(h.sql, id);
    assert.equal(done.status, "COMPLETED");
    assert.equal(done.snapshot.context.cancelReason, "customer changed their mind", "noted");
    assertCapturedNeverCompensated(h.sandbox, id);
    const events = await historyEvents(h.sql, id);
    assert.ok(events.includes("CANCEL"), "the cancellation reached the saga and was ignored");
    assert.equal(events.filter((e) => e === "capturePayment:attempt").length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("a cancellation recorded while a saga was parked before any capture attempt compensates after the retry", async () => {
  const h = await harness({
    env: { STEP_MAX_ATTEMPTS: "1000", RETRY_BASE_MS: "2000", RETRY_MAX_MS: "2000" },
  });
  try {
    const call = admin(h.sql);
    const order = sampleOrder();
    const id = order.order_id;
    // The reservation fails for a while: the saga waits in reservingInventory.
    h.sandbox.inventory.setFaults({ rules: [{ method: "POST", path: "/reservations" }] });
    await placeOrder(h.sql, order);
    await waitFor(async () => (await ledgerRow(h.sql, id))?.pending?.kind === "timer", {
      what: "the saga to wait for a reservation retry",
    });
    // Parked the way the runner parks after an unexpected error: the machine
    // is still in reservingInventory, nothing was ever sent to Payments.
    await h.sql`UPDATE order_ledger SET status = 'NEEDS_ATTENTION',
      last_error = 'unexpected error: test' WHERE order_id = ${id}`;
    await requestCancel(h.sql, id, "fraud suspected");
    await waitFor(async () => (await outboxRows(h.sql, id)).every((e) => e.status === "PROCESSED"));
    assert.equal((await ledgerRow(h.sql, id))?.cancel_reason, "fraud suspected");

    h.sandbox.inventory.setFaults({});
    assert.equal((await call("POST", `/sagas/${id}/retry`)).status, 202);
    const done = await settled(h.sql, id);
    assert.equal(done.status, "CANCELLED");
    const effects = effectsFor(h.sandbox, id);
    assert.equal(effects.captured, 0);
    assert.equal(effects.created, 1);
    assert.equal(effects.cancelled, 1);
    assert.equal(effects.voided, 1);
    assert.equal(calls(h.sandbox, "payments", ROUTES.capturePayment), 0);
  } finally {
    await h.close();
  }
});

Deno.test("a capture in doubt stays in doubt across a crash between the operator's retry and the next step", async () => {
  const db = await freshDatabase({ migrate: false });
  const sandbox = await startSandbox();
  const env = {
    DATABASE_URL: db.url,
    ...sandbox.env,
    ...IN_DOUBT_ENV,
    LEASE_MS: "1000",
    POLL_INTERVAL_MS: "200",
  };
  const order = sampleOrder();
  const id = order.order_id;
  // Two capture calls park the saga; the third, after the retry, is where it dies.
  const first = startOrchestratorProcess({
    ...env,
    INSTANCE_ID: "first",
    CRASH_POINT: "before_call:capturePayment",
    CRASH_POINT_HIT: "3",
  });
  let second: ReturnType<typeof startOrchestratorProcess> | undefined;
  try {
    await first.waitForLog((l) => l.msg === "Starting polling loop");
    sandbox.payments.setFaults(CAPTURES_TIME_OUT);
    await placeOrder(db.sql, order);
    await waitForStatus(db.sql, id, ["NEEDS_ATTENTION"]);
    sandbox.payments.setFaults({});
    const call = admin(db.sql);
    await requestCancel(db.sql, id, "too late now");
    await waitFor(async () =>
      (await outboxRows(db.sql, id)).every((e) => e.status === "PROCESSED")
    );
    assert.equal((await call("POST", `/sagas/${id}/retry`)).status, 202);
    const status = await first.status;
    assert.notEqual(status.code, 0, "killed at the crash point");
    assert.equal((await call("POST", `/sagas/${id}/cancel`)).status, 409);

    second = startOrchestratorProcess({ ...env, INSTANCE_ID: "second" });
    const done = await waitForStatus(db.sql, id, ["COMPLETED", "CANCELLED"], 20_000);
    assert.equal(done.status, "COMPLETED");
    assertCapturedNeverCompensated(sandbox, id);
  } finally {
    first.kill("SIGKILL");
    second?.kill("SIGKILL");
    await first.status;
    await second?.status;
    await sandbox.close();
    await db.drop();
  }
});
