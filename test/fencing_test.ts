// Fencing: an instance that lost its lease cannot write
// the ledger, the step records or the history — first against the queries
// themselves, then with two in-process orchestrators.
import assert from "node:assert/strict";
import type { Sql } from "../src/db/client.ts";
import { claimSagas, releaseLeases, renewLeases } from "../src/db/claims.ts";
import { insertSagas } from "../src/db/intake_queries.ts";
import { parkSaga, persistTransition, type Transition } from "../src/db/transitions.ts";
import { startSaga, stateName, toStoredSnapshot } from "../src/engine/saga_state.ts";
import { sagaMachine } from "../machines/registry.ts";
import { orderSaga } from "../machines/order_definition.ts";

const CURRENT_SAGA_VERSION = orderSaga.current;
import { placeOrder, sampleOrder, waitFor } from "./helpers/orders.ts";
import {
  calls,
  effectsFor,
  harness,
  historyRows,
  ledgerRow,
  only,
  ROUTES,
  settled,
} from "./helpers/saga_assert.ts";
import { freshDatabase } from "../tooling/cluster/mod.ts";
import { stepTransition } from "./helpers/transitions.ts";

const BUDGET = { forward: 5, confirm: 5, compensation: 5 };

/** Inserts one unclaimed saga the way intake does. */
async function insertSaga(sql: Sql, orderId: string): Promise<void> {
  const machine = sagaMachine(CURRENT_SAGA_VERSION)!;
  const order = sampleOrder({ order_id: orderId });
  const { snapshot, pending } = startSaga(machine, {
    order: {
      orderId,
      customerId: order.customer_id,
      items: order.items.map((i) => ({
        sku: i.sku,
        quantity: i.quantity,
        unitPriceCents: i.unit_price_cents,
      })),
      totalCents: order.total_cents,
      currency: order.currency,
      authorizationId: order.payment_authorization_id,
    },
    budget: BUDGET,
  });
  await sql.begin((tx) =>
    insertSagas(
      tx,
      [{
        order_id: orderId,
        state: stateName(snapshot.value),
        snapshot: toStoredSnapshot(machine, snapshot),
        machine_version: CURRENT_SAGA_VERSION,
        pending,
        source_event_id: "1",
        event_type: "OrderPlaced",
        claim: false,
      }],
      "intake",
      60_000,
    )
  );
}

async function rawRow(sql: Sql, orderId: string) {
  const [row] = await sql<Record<string, unknown>[]>`
    SELECT * FROM order_ledger WHERE order_id = ${orderId}`;
  return row;
}

async function expireLease(sql: Sql, orderId: string): Promise<void> {
  await sql`UPDATE order_ledger SET lease_until = now() - interval '1 second',
    run_at = now() - interval '1 second' WHERE order_id = ${orderId}`;
}

function transitionBy(
  me: string,
  claimed: { order_id: string; lease_epoch: string; revision: string },
): Transition {
  const lease = { orderId: claimed.order_id, me, epoch: claimed.lease_epoch };
  return stepTransition({ ...lease, revision: claimed.revision }, {
    snapshot: { value: "written-by", context: { by: me } },
    step: { name: "createOrder", outcome: "ok", httpStatus: 201, body: { by: me } },
  });
}

Deno.test("persistTransition refuses a write from an instance whose lease was taken over", async () => {
  const db = await freshDatabase();
  try {
    const orderId = crypto.randomUUID();
    await insertSaga(db.sql, orderId);
    const [a] = await claimSagas(db.sql, "A", 1, 60_000);
    assert.ok(a);
    assert.equal(a.order_id, orderId);
    // A holds a live lease: B claims nothing.
    assert.equal((await claimSagas(db.sql, "B", 1, 60_000)).length, 0);

    await expireLease(db.sql, orderId);
    const [b] = await claimSagas(db.sql, "B", 1, 60_000);
    assert.ok(b);
    assert.equal(Number(b.lease_epoch), Number(a.lease_epoch) + 1);
    const before = await rawRow(db.sql, orderId);
    assert.equal(before?.lease_owner, "B");

    // A, unaware, writes with its old epoch and revision.
    assert.equal((await persistTransition(db.sql, transitionBy("A", a))).length, 0);
    // Nor can A borrow B's epoch, nor B write with a stale revision.
    const borrowed = { ...a, lease_epoch: b.lease_epoch };
    assert.equal((await persistTransition(db.sql, transitionBy("A", borrowed))).length, 0);
    const stale = { ...b, revision: "41" };
    assert.equal((await persistTransition(db.sql, transitionBy("B", stale))).length, 0);
    assert.deepEqual(await rawRow(db.sql, orderId), before, "the ledger row is unchanged");
    const steps = await db.sql`SELECT * FROM saga_step WHERE order_id = ${orderId}`;
    assert.equal(steps.length, 0, "A wrote no step record");
    const history = await historyRows(db.sql, orderId);
    assert.deepEqual(history.map((r) => [r.event, r.instance_id]), [["OrderPlaced", "intake"]]);

    // A cannot park it, renew it, or release it either.
    await parkSaga(db.sql, {
      orderId,
      me: "A",
      epoch: a.lease_epoch,
      error: "boom",
      state: "creatingOrder",
    });
    const lost = await renewLeases(db.sql, "A", [orderId], 600_000);
    assert.deepEqual([lost.renewed, lost.busy], [[], []]);
    await releaseLeases(db.sql, "A");
    assert.deepEqual(await rawRow(db.sql, orderId), before, "still unchanged");

    // The current holder's write goes through (the statement itself works).
    const [ok] = await persistTransition(db.sql, transitionBy("B", b));
    assert.ok(ok);
    assert.equal(Number(ok.revision), Number(b.revision) + 1);
    const after = await rawRow(db.sql, orderId);
    assert.deepEqual(after?.snapshot, { value: "written-by", context: { by: "B" } });
    const [step] = await db.sql<{ instance_id: string }[]>`
      SELECT instance_id FROM saga_step WHERE order_id = ${orderId}`;
    assert.equal(step?.instance_id, "B");
    assert.deepEqual(
      (await historyRows(db.sql, orderId)).map((r) => r.instance_id),
      ["intake", "B"],
    );
  } finally {
    await db.drop();
  }
});

Deno.test("renewLeases by an instance that lost the lease does not extend the new holder's lease", async () => {
  const db = await freshDatabase();
  try {
    const orderId = crypto.randomUUID();
    await insertSaga(db.sql, orderId);
    const [a] = await claimSagas(db.sql, "A", 1, 60_000);
    assert.ok(a);
    await expireLease(db.sql, orderId);
    const [b] = await claimSagas(db.sql, "B", 1, 2_000);
    assert.ok(b);
    const before = await rawRow(db.sql, orderId);

    const lost = await renewLeases(db.sql, "A", [orderId], 600_000);
    assert.deepEqual([lost.renewed, lost.busy], [[], []]);
    assert.deepEqual(await rawRow(db.sql, orderId), before);

    const renewed = await renewLeases(db.sql, "B", [orderId], 600_000);
    assert.deepEqual(renewed.renewed, [orderId]);
    const after = await rawRow(db.sql, orderId);
    assert.ok((after?.lease_until as Date) > (before?.lease_until as Date));
  } finally {
    await db.drop();
  }
});

Deno.test("an orchestrator whose lease is taken over mid-call never writes the saga again", async () => {
  // A's heartbeat is far away, so only fencing can stop A's write after its slow call.
  const h = await harness({ start: false });
  try {
    const order = sampleOrder();
    h.sandbox.orders.setFaults({
      rules: [{ method: "POST", path: "/orders", delayMs: 1500, times: 1 }],
    });
    const a = h.startCapturing({
      INSTANCE_ID: "A",
      LEASE_MS: "60000",
      HEARTBEAT_MS: "30000",
      SAGA_CONCURRENCY: "1",
    });
    await placeOrder(h.sql, order);
    await waitFor(() => calls(h.sandbox, "orders", ROUTES.createOrder) >= 1, {
      what: "A's createOrder call to be in flight",
    });
    const held = await ledgerRow(h.sql, order.order_id);
    assert.equal(held?.lease_owner, "A");
    assert.equal(a.orchestrator.pool.size, 1);

    // B takes the saga over while A's call hangs.
    const [takeover] = await h.sql<[{ revision: string }]>`
      UPDATE order_ledger SET lease_owner = 'B', lease_epoch = lease_epoch + 1,
        lease_until = now() - interval '1 second', run_at = now() - interval '1 second'
      WHERE order_id = ${order.order_id} RETURNING revision`;
    const [{ max: lastBefore }] = await h.sql<[{ max: string }]>`
      SELECT max(id)::text AS max FROM saga_history`;
    const b = h.start({ INSTANCE_ID: "B" });

    const row = await settled(h.sql, order.order_id);
    assert.equal(row.status, "COMPLETED");
    // A's call came back (503 after the delay), its write was refused, and A let go.
    await waitFor(() => a.orchestrator.pool.size === 0, { what: "A to stop running the saga" });
    assert.ok(
      a.logs.some((l) =>
        l.order_id === order.order_id && /^Lease lost/.test(l.msg) && l.level === 40
      ),
      "A says it lost the lease",
    );
    assert.equal(b.orchestrator.pool.size, 0);

    const history = await historyRows(h.sql, order.order_id);
    const afterTakeover = history.filter((r) => BigInt(r.id) > BigInt(lastBefore));
    assert.ok(afterTakeover.length >= 4, "B ran the rest of the saga");
    assert.deepEqual(
      afterTakeover.filter((r) => r.instance_id !== "B"),
      [],
      "no history written by A after the takeover",
    );
    assert.ok(!history.some((r) => r.event === "createOrder:transient"), "A's 503 never landed");
    const steps = await h.sql<{ step: string; instance_id: string }[]>`
      SELECT step, instance_id FROM saga_step WHERE order_id = ${order.order_id}`;
    assert.deepEqual(steps.filter((s) => s.instance_id !== "B"), []);
    assert.ok(Number(row.revision) > Number(takeover.revision));
    assert.equal(calls(h.sandbox, "orders", ROUTES.createOrder), 2);
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
    );
  } finally {
    await h.close();
  }
});

Deno.test("an orchestrator whose heartbeat finds its lease gone aborts the saga and writes nothing", async () => {
  const h = await harness({ start: false });
  try {
    const order = sampleOrder();
    h.sandbox.orders.setFaults({
      rules: [{ method: "POST", path: "/orders", delayMs: 3000, times: 1 }],
    });
    const a = h.startCapturing({ INSTANCE_ID: "A", LEASE_MS: "5000", HEARTBEAT_MS: "100" });
    await placeOrder(h.sql, order);
    await waitFor(() => calls(h.sandbox, "orders", ROUTES.createOrder) >= 1);
    const started = Date.now();
    await h.sql`
      UPDATE order_ledger SET lease_owner = 'B', lease_epoch = lease_epoch + 1,
        lease_until = now() + interval '1 minute'
      WHERE order_id = ${order.order_id}`;
    await waitFor(() => a.orchestrator.pool.size === 0, {
      what: "A to abort the saga",
      timeoutMs: 2500,
    });
    assert.ok(Date.now() - started < 2500, "aborted by the heartbeat, not by the call ending");
    assert.ok(
      a.logs.some((l) =>
        l.order_id === order.order_id && l.msg === "Lease lost; stopping the saga"
      ),
      "A says it lost the lease",
    );
    const row = await ledgerRow(h.sql, order.order_id);
    assert.equal(row?.lease_owner, "B");
    assert.equal(row?.revision, "0");
    const history = await historyRows(h.sql, order.order_id);
    assert.deepEqual(history.map((r) => r.event), ["OrderPlaced"]);
  } finally {
    await h.close();
  }
});
