// The chaos run's orders and fault rules. Pure: a seed gives the same mix,
// the same per-order faults and the same cancellation delays (order ids are
// random UUIDs).
import type { FaultConfig, FaultRule, ServiceName } from "../reference_services/mod.ts";
import { type OrderPayload, rng, sampleOrder } from "../cluster/orders.ts";
import { SLOW_MS } from "./options.ts";

export type ChaosKind = "happy" | "flaky" | "outOfStock" | "declined" | "rejected" | "cancelled";

export const CHAOS_KINDS: ChaosKind[] = [
  "happy",
  "flaky",
  "outOfStock",
  "declined",
  "rejected",
  "cancelled",
];

const WEIGHTS: Record<ChaosKind, number> = {
  happy: 0.4,
  flaky: 0.2,
  outOfStock: 0.1,
  declined: 0.1,
  rejected: 0.08,
  cancelled: 0.12,
};

/** What each kind should end as (informative: the invariants do not depend on it). */
export const EXPECTED: Record<ChaosKind, string[]> = {
  happy: ["COMPLETED"],
  flaky: ["COMPLETED"],
  outOfStock: ["CANCELLED"],
  declined: ["CANCELLED"],
  rejected: ["CANCELLED"],
  // The cancellation may lose the race with the capture.
  cancelled: ["CANCELLED", "COMPLETED"],
};

export interface ChaosOrder {
  kind: ChaosKind;
  order: OrderPayload;
  /** Send OrderCancellationRequested this long after the order. */
  cancelAfterMs?: number;
}

type Scripted = { service: ServiceName; rule: Omit<FaultRule, "orderId"> };

/** One scripted failure of a forward step per flaky order, cycling through these. */
const FORWARD: Scripted[] = [
  // The capture happens, the answer is lost: the retry (same key) must not charge twice.
  { service: "payments", rule: { path: "/payments/capture", afterEffect: true, times: 1 } },
  // Reserved, then the answer comes too late: a timeout after the effect.
  {
    service: "inventory",
    rule: { path: "/reservations", method: "POST", afterEffect: true, delayMs: SLOW_MS, times: 1 },
  },
  // A timeout before anything happened.
  { service: "orders", rule: { path: "/orders", method: "POST", delayMs: SLOW_MS, times: 1 } },
  { service: "orders", rule: { path: "/confirmation", status: 503, times: 2 } },
  {
    service: "payments",
    rule: { path: "/payments/capture", status: 429, retryAfter: "1", times: 1 },
  },
  {
    service: "orders",
    rule: { path: "/orders", method: "POST", status: 500, afterEffect: true, times: 1 },
  },
  {
    service: "payments",
    rule: { path: "/payments/capture", afterEffect: true, delayMs: SLOW_MS, times: 1 },
  },
  {
    service: "orders",
    rule: { path: "/confirmation", afterEffect: true, delayMs: SLOW_MS, times: 1 },
  },
];

/** One scripted failure of a compensation, for half of the orders that compensate. */
const COMPENSATION: Scripted[] = [
  {
    service: "inventory",
    rule: { path: "/reservations", method: "DELETE", afterEffect: true, times: 1 },
  },
  { service: "orders", rule: { path: "/cancellation", status: 503, times: 2 } },
  {
    service: "payments",
    rule: { path: "/payments/void", afterEffect: true, delayMs: SLOW_MS, times: 1 },
  },
  { service: "payments", rule: { path: "/payments/void", status: 429, retryAfter: "1", times: 1 } },
  { service: "orders", rule: { path: "/cancellation", delayMs: SLOW_MS, times: 1 } },
  {
    service: "inventory",
    rule: { path: "/reservations", method: "DELETE", status: 502, times: 3 },
  },
];

function pickKind(r: number): ChaosKind {
  let acc = 0;
  for (const kind of CHAOS_KINDS) {
    acc += WEIGHTS[kind];
    if (r < acc) return kind;
  }
  return "happy";
}

export function planChaosOrders(count: number, seed: number): ChaosOrder[] {
  const random = rng(seed);
  return Array.from({ length: count }, () => {
    const kind = pickKind(random());
    // sampleOrder knows "outOfStock" and "declined"; the rest are plain orders.
    const order = sampleOrder(
      random,
      kind === "outOfStock" || kind === "declined" ? kind : "happy",
    );
    if (kind === "rejected") order.customer_id = `reject-${order.customer_id}`;
    const planned: ChaosOrder = { kind, order };
    if (kind === "cancelled") planned.cancelAfterMs = Math.floor(random() * 400);
    return planned;
  });
}

/**
 * Per service: latency with jitter and random 5xx for every call, plus the
 * scripted per-order rules (timeouts, lost responses, Retry-After).
 */
export function chaosFaults(plan: ChaosOrder[], seed: number): Record<ServiceName, FaultConfig> {
  const random = rng(seed ^ 0x5eed);
  const rules: Record<ServiceName, FaultRule[]> = { orders: [], inventory: [], payments: [] };
  let forward = 0;
  let compensation = 0;
  for (const p of plan) {
    const add = (s: Scripted) => rules[s.service].push({ ...s.rule, orderId: p.order.order_id });
    if (p.kind === "flaky") add(FORWARD[forward++ % FORWARD.length]!);
    else if (p.kind !== "happy" && random() < 0.5) {
      add(COMPENSATION[compensation++ % COMPENSATION.length]!);
    }
  }
  const base = { latencyMs: 2, latencyJitterMs: 40 };
  return {
    orders: { ...base, errorRate: 0.03, rules: rules.orders },
    inventory: { ...base, errorRate: 0.05, rules: rules.inventory },
    payments: { ...base, errorRate: 0.03, rules: rules.payments },
  };
}
