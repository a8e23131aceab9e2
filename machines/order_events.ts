// The order saga's events as producers write them: `OrderPlaced` starts a saga,
// `OrderCancellationRequested` asks a running one to stop. Schemas only; a
// failure dead-letters the event with the message, so each names what was expected.
import { z } from "zod";
import type { OrderData } from "./order_types.ts";

// Not trimmed: values are stored and passed on exactly as the producer wrote them.
const text = (max: number) =>
  z.string().max(max, `must be at most ${max} characters`)
    .refine((s) => s.trim().length > 0, "must not be blank");
const cents = z.number().int("must be an integer").min(0, "must be at least 0")
  .max(Number.MAX_SAFE_INTEGER);

export const orderPlacedSchema = z.object({
  order_id: z.uuid("must be a UUID"),
  customer_id: text(256),
  items: z.array(z.object({
    sku: text(128),
    quantity: z.number().int("must be an integer").min(1, "must be greater than 0")
      .max(1_000_000),
    unit_price_cents: cents,
  })).min(1, "must list at least one item").max(1000),
  total_cents: cents,
  currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO-4217 code such as USD"),
  payment_authorization_id: text(256),
});
export type OrderPlaced = z.infer<typeof orderPlacedSchema>;

export const cancellationSchema = z.object({
  order_id: z.uuid("must be a UUID"),
  reason: z.string().max(1000),
  // Set by the admin API (the operator who asked). Not part of the producer
  // contract: a value that is not a short string is ignored, never fatal.
  requested_by: z.string().max(256).optional().catch(undefined),
});
export type OrderCancellationRequested = z.infer<typeof cancellationSchema>;

/** The rule the schema cannot state: the lines add up to the total. */
export function totalMatchesLines(p: OrderPlaced): string | null {
  const sum = p.items.reduce((s, i) => s + i.quantity * i.unit_price_cents, 0);
  return Number.isSafeInteger(sum) && sum === p.total_cents
    ? null
    : `total_cents ${p.total_cents} does not equal the sum of the lines (${sum})`;
}

/** The order as the saga carries it (camelCase). */
export function orderData(p: OrderPlaced): OrderData {
  return {
    orderId: p.order_id.toLowerCase(),
    customerId: p.customer_id,
    items: p.items.map((i) => ({
      sku: i.sku,
      quantity: i.quantity,
      unitPriceCents: i.unit_price_cents,
    })),
    totalCents: p.total_cents,
    currency: p.currency,
    authorizationId: p.payment_authorization_id,
  };
}
