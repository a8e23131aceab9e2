// The runner's pure transitions (one side-effect-free scope per machine) must give exactly
// what xstate's own initialTransition()/transition() give: the same next
// snapshot and the same actions, on every edge of the saga's state graph; and
// what the ledger stores must be XState's own persisted form.
import assert from "node:assert/strict";
import { type AnyMachineSnapshot, initialTransition, transition } from "xstate";
import { getShortestPaths } from "xstate/graph";
import { orderSagaV1, type SagaContext } from "../../machines/order_saga.ts";
import type { StepOutput } from "../../machines/order_types.ts";
import {
  invokeInput,
  pureInitialTransition,
  pureTransition,
} from "../../src/engine/pure_transition.ts";
import { requestedWorkOf, restoreSnapshot, toStoredSnapshot } from "../../src/engine/saga_state.ts";
import { sagaEvents as sagaEventsFor } from "../helpers/saga_events.ts";

const INPUT = {
  order: {
    orderId: "7f8c3a8e-2d7c-4a57-9a51-0e2f3c1d9b11",
    customerId: "c-1",
    items: [{ sku: "A", quantity: 2, unitPriceCents: 150 }],
    totalCents: 300,
    currency: "USD",
    authorizationId: "auth-1",
  },
  budget: { forward: 2, confirm: 2, compensation: 2 },
};

const OUTPUTS: StepOutput[] = [
  { outcome: "ok", status: 201, body: { id: "x" } },
  { outcome: "rejected", status: 409, reason: "insufficient_stock" },
  { outcome: "transient", status: 503, reason: "busy", retryInMs: 250 },
];

const events = sagaEventsFor(OUTPUTS);

/** What the runner uses of a result: the persisted snapshot and each action's type and params. */
function observable([snapshot, actions]: readonly [unknown, readonly unknown[]]) {
  return JSON.parse(JSON.stringify({
    snapshot: orderSagaV1.getPersistedSnapshot(snapshot as never),
    actions: actions.map((a) => {
      const { type, params } = a as { type: string; params?: Record<string, unknown> };
      // The spawned (never started) child itself is not compared, only what identifies it.
      const { actorRef: _ref, ...rest } = params ?? {};
      return { type, params: rest };
    }),
  }));
}

Deno.test("pureTransition() equals xstate's transition() on every edge of the saga graph", () => {
  assert.deepEqual(
    observable(pureInitialTransition(orderSagaV1, INPUT)),
    observable(initialTransition(orderSagaV1, INPUT)),
  );
  const paths = getShortestPaths(orderSagaV1, {
    input: INPUT,
    events: events as never,
    serializeState: ((s: { value: unknown; context: SagaContext }) =>
      JSON.stringify([
        s.value,
        s.context.attempts,
        s.context.touched,
        s.context.parkedAt,
      ])) as never,
  } as never);
  let edges = 0;
  let steps = 0;
  for (const path of paths) {
    let snap: AnyMachineSnapshot = initialTransition(orderSagaV1, INPUT)[0];
    for (const step of path.steps) {
      snap = transition(orderSagaV1, snap as never, step.event as never)[0];
    }
    if (snap.status !== "active") continue;
    for (const event of events(snap)) {
      const ours: readonly [unknown, readonly unknown[]] = pureTransition(
        orderSagaV1,
        snap as never,
        event,
      );
      const theirs: readonly [unknown, readonly unknown[]] = transition(
        orderSagaV1,
        snap as never,
        event as never,
      );
      const edge: string = `${JSON.stringify(snap.value)} + ${event.type}`;
      assert.deepEqual(observable(ours), observable(theirs), edge);
      // What the ledger stores is XState's persisted form, children dropped.
      assert.deepEqual(
        JSON.parse(JSON.stringify(toStoredSnapshot(orderSagaV1, ours[0] as never))),
        JSON.parse(JSON.stringify({
          ...orderSagaV1.getPersistedSnapshot(theirs[0] as never),
          children: {},
        })),
        edge,
      );
      // A step is stored without its input: computed again from the restored
      // snapshot, it is the input the transition asked for.
      const work = requestedWorkOf(ours[1] as never);
      if (work?.kind === "step") {
        const restored = restoreSnapshot(
          { machine: orderSagaV1 },
          JSON.parse(JSON.stringify(toStoredSnapshot(orderSagaV1, ours[0] as never))),
        );
        assert.deepEqual(invokeInput(restored as never, work.invokeId), work.input, edge);
        steps++;
      }
      edges++;
    }
  }
  // Every state of the graph was reached and left by every event it accepts.
  assert.ok(paths.length > 20, `only ${paths.length} states explored`);
  assert.ok(edges > 100, `only ${edges} edges compared`);
  assert.ok(steps > 50, `only ${steps} step inputs recomputed`);
});

Deno.test("pureTransition() keeps no actions from one call to the next", () => {
  const [start] = pureInitialTransition(orderSagaV1, INPUT);
  const [, first] = pureTransition(orderSagaV1, start as never, {
    type: "xstate.done.actor.createOrder",
    output: OUTPUTS[0],
  } as never);
  const [, again] = pureTransition(orderSagaV1, start as never, { type: "RETRY" });
  assert.ok(first.length > 0, "entering reservingInventory invokes a step");
  assert.deepEqual(again, [], "an ignored event asks for nothing");
});
