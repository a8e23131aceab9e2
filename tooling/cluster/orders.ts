// Sample OrderPlaced payloads for the demo, the bench, the chaos run and the
// image check: the same shape an edge API writes, with the few details the
// reference services turn into an outcome (an out-of-stock SKU, a declining
// authorization). Deterministic for a seeded random source.

/** What happens to an order in the reference services. */
export type OutcomeKind = "happy" | "flaky" | "outOfStock" | "declined" | "cancelled";

export interface OrderPayload {
  order_id: string;
  customer_id: string;
  items: Array<{ sku: string; quantity: number; unit_price_cents: number }>;
  total_cents: number;
  currency: string;
  payment_authorization_id: string;
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
    // The whole order id: Payments keys authorizations by this id, and a shared
    // prefix of two orders (8 hex digits collided within a long bench) is one
    // authorization captured for the first and refused for the second.
    payment_authorization_id: `${kind === "declined" ? "decline" : "auth"}-${order_id}`,
  };
}
