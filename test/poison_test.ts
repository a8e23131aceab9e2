// Poison outbox events: dead-lettered with the reason, never
// retried, and never in the way of other orders. Hostile but valid text is
// kept and passed on byte for byte.
import assert from "node:assert/strict";
import {
  calls,
  effectsFor,
  harness,
  ledgerRow,
  only,
  type OutboxRecord,
  outboxRows,
  ROUTES,
  settled,
} from "./helpers/saga_assert.ts";
import { placeOrder, requestCancel, sampleOrder, waitFor } from "./helpers/orders.ts";
import type { Sql, TransactionSql } from "../src/db/client.ts";

interface Poison {
  name: string;
  eventType: string;
  /** The outbox row's order_id column. */
  orderId: string;
  /** The payload as JSON text, inserted as is. */
  payload: string;
  reason: RegExp;
}

function placed(over: Record<string, unknown> = {}, orderId = crypto.randomUUID()) {
  return { ...sampleOrder({ order_id: orderId }), ...over };
}

function poison(
  name: string,
  payload: unknown,
  reason: RegExp,
  opts: { eventType?: string; orderId?: string } = {},
): Poison {
  const orderId = opts.orderId ??
    ((payload as { order_id?: unknown } | null)?.order_id as string | undefined) ??
    crypto.randomUUID();
  return {
    name,
    eventType: opts.eventType ?? "OrderPlaced",
    orderId,
    payload: JSON.stringify(payload),
    reason,
  };
}

function poisons(): Poison[] {
  const item = { sku: "SKU-1", quantity: 2, unit_price_cents: 1250 };
  return [
    poison("unknown event type", placed(), /^unknown event_type "OrderShipped"$/, {
      eventType: "OrderShipped",
    }),
    poison(
      "missing fields",
      { order_id: crypto.randomUUID() },
      /^invalid OrderPlaced: .*payload\.customer_id: .*payload\.items: /,
    ),
    poison(
      "quantity 0",
      placed({ items: [{ ...item, quantity: 0 }], total_cents: 0 }),
      /payload\.items\.0\.quantity: must be greater than 0/,
    ),
    poison(
      "quantity as a string",
      placed({ items: [{ ...item, quantity: "2" }], total_cents: 2500 }),
      /payload\.items\.0\.quantity: /,
    ),
    poison(
      "fractional quantity",
      placed({ items: [{ ...item, quantity: 1.5 }], total_cents: 1875 }),
      /payload\.items\.0\.quantity: must be an integer/,
    ),
    poison(
      "negative price",
      placed({ items: [{ ...item, unit_price_cents: -5 }], total_cents: -10 }),
      /payload\.items\.0\.unit_price_cents: must be at least 0/,
    ),
    poison(
      "lower-case currency",
      placed({ currency: "usd" }),
      /payload\.currency: must be an ISO-4217 code/,
    ),
    poison("no items", placed({ items: [], total_cents: 0 }), /payload\.items: must list/),
    poison("blank customer", placed({ customer_id: "   " }), /payload\.customer_id: must not be/),
    poison(
      "payload order_id not a UUID",
      placed({ order_id: "order-42" }),
      /payload\.order_id: must be a UUID/,
      { orderId: crypto.randomUUID() },
    ),
    poison(
      "order_id column disagreeing with the payload",
      placed(),
      /disagrees with the event's order_id column/,
      { orderId: crypto.randomUUID() },
    ),
    poison(
      "total not the sum of the lines",
      placed({ total_cents: 9999 }),
      /total_cents 9999 does not equal the sum of the lines \(3000\)/,
    ),
    poison(
      "oversized payload",
      placed({ notes: "x".repeat(70_000) }),
      /more than the 65536 allowed/,
    ),
    poison("a JSON array", [placed()], /^invalid OrderPlaced: payload: /),
    poison("a JSON string", "OrderPlaced", /^invalid OrderPlaced: payload: /),
    poison("JSON null", null, /^invalid OrderPlaced: payload: /),
    poison(
      "cancellation without a reason",
      { order_id: crypto.randomUUID() },
      /^invalid OrderCancellationRequested: payload\.reason: /,
      { eventType: "OrderCancellationRequested" },
    ),
  ];
}

async function insertRaw(sql: Sql | TransactionSql, p: Poison): Promise<void> {
  await sql`INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${p.orderId}, ${p.eventType}, ${p.payload}::text::jsonb)`;
}

async function deadRow(sql: Sql, orderId: string, eventType: string): Promise<OutboxRecord> {
  return await waitFor(async () => {
    const rows = await outboxRows(sql, orderId);
    return rows.find((r) => r.event_type === eventType && r.status !== "PENDING");
  }, { what: `the ${eventType} event of ${orderId} to be settled` });
}

Deno.test("poison events are dead-lettered with their reason, never retried, and the orders between them complete", async () => {
  const h = await harness({ env: { POLL_INTERVAL_MS: "50" } });
  try {
    const cases = poisons();
    const good = cases.map(() => sampleOrder());
    // One transaction: every poison shares an intake batch with good orders.
    await h.sql.begin(async (tx) => {
      for (const [i, p] of cases.entries()) {
        await insertRaw(tx, p);
        await tx`INSERT INTO outbox (order_id, event_type, payload)
          VALUES (${good[i]!.order_id}, 'OrderPlaced', ${tx.json(good[i] as never)})`;
      }
    });

    for (const order of good) {
      assert.equal((await settled(h.sql, order.order_id)).status, "COMPLETED");
      assert.deepEqual(
        effectsFor(h.sandbox, order.order_id),
        only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
      );
    }
    const dead = new Map<string, OutboxRecord>();
    for (const p of cases) {
      const row = await deadRow(h.sql, p.orderId, p.eventType);
      assert.equal(row.status, "DEAD", p.name);
      assert.equal(row.attempts, 1, p.name);
      assert.ok(row.processed_at, p.name);
      assert.match(row.last_error ?? "", p.reason, p.name);
      dead.set(row.id, row);
      if (p.eventType === "OrderPlaced") {
        assert.equal(await ledgerRow(h.sql, p.orderId), undefined, `${p.name}: no saga`);
      }
    }
    // Nothing downstream saw a poison order.
    const ordersSeen = Object.keys(h.sandbox.orders.stats({ log: false }).effects);
    assert.deepEqual(ordersSeen.sort(), good.map((o) => o.order_id).sort());

    // More intake cycles later, nothing about them has changed.
    const later = sampleOrder();
    await placeOrder(h.sql, later);
    assert.equal((await settled(h.sql, later.order_id)).status, "COMPLETED");
    for (const [id, before] of dead) {
      const [now] = await h.sql<OutboxRecord[]>`
        SELECT id, order_id, event_type, status, attempts, last_error, processed_at
        FROM outbox WHERE id = ${id}`;
      assert.deepEqual(now, before);
    }
  } finally {
    await h.close();
  }
});

Deno.test("a payload over 64 KB of multi-byte text is dead-lettered as oversized", async () => {
  const h = await harness();
  try {
    // 40,000 "é" = 40,000 UTF-16 code units but 80,000 bytes of UTF-8 (about 78 KB).
    const p = poison(
      "oversized multi-byte payload",
      placed({ notes: "é".repeat(40_000) }),
      /more than the 65536 allowed/,
    );
    await insertRaw(h.sql, p);
    const row = await deadRow(h.sql, p.orderId, p.eventType);
    assert.equal(row.status, "DEAD", "a 78 KB payload must not be accepted");
    assert.match(row.last_error ?? "", p.reason);
  } finally {
    await h.close();
  }
});

Deno.test("a cancellation for an order that never exists is dead-lettered after OUTBOX_MAX_ATTEMPTS, naming the order", async () => {
  const h = await harness({ env: { OUTBOX_MAX_ATTEMPTS: "2" } });
  try {
    const ghost = crypto.randomUUID();
    await requestCancel(h.sql, ghost, "never placed");
    const good = sampleOrder();
    await placeOrder(h.sql, good);
    assert.equal((await settled(h.sql, good.order_id)).status, "COMPLETED");

    const row = await waitFor(async () => {
      const [r] = await outboxRows(h.sql, ghost);
      return r?.status === "DEAD" ? r : undefined;
    }, { what: "the cancellation to be dead-lettered" });
    assert.equal(row.attempts, 2);
    assert.ok(row.last_error?.includes(ghost), row.last_error ?? "");
    assert.match(row.last_error ?? "", /no saga exists for order/);
    assert.equal(await ledgerRow(h.sql, ghost), undefined);
  } finally {
    await h.close();
  }
});

const HOSTILE_CUSTOMER = "'); DROP TABLE outbox;-- \u202Ecustomer\u200F 🙂";
const HOSTILE_SKUS = [
  "Robert'); DROP TABLE order_ledger;--",
  "🛒 cart 👩🏽‍💻 family 👨‍👩‍👧",
  "\u202Ertl override\u200F שלום \u200Bzero-width",
  'e\u0301 combining ∑ 中文 \\ " \n\t tab',
  "%2F/../reservations?x=1#frag",
];

Deno.test("hostile strings are stored in the snapshot and sent downstream exactly", async () => {
  const h = await harness();
  try {
    const items = HOSTILE_SKUS.map((sku, i) => ({ sku, quantity: i + 1, unit_price_cents: 100 }));
    const order = sampleOrder({
      customer_id: HOSTILE_CUSTOMER,
      items,
      payment_authorization_id: "auth/../x?y=1#z %2F 🙂",
    });
    await placeOrder(h.sql, order);
    const row = await settled(h.sql, order.order_id);
    assert.equal(row.status, "COMPLETED");

    const saved = row.snapshot.context.order;
    assert.equal(saved.customerId, HOSTILE_CUSTOMER);
    assert.deepEqual(saved.items.map((i) => i.sku), HOSTILE_SKUS);
    assert.equal(saved.authorizationId, order.payment_authorization_id);

    const created = h.sandbox.orders.get(order.order_id);
    assert.equal(created?.customer_id, HOSTILE_CUSTOMER);
    assert.deepEqual(created?.items.map((i) => i.sku), HOSTILE_SKUS);
    assert.equal(created?.status, "confirmed");
    const reservation = h.sandbox.inventory.reservations.get(order.order_id);
    assert.deepEqual(
      reservation?.lines,
      Object.fromEntries(HOSTILE_SKUS.map((sku, i) => [sku, i + 1])),
    );
    const payment = h.sandbox.payments.get(order.payment_authorization_id);
    assert.equal(payment?.status, "captured");
    assert.equal(payment?.order_id, order.order_id);
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
    );
    // The tables the SQL fragments name are all still there.
    const [{ n }] = await h.sql<[{ n: number }]>`
      SELECT count(*)::int AS n FROM information_schema.tables
      WHERE table_name IN ('outbox', 'order_ledger', 'saga_step', 'saga_history')`;
    assert.equal(n, 4);
  } finally {
    await h.close();
  }
});

Deno.test("a hostile cancellation reason reaches the Orders service exactly", async () => {
  const h = await harness();
  try {
    const order = sampleOrder({ customer_id: "🙂 \u202Ecust" });
    const reason = "'); DELETE FROM order_ledger;-- \u202Eesaeler\u200F 取消 🚫";
    h.sandbox.inventory.setFaults({
      rules: [{ method: "POST", path: "/reservations", delayMs: 400, times: 1 }],
    });
    await placeOrder(h.sql, order);
    await waitFor(() => calls(h.sandbox, "inventory", ROUTES.reserveInventory) >= 1);
    await requestCancel(h.sql, order.order_id, reason);
    const row = await settled(h.sql, order.order_id);
    assert.equal(row.status, "CANCELLED");
    assert.equal(row.cancel_reason, reason);
    assert.equal(row.snapshot.context.cancelReason, reason);
    assert.equal(h.sandbox.orders.get(order.order_id)?.cancel_reason, reason);
  } finally {
    await h.close();
  }
});
