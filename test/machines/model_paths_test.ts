// Model-based tests: generated paths through the saga and supervisor machines
// cover every transition, and every path ends consistently.
import assert from "node:assert/strict";
import { fromCallback, fromPromise } from "xstate";
import { orderSagaV1, type SagaContext, STEP_STATES } from "../../machines/order_saga.ts";
import { type SupervisorEvent, supervisorMachine } from "../../machines/supervisor.ts";
import type { StepOutput } from "../../machines/order_types.ts";
import { allTransitions, exploreEdges } from "../helpers/model_coverage.ts";
import { sagaEvents as sagaEventsFor } from "../helpers/saga_events.ts";

const pending = fromPromise(() => new Promise<never>(() => {}));
const saga = orderSagaV1.provide({
  actors: Object.fromEntries(Object.values(STEP_STATES).map((s) => [s, pending])) as never,
});
const OUTPUTS: StepOutput[] = [
  { outcome: "ok", status: 200 },
  { outcome: "rejected", status: 409, reason: "rejected" },
  // A delay nobody waits for: the test sends the timer event itself.
  { outcome: "transient", status: 503, reason: "busy", retryInMs: 1e9 },
];

const sagaEvents = sagaEventsFor(OUTPUTS);

const COMPENSATION = new Set([
  "compensating",
  "releasingReservation",
  "cancellingOrder",
  "voidingPayment",
  "cancelled",
]);
const topState = (value: unknown) =>
  typeof value === "string" ? value : Object.keys(value as object)[0] ?? "";

function coverage(label: string, all: Set<string>, taken: Set<string>) {
  const missing = [...all].filter((k) => !taken.has(k));
  console.log(
    `${label}: ${all.size - missing.length}/${all.size} transitions covered (${
      (100 * (all.size - missing.length) / all.size).toFixed(1)
    }%)`,
  );
  return missing;
}

Deno.test("generated paths cover every transition of the saga machine, and every path ends consistently", () => {
  const input = {
    order: {
      orderId: "o",
      customerId: "c",
      items: [{ sku: "A", quantity: 1, unitPriceCents: 1 }],
      totalCents: 1,
      currency: "USD",
      authorizationId: "a",
    },
    budget: { forward: 2, confirm: 2, compensation: 2 },
  };
  const { states, runs, taken } = exploreEdges(saga, {
    input,
    events: sagaEvents as never,
    serializeState: ((s: { value: unknown; context: SagaContext }) =>
      JSON.stringify([
        s.value,
        s.context.attempts,
        s.context.touched,
        s.context.cancelReason !== null,
        s.context.parkedAt,
        s.context.captureAttempted,
      ])) as never,
    check: ({ events, after, final }) => {
      // Never: a compensation after a capture attempt, unless Payments declined that capture.
      let attempted = false;
      let declined = false;
      events.forEach((e, i) => {
        const ev = e as { type: string; output?: StepOutput };
        const before = i === 0 ? "creatingOrder" : topState(after[i - 1]!.value);
        if (ev.type === "ATTEMPT" && before === "capturingPayment") attempted = true;
        if (ev.type === "xstate.done.actor.capturePayment") {
          attempted = true;
          if (ev.output?.outcome === "rejected") declined = true;
        }
        const now = topState(after[i]!.value);
        assert.ok(
          !(attempted && !declined && COMPENSATION.has(now)),
          `compensated (${now}) after a capture attempt that was not declined: ${
            events.map((x) => (x as { type: string }).type).join(" → ")
          }`,
        );
        if (attempted) assert.equal(after[i]!.context.captureAttempted, true, "never forgotten");
      });
      const okSteps = events.flatMap((e) => {
        const ev = e as { type: string; output?: StepOutput };
        return ev.output?.outcome === "ok" ? [ev.type.replace("xstate.done.actor.", "")] : [];
      });
      if (final.value === "completed") {
        assert.ok(okSteps.includes("capturePayment") && okSteps.includes("confirmOrder"));
        assert.ok(!okSteps.includes("voidPayment"), "a completed order is never voided");
      }
      if (final.value === "cancelled") {
        assert.equal(okSteps.at(-1), "voidPayment", "the authorization is voided last");
        assert.ok(!okSteps.includes("capturePayment"), "nothing captured in a cancelled order");
        const undo = okSteps.filter((s) => ["releaseReservation", "cancelOrder"].includes(s));
        assert.deepEqual(undo, [...undo].sort().reverse(), "release before cancel");
      }
    },
  });
  console.log(`saga: ${states} states, ${runs} generated paths`);
  const missing = coverage("saga machine", allTransitions(saga), taken);
  assert.deepEqual(missing, []);
});

Deno.test("generated paths cover every transition of the supervisor machine", () => {
  const quiet = fromCallback<SupervisorEvent>(() => () => {});
  const sup = supervisorMachine.provide({
    actors: {
      listener: quiet,
      ticker: quiet,
      claimCycle: pending as never,
      drain: pending as never,
    },
  });
  const { states, runs, taken } = exploreEdges(sup, {
    // Actor outcomes only where the actor runs: an unhandled error event would crash the actor.
    events: ((s: { matches(v: unknown): boolean }) => [
      { type: "WAKE", source: "notify" },
      { type: "LISTEN_UP" },
      { type: "LISTEN_DOWN", error: "gone" },
      { type: "SCHEDULE", at: 1 },
      { type: "STOP" },
      ...(s.matches({ running: { work: "claiming" } })
        ? [
          { type: "xstate.done.actor.claimCycle", output: { more: true, nextWakeAt: null } },
          { type: "xstate.done.actor.claimCycle", output: { more: false, nextWakeAt: 5 } },
          { type: "xstate.error.actor.claimCycle", error: new Error("db down") },
        ]
        : []),
      ...(s.matches({ running: { work: "backingOff" } })
        ? [{ type: "xstate.after.errorBackoff.supervisor.running.work.backingOff" }]
        : []),
      ...(s.matches("draining")
        ? [
          { type: "xstate.done.actor.drain" },
          { type: "xstate.error.actor.drain", error: new Error("db down") },
        ]
        : []),
    ]) as never,
    serializeState: ((s: { value: unknown; context: { again: boolean; listening: boolean } }) =>
      JSON.stringify([s.value, s.context.again, s.context.listening])) as never,
  });
  console.log(`supervisor: ${states} states, ${runs} generated paths`);
  const missing = coverage("supervisor machine", allTransitions(sup), taken);
  assert.deepEqual(missing, []);
});
