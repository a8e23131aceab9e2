// The demo's sample orders: a mix of outcome kinds, and the fault rules that
// make some of them flaky. Pure: the same inputs give the same plan.
import type { FaultConfig, FaultRule, ServiceName } from "../reference_services/mod.ts";
import { type OrderPayload, type OutcomeKind, rng, sampleOrder } from "../cluster/orders.ts";

export type { OutcomeKind };

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

export interface PlannedOrder {
  kind: OutcomeKind;
  order: OrderPayload;
  /** For `cancelled`: send the cancellation this long after the order. */
  cancelAfterMs?: number;
}

function pickKind(r: number): OutcomeKind {
  let acc = 0;
  for (const kind of KINDS) {
    acc += WEIGHTS[kind];
    if (r < acc) return kind;
  }
  return "happy";
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
