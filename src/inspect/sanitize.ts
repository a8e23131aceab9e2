// What the Stately inspector may see of a saga. Frames leave the process (to
// a relay and a browser), so customer data is stripped twice: by shape (the
// order keeps only orderId, totalCents and currency; step outputs lose their
// response bodies; step inputs are dropped) and by value (any string that
// contains the order's customer id, authorization id or a SKU is redacted,
// wherever a downstream error message may have echoed it).
import type { OrderData } from "../../machines/order_types.ts";

export const REDACTED = "[redacted]";

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The order fields an operator needs to recognise a saga, and nothing else. */
function safeOrder(order: unknown): unknown {
  if (!isObject(order)) return order;
  const { orderId, totalCents, currency } = order;
  return { orderId, totalCents, currency };
}

/** A machine context with the order reduced; other actors' contexts pass through. */
export function sanitizeContext<T>(context: T): T {
  if (!isObject(context)) return context;
  const out: Obj = { ...context };
  if ("order" in out) out.order = safeOrder(out.order);
  return out as T;
}

/** An event without response bodies, step inputs or an embedded order. */
export function sanitizeEvent<T>(event: T): T {
  if (!isObject(event)) return event;
  const out: Obj = { ...event };
  if (isObject(out.output)) {
    const { body: _body, ...rest } = out.output;
    out.output = rest;
  }
  delete out.input;
  if ("order" in out) out.order = safeOrder(out.order);
  return out as T;
}

/** The strings that identify a customer or a payment in this order. */
export function sensitiveValues(order: Partial<OrderData> | undefined): string[] {
  if (!order) return [];
  const values = [
    order.customerId,
    order.authorizationId,
    ...(order.items ?? []).map((i) => i?.sku),
  ];
  return values.filter((v): v is string => typeof v === "string" && v.length > 0);
}

/** `value` with every string containing one of `secrets` replaced by REDACTED. */
export function scrub<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return secrets.some((s) => v.includes(s)) ? REDACTED : v;
    if (Array.isArray(v)) return v.map(walk);
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
