// Producing outbox events the way an edge API would, and checking what became
// of them.
import assert from "node:assert/strict";
import type { Sql } from "../../src/db/client.ts";
import type { OrderPayload } from "../../tooling/cluster/orders.ts";
import type { Sandbox } from "../../tooling/reference_services/mod.ts";

/** An OrderPlaced payload, the same shape the demo, bench and chaos run produce. */
export type SampleOrder = OrderPayload;

export function sampleOrder(over: Partial<SampleOrder> = {}): SampleOrder {
  const order_id = over.order_id ?? crypto.randomUUID();
  const items = over.items ?? [
    { sku: "SKU-1", quantity: 2, unit_price_cents: 1250 },
    { sku: "SKU-2", quantity: 1, unit_price_cents: 500 },
  ];
  return {
    order_id,
    customer_id: "cust-1",
    items,
    total_cents: items.reduce((s, i) => s + i.quantity * i.unit_price_cents, 0),
    currency: "USD",
    payment_authorization_id: `auth-${order_id}`,
    ...over,
  };
}

export async function placeOrder(sql: Sql, order: SampleOrder): Promise<void> {
  await sql`INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${order.order_id}, 'OrderPlaced', ${sql.json(order as never)})`;
}

export async function requestCancel(
  sql: Sql,
  orderId: string,
  reason = "customer asked",
): Promise<void> {
  await sql`INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${orderId}, 'OrderCancellationRequested', ${sql.json({ order_id: orderId, reason })})`;
}

export async function ledger(sql: Sql, orderId: string) {
  const [row] = await sql<{ status: string; state: string; snapshot: Record<string, unknown> }[]>`
    SELECT status, state, snapshot FROM order_ledger WHERE order_id = ${orderId}`;
  return row;
}

/** Polls until `check` returns a truthy value (no sleeps papering over races). */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${opts.what ?? "condition"}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

export async function waitForStatus(
  sql: Sql,
  orderId: string,
  statuses: string[],
  timeoutMs = 15_000,
) {
  return await waitFor(async () => {
    const row = await ledger(sql, orderId);
    return row && statuses.includes(row.status) ? row : undefined;
  }, { timeoutMs, what: `order ${orderId} to reach ${statuses.join("/")}` });
}

/** Inserts OrderPlaced events for all `orders` in one statement (one transaction). */
export async function placeOrders(sql: Sql, orders: SampleOrder[]): Promise<void> {
  await sql`
    INSERT INTO outbox (order_id, event_type, payload)
    SELECT (p->>'order_id')::uuid, 'OrderPlaced', p
    FROM jsonb_array_elements(${sql.json(orders as never)}::jsonb) AS p`;
}

/** Ledger status counts of the given orders. */
export async function statusCounts(sql: Sql, orderIds: string[]) {
  const rows = await sql<{ status: string; n: number }[]>`
    SELECT status, count(*)::int AS n FROM order_ledger
    WHERE order_id = ANY(${orderIds}::uuid[]) GROUP BY status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
}

/** Polls until every given order's saga has finished, then asserts they all COMPLETED. */
export async function waitAllCompleted(
  sql: Sql,
  orderIds: string[],
  timeoutMs: number,
): Promise<void> {
  await waitFor(async () => {
    const c = await statusCounts(sql, orderIds);
    return (c.COMPLETED ?? 0) + (c.CANCELLED ?? 0) + (c.NEEDS_ATTENTION ?? 0) === orderIds.length;
  }, { timeoutMs, intervalMs: 50, what: `${orderIds.length} sagas to finish` });
  assert.deepEqual(await statusCounts(sql, orderIds), { COMPLETED: orderIds.length });
}

/**
 * Asserts the reference services saw each forward effect exactly once per
 * order and no compensating effect at all.
 */
export function assertEffectsExactlyOnce(sandbox: Sandbox, orderIds: string[]): void {
  const orders = sandbox.orders.stats({ log: false });
  const inventory = sandbox.inventory.stats({ log: false });
  const payments = sandbox.payments.stats({ log: false });
  const bad: string[] = [];
  for (const id of orderIds) {
    const got = {
      created: orders.effects[id]?.created ?? 0,
      reserved: inventory.effects[id]?.reserved ?? 0,
      captured: payments.effects[id]?.captured ?? 0,
      confirmed: orders.effects[id]?.confirmed ?? 0,
    };
    if (Object.values(got).some((n) => n !== 1)) bad.push(`${id}: ${JSON.stringify(got)}`);
  }
  assert.deepEqual(bad, [], "every forward effect exactly once per order");
  assert.deepEqual(
    {
      cancelled: orders.totals.cancelled,
      released: inventory.totals.released,
      voided: payments.totals.voided,
    },
    { cancelled: 0, released: 0, voided: 0 },
    "no compensation",
  );
  assert.equal(orders.totals.created, orderIds.length);
  assert.equal(orders.totals.confirmed, orderIds.length);
  assert.equal(inventory.totals.reserved, orderIds.length);
  assert.equal(payments.totals.captured, orderIds.length);
}
