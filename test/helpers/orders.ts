// Producing outbox events the way an edge API would.
import type { Sql } from "../../src/db/client.ts";

export interface SampleOrder {
  order_id: string;
  customer_id: string;
  items: Array<{ sku: string; quantity: number; unit_price_cents: number }>;
  total_cents: number;
  currency: string;
  payment_authorization_id: string;
}

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
    payment_authorization_id: `auth-${order_id.slice(0, 8)}`,
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
