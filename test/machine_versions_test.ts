// Changing the saga machine: the snapshot check catches an incompatible edit,
// and sagas already running finish on the version they started with.
import assert from "node:assert/strict";
import { createMachine, fromPromise } from "xstate";
import { placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import { checkSnapshots } from "../src/tools/check_snapshots.ts";
import { type OrderSagaMachine, orderSagaV1 } from "../machines/order_saga.ts";
import { registerSagaVersion, unregisterSagaVersion } from "../machines/registry.ts";
import { orderSaga } from "../machines/order_definition.ts";
import { freshDatabase } from "../tooling/cluster/mod.ts";

/** Deep copy of a machine config with a state renamed (functions kept as they are). */
function renameState(value: unknown, from: string, to: string): unknown {
  if (Array.isArray(value)) return value.map((v) => renameState(v, from, to));
  if (typeof value === "string") return value === `#orderSaga.${from}` ? `#orderSaga.${to}` : value;
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k === from ? to : k, renameState(v, from, to)]),
    );
  }
  return value;
}

/**
 * Version 2: `reservingInventory` is renamed `holdingStock`, and a new step,
 * `checkFraud` (state `checkingFraud`), runs between it and the capture.
 */
function sagaV2(): OrderSagaMachine {
  const config = renameState(orderSagaV1.config, "reservingInventory", "holdingStock") as {
    states: Record<string, unknown>;
  };
  const text = JSON.stringify(
    config.states.holdingStock,
    (_k, v) => typeof v === "function" ? "fn" : v,
  );
  assert.ok(text.includes("capturingPayment"));
  const holding = config.states.holdingStock as {
    states: { calling: { invoke: { onDone: Array<{ target?: string }> } } };
  };
  for (const t of holding.states.calling.invoke.onDone) {
    if (t.target === "#orderSaga.capturingPayment") t.target = "#orderSaga.checkingFraud";
  }
  config.states.checkingFraud = {
    invoke: {
      id: "checkFraud",
      src: "checkFraud",
      input: ({ context }: { context: { order: unknown } }) => ({
        step: "checkFraud",
        order: context.order,
      }),
      onDone: [
        { guard: "succeeded", target: "capturingPayment" },
        { target: "compensating", actions: { type: "fail", params: { step: "checkFraud" } } },
      ],
    },
  };
  const impl = orderSagaV1.implementations;
  return createMachine(config as never, {
    ...impl,
    actors: {
      ...impl.actors,
      checkFraud: fromPromise(() => Promise.reject(new Error("runner-provided"))),
    },
  } as never) as unknown as OrderSagaMachine;
}

Deno.test("a renamed state is caught by check-snapshots; running sagas finish on their version while new ones take a new step", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  // The new step is executed here; the other steps go to the reference services.
  const fraudChecked: string[] = [];
  const o = startInProcess(
    db,
    sandbox.urls,
    {},
    undefined,
    (defaults) => (call, attempt, signal) => {
      if (call.step !== "checkFraud") return defaults(call, attempt, signal);
      fraudChecked.push(call.orderId);
      return Promise.resolve({ outcome: "ok", status: 200 });
    },
  );
  try {
    // Three v1 sagas wait in reservingInventory (one 503 with Retry-After: 2 s).
    const old = [sampleOrder(), sampleOrder(), sampleOrder()];
    sandbox.inventory.setFaults({
      rules: old.map((x) => ({
        path: "/reservations",
        orderId: x.order_id,
        times: 1,
        retryAfter: "2",
      })),
    });
    for (const x of old) await placeOrder(db.sql, x);
    await waitFor(async () => {
      const [r] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM order_ledger WHERE state = 'reservingInventory'
          AND pending->>'kind' = 'timer'`;
      return r?.n === 3;
    }, { what: "three sagas waiting in reservingInventory" });

    // An in-place edit (v2 published under v1's name) strands them: the check says so.
    unregisterSagaVersion("order-saga@1");
    registerSagaVersion(orderSaga, "order-saga@1", sagaV2());
    const broken = await checkSnapshots(db.sql);
    registerSagaVersion(orderSaga, "order-saga@1", orderSagaV1);
    assert.equal(broken.problems.length, 3);
    assert.match(broken.problems[0]!.reason, /reservingInventory/);

    // A proper release registers v2 as a new version, v1 stays: nothing is stranded.
    registerSagaVersion(orderSaga, "order-saga@2", sagaV2(), { current: true });
    const ok = await checkSnapshots(db.sql);
    assert.deepEqual(ok.problems, []);
    assert.ok(ok.checked >= 3);

    const fresh = sampleOrder();
    await placeOrder(db.sql, fresh);
    for (const x of [...old, fresh]) await waitForStatus(db.sql, x.order_id, ["COMPLETED"]);

    const versions = await db.sql<{ order_id: string; machine_version: string }[]>`
      SELECT order_id, machine_version FROM order_ledger`;
    const byOrder = new Map(versions.map((r) => [r.order_id, r.machine_version]));
    for (const x of old) assert.equal(byOrder.get(x.order_id), "order-saga@1");
    assert.equal(byOrder.get(fresh.order_id), "order-saga@2");
    const states = async (id: string) =>
      (await db.sql<{ to_state: string }[]>`
        SELECT to_state FROM saga_history WHERE order_id = ${id}`).map((r) => r.to_state);
    assert.ok((await states(old[0]!.order_id)).some((s) => s.startsWith("reservingInventory")));
    assert.ok((await states(fresh.order_id)).some((s) => s.startsWith("holdingStock")));
    // The new step ran for the v2 saga only, and its outcome is recorded like any other.
    assert.deepEqual(fraudChecked, [fresh.order_id]);
    const steps = await db.sql<{ step: string }[]>`
      SELECT step FROM saga_step WHERE order_id = ${fresh.order_id} AND step = 'checkFraud'`;
    assert.equal(steps.length, 1);
  } finally {
    unregisterSagaVersion("order-saga@2");
    await o.stop();
    await sandbox.close();
    await db.drop();
  }
});

/** A deep copy of the v1 config in which one invoke got another id: an edit in place. */
function withInvokeId(step: string, id: string): OrderSagaMachine {
  const edit = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(edit);
    if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      const copy = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, edit(v)]));
      if (copy.src === step && copy.id === step) copy.id = id;
      return copy;
    }
    return value;
  };
  return createMachine(
    edit(orderSagaV1.config) as never,
    orderSagaV1.implementations as never,
  ) as unknown as OrderSagaMachine;
}

Deno.test("a version edited in place so an invoke id changed: the saga parks with a reason, and check-snapshots reports it", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const order = sampleOrder();
  try {
    // Caught mid-call on createOrder, then handed back (grace 0 aborts the call).
    sandbox.orders.setFaults({ rules: [{ method: "POST", path: "/orders", delayMs: 5000 }] });
    const first = startInProcess(db, sandbox.urls, { SHUTDOWN_GRACE_MS: "0" });
    await placeOrder(db.sql, order);
    await waitFor(() => (sandbox.orders.stats({ log: false }).calls["POST /orders"] ?? 0) >= 1);
    await first.stop();
    sandbox.orders.setFaults({});

    registerSagaVersion(
      orderSaga,
      "order-saga@1",
      withInvokeId("createOrder", "createOrderRenamed"),
    );
    const found = await checkSnapshots(db.sql);
    assert.equal(found.problems.length, 1);
    assert.match(found.problems[0]!.reason, /invoked as "createOrder".*"createOrderRenamed"/);

    const second = startInProcess(db, sandbox.urls);
    try {
      const row = await waitForStatus(db.sql, order.order_id, ["NEEDS_ATTENTION"]);
      const [ledger] = await db.sql<{ last_error: string }[]>`
        SELECT last_error FROM order_ledger WHERE order_id = ${order.order_id}`;
      assert.match(
        ledger!.last_error,
        /does not handle event "xstate\.done\.actor\.createOrder" in state "creatingOrder\.calling"/,
      );
      assert.equal(row.state, "creatingOrder");
      // Parked once, not written back and forth.
      const [h] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM saga_history WHERE order_id = ${order.order_id}`;
      assert.ok(h!.n <= 3, `a handful of history rows, not a loop (${h!.n})`);
    } finally {
      await second.stop();
    }
  } finally {
    registerSagaVersion(orderSaga, "order-saga@1", orderSagaV1);
    await sandbox.close();
    await db.drop();
  }
});
