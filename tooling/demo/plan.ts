// The demo's sample orders: a mix of outcome kinds, and the fault rules that
// make some of them flaky. Pure: the same inputs give the same plan.
import type { FaultConfig, FaultRule, ServiceName } from "../reference_services/mod.ts";

export type OutcomeKind = "happy" | "flaky" | "outOfStock" | "declined" | "cancelled";

export const KINDS: OutcomeKind[] = ["happy", "flaky", "outOfStock", "declined", "cancelled"];

/** Share of each kind in the stream. */
const WEIGHTS: Record<OutcomeKind, number> = {
  happy: 0.5,
  flaky: 0.15,
  outOfStock: 0.1,
  declined: 0.1,
  cancelled: 0.15,
};

/** What each kind should end as. A late cancellation may lose the race with the capture. */
export const EXPECTED: Record<OutcomeKind, string[]> = {
  happy: ["COMPLETED"],
  flaky: ["COMPLETED"],
  outOfStock: ["CANCELLED"],
  declined: ["CANCELLED"],
  cancelled: ["CANCELLED", "COMPLETED"],
};

export const DESCRIPTION: Record<OutcomeKind, string> = {
  happy: "plain order",
  flaky: "a lost response or 5xx/429 on one step",
  outOfStock: 'SKU "OUT-OF-STOCK-…"',
  declined: 'authorization "decline-…"',
  cancelled: "OrderCancellationRequested soon after",
};

export interface OrderPayload {
  order_id: string;
  customer_id: string;
  items: Array<{ sku: string; quantity: number; unit_price_cents: number }>;
  total_cents: number;
  currency: string;
  payment_authorization_id: string;
}

export interface PlannedOrder {
  kind: OutcomeKind;
  order: OrderPayload;
  /** For `cancelled`: send the cancellation this long after the order. */
  cancelAfterMs?: number;
}

/** A small deterministic PRNG (mulberry32), so a seed reproduces a run's mix. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pickKind(r: number): OutcomeKind {
  let acc = 0;
  for (const kind of KINDS) {
    acc += WEIGHTS[kind];
    if (r < acc) return kind;
  }
  return "happy";
}

export function sampleOrder(random: () => number, kind: OutcomeKind = "happy"): OrderPayload {
  const order_id = crypto.randomUUID();
  const items = [
    {
      sku: `SKU-${1 + Math.floor(random() * 20)}`,
      quantity: 1 + Math.floor(random() * 3),
      unit_price_cents: 1250,
    },
    { sku: `SKU-${21 + Math.floor(random() * 20)}`, quantity: 1, unit_price_cents: 499 },
  ];
  if (kind === "outOfStock") items[1]!.sku = `OUT-OF-STOCK-${Math.floor(random() * 5)}`;
  return {
    order_id,
    customer_id: `cust-${1 + Math.floor(random() * 50)}`,
    items,
    total_cents: items.reduce((sum, i) => sum + i.quantity * i.unit_price_cents, 0),
    currency: "USD",
    payment_authorization_id: `${kind === "declined" ? "decline" : "auth"}-${order_id.slice(0, 8)}`,
  };
}

export function planOrders(count: number, seed: number): PlannedOrder[] {
  const random = rng(seed);
  return Array.from({ length: count }, () => {
    const kind = pickKind(random());
    const planned: PlannedOrder = { kind, order: sampleOrder(random, kind) };
    if (kind === "cancelled") planned.cancelAfterMs = Math.floor(random() * 300);
    return planned;
  });
}

/** One scripted failure per flaky order, cycling through these. */
const FLAKY: Array<{ service: ServiceName; rule: Omit<FaultRule, "orderId"> }> = [
  // The capture happens, the answer is lost: the retry (same key) must not charge twice.
  { service: "payments", rule: { path: "/payments/capture", afterEffect: true, times: 1 } },
  {
    service: "inventory",
    rule: { path: "/reservations", method: "POST", afterEffect: true, times: 1 },
  },
  { service: "orders", rule: { path: "/orders", method: "POST", afterEffect: true, times: 1 } },
  { service: "orders", rule: { path: "/confirmation", status: 503, times: 2 } },
  {
    service: "payments",
    rule: { path: "/payments/capture", status: 429, retryAfter: "1", times: 1 },
  },
];

/** Fault configuration per service: 10% random 503s on Inventory, plus the flaky orders' rules. */
export function faultsFor(plan: PlannedOrder[]): Record<ServiceName, FaultConfig> {
  const rules: Record<ServiceName, FaultRule[]> = { orders: [], inventory: [], payments: [] };
  let i = 0;
  for (const p of plan) {
    if (p.kind !== "flaky") continue;
    const f = FLAKY[i++ % FLAKY.length]!;
    rules[f.service].push({ ...f.rule, orderId: p.order.order_id });
  }
  return {
    orders: { rules: rules.orders },
    inventory: { errorRate: 0.1, rules: rules.inventory },
    payments: { rules: rules.payments },
  };
}
