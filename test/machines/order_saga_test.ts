// The saga machine on its own: pure transitions, no database, no HTTP.
import assert from "node:assert/strict";
import { createActor, fromPromise, transition } from "xstate";
import { canCancel, orderSagaV1, statusOf } from "../../machines/order_saga.ts";
import { orderSaga } from "../../machines/order_definition.ts";
import { sagaVersion } from "../../machines/registry.ts";
import type { StepInput, StepName, StepOutput } from "../../machines/order_types.ts";
import {
  requestedWorkOf,
  restoreSnapshot,
  startSaga,
  statusesInState,
} from "../../src/engine/saga_state.ts";

const v1 = sagaVersion(orderSaga.current)!;

const order = {
  orderId: "7f000000-0000-4000-8000-0000000000e1",
  customerId: "c1",
  items: [{ sku: "A", quantity: 1, unitPriceCents: 100 }],
  totalCents: 100,
  currency: "USD",
  authorizationId: "auth-1",
};
const budget = { forward: 3, confirm: 3, compensation: 2 };
const ok: StepOutput = { outcome: "ok", status: 200 };
const rejected: StepOutput = { outcome: "rejected", status: 409, reason: "no" };
const transient: StepOutput = { outcome: "transient", status: 503, reason: "busy", retryInMs: 50 };

/** Feeds outcomes per step; returns the steps called, in order, and the final snapshot. */
function run(
  outcomes: Partial<Record<StepName, StepOutput[]>>,
  events: Record<number, { type: "CANCEL"; reason: string }> = {},
) {
  let { snapshot, pending } = startSaga(orderSagaV1, { order, budget });
  const calls: StepName[] = [];
  for (let turn = 0; turn < 100 && pending; turn++) {
    let event: unknown;
    if (events[turn]) {
      event = events[turn];
    } else if (pending.kind === "step") {
      const step = pending.step as StepName;
      calls.push(step);
      event = {
        type: `xstate.done.actor.${pending.invokeId}`,
        output: outcomes[step]?.shift() ?? ok,
      };
    } else {
      event = pending.event;
    }
    const [next, actions] = transition(orderSagaV1, snapshot, event as never);
    const p = requestedWorkOf(actions);
    pending = p ?? (JSON.stringify(next.value) === JSON.stringify(snapshot.value) ? pending : null);
    snapshot = next;
  }
  return { calls, snapshot, status: statusOf(snapshot) };
}

Deno.test("the happy path calls the four forward steps once each and completes", () => {
  const r = run({});
  assert.deepEqual(r.calls, ["createOrder", "reserveInventory", "capturePayment", "confirmOrder"]);
  assert.equal(r.status, "COMPLETED");
});

Deno.test("a declined capture compensates newest first and voids last", () => {
  const r = run({ capturePayment: [rejected] });
  assert.deepEqual(r.calls.slice(3), ["releaseReservation", "cancelOrder", "voidPayment"]);
  assert.equal(r.status, "CANCELLED");
});

Deno.test("out of stock undoes only the order and the authorization", () => {
  const r = run({ reserveInventory: [rejected] });
  assert.deepEqual(r.calls, ["createOrder", "reserveInventory", "cancelOrder", "voidPayment"]);
});

Deno.test("a transiently failing step that may have acted is compensated when its budget is spent", () => {
  const r = run({ reserveInventory: [transient, transient, transient] });
  assert.deepEqual(r.calls, [
    "createOrder",
    "reserveInventory",
    "reserveInventory",
    "reserveInventory",
    "releaseReservation",
    "cancelOrder",
    "voidPayment",
  ]);
  assert.equal(r.status, "CANCELLED");
});

Deno.test("a capture that exhausts its retries parks instead of voiding", () => {
  const r = run({ capturePayment: [transient, transient, transient] });
  assert.equal(r.status, "NEEDS_ATTENTION");
  assert.ok(!r.calls.includes("voidPayment"));
  assert.equal(r.snapshot.context.parkedAt, "capturingPayment");
});

Deno.test("confirm is retried on rejection and never compensates", () => {
  const r = run({ confirmOrder: [rejected, transient] });
  assert.equal(r.status, "COMPLETED");
  assert.deepEqual(r.calls.filter((c) => c === "confirmOrder").length, 3);
  const parked = run({ confirmOrder: [rejected, rejected, rejected] });
  assert.equal(parked.status, "NEEDS_ATTENTION");
  assert.ok(!parked.calls.includes("voidPayment"));
});

Deno.test("a compensation that exhausts its budget parks, and RETRY resumes it", () => {
  const r = run({ capturePayment: [rejected], voidPayment: [transient, transient] });
  assert.equal(r.status, "NEEDS_ATTENTION");
  assert.equal(r.snapshot.context.parkedAt, "voidingPayment");
  const [resumed, actions] = transition(orderSagaV1, r.snapshot, { type: "RETRY" });
  assert.equal(JSON.stringify(resumed.value), JSON.stringify({ voidingPayment: "calling" }));
  assert.equal(requestedWorkOf(actions)?.kind, "step");
});

Deno.test("CANCEL before the pivot compensates; during the capture it is only noted", () => {
  const before = run({}, { 1: { type: "CANCEL", reason: "changed mind" } });
  assert.deepEqual(before.calls, ["createOrder", "cancelOrder", "voidPayment"]);
  assert.equal(before.status, "CANCELLED");
  // In capturingPayment with the capture never tried: still before the pivot.
  const untried = run({}, { 2: { type: "CANCEL", reason: "just in time" } });
  assert.deepEqual(untried.calls, [
    "createOrder",
    "reserveInventory",
    "releaseReservation",
    "cancelOrder",
    "voidPayment",
  ]);
  assert.equal(untried.status, "CANCELLED");
  // After a capture attempt whose outcome is unknown it may have happened: only noted.
  const during = run({ capturePayment: [transient] }, {
    3: { type: "CANCEL", reason: "too late" },
  });
  assert.equal(during.status, "COMPLETED");
  assert.equal(during.snapshot.context.cancelReason, "too late");
});

Deno.test("the machine also runs under a live interpreter with provided step actors", async () => {
  const seen: StepName[] = [];
  const step = (name: StepName) =>
    fromPromise<StepOutput, StepInput>(({ input }) => {
      seen.push(input.step);
      return Promise.resolve(name === "reserveInventory" ? rejected : ok);
    });
  const actor = createActor(
    orderSagaV1.provide({
      actors: {
        createOrder: step("createOrder"),
        reserveInventory: step("reserveInventory"),
        capturePayment: step("capturePayment"),
        confirmOrder: step("confirmOrder"),
        releaseReservation: step("releaseReservation"),
        cancelOrder: step("cancelOrder"),
        voidPayment: step("voidPayment"),
      },
    }),
    { input: { order, budget } },
  );
  const done = new Promise<string>((resolve) =>
    actor.subscribe((s) => s.status === "done" && resolve(String(s.value)))
  );
  actor.start();
  assert.equal(await done, "cancelled");
  assert.deepEqual(seen, ["createOrder", "reserveInventory", "cancelOrder", "voidPayment"]);
});

Deno.test("a capture in doubt stays in doubt: parked, retried, then cancelled, it never compensates", () => {
  const parked = run({ capturePayment: [transient, transient, transient] });
  assert.equal(parked.status, "NEEDS_ATTENTION");
  assert.equal(parked.snapshot.context.captureAttempted, true);
  const [retried] = transition(orderSagaV1, parked.snapshot, { type: "RETRY" });
  assert.equal(retried.context.attempts, 0, "an operator retry resets the attempt count");
  assert.equal(retried.context.captureAttempted, true, "but never the fact of an attempt");
  const [cancelled] = transition(orderSagaV1, retried, { type: "CANCEL", reason: "late" });
  assert.equal(JSON.stringify(cancelled.value), JSON.stringify({ capturingPayment: "calling" }));
  assert.equal(cancelled.context.cancelReason, "late", "the cancellation is noted");
  assert.equal(canCancel(cancelled).allowed, false, "the admin API answers 409");
});

Deno.test("ATTEMPT is taken once, before the first capture, and closes the door on CANCEL", () => {
  let { snapshot } = startSaga(orderSagaV1, { order, budget });
  for (const step of ["createOrder", "reserveInventory"]) {
    [snapshot] = transition(orderSagaV1, snapshot, {
      type: `xstate.done.actor.${step}`,
      output: ok,
    } as never);
  }
  assert.equal(snapshot.can({ type: "ATTEMPT" }), true);
  assert.deepEqual(canCancel(snapshot), { allowed: true });
  const [attempted] = transition(orderSagaV1, snapshot, { type: "ATTEMPT" });
  assert.equal(attempted.context.captureAttempted, true);
  assert.equal(attempted.can({ type: "ATTEMPT" }), false, "once only");
  assert.equal(canCancel(attempted).allowed, false);
  const [noted] = transition(orderSagaV1, attempted, { type: "CANCEL", reason: "r" });
  assert.equal(statusOf(noted), "RUNNING");
  assert.equal(JSON.stringify(noted.value), JSON.stringify({ capturingPayment: "calling" }));
  // A decline is Payments' definitive "no": it still compensates.
  const [declined] = transition(orderSagaV1, noted, {
    type: "xstate.done.actor.capturePayment",
    output: { outcome: "rejected", status: 402, reason: "payment_declined" },
  } as never);
  assert.equal(JSON.stringify(declined.value), JSON.stringify({ releasingReservation: "calling" }));
});

Deno.test("a snapshot persisted before captureAttempted existed loads with it inferred", () => {
  const legacy = (value: unknown, over: Record<string, unknown>) => {
    const { snapshot } = startSaga(orderSagaV1, { order, budget });
    const { captureAttempted: _, ...context } = snapshot.context;
    return restoreSnapshot(v1, { value, context: { ...context, ...over } });
  };
  const parked = legacy("needsAttention", { parkedAt: "capturingPayment" });
  assert.equal(parked.context.captureAttempted, true);
  const waiting = legacy({ capturingPayment: "waiting" }, { attempts: 1 });
  assert.equal(waiting.context.captureAttempted, true);
  // Nothing recorded a request about to leave, so reaching the capture counts.
  const calling = legacy({ capturingPayment: "calling" }, { attempts: 0 });
  assert.equal(calling.context.captureAttempted, true);
  assert.equal(legacy({ reservingInventory: "calling" }, {}).context.captureAttempted, false);
});

Deno.test("statusesInState: a final state has its one status, any other state the unfinished ones", () => {
  assert.deepEqual(statusesInState("completed", [v1]), ["COMPLETED"]);
  assert.deepEqual(statusesInState("cancelled", [v1]), ["CANCELLED"]);
  assert.deepEqual(statusesInState("capturingPayment", [v1]), [
    "RUNNING",
    "NEEDS_ATTENTION",
  ]);
  assert.deepEqual(statusesInState("needsAttention", [v1]), [
    "RUNNING",
    "NEEDS_ATTENTION",
  ]);
});
