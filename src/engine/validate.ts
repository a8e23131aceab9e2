// Outbox payload validation. A failure here dead-letters the event
// with the reason, so messages name the field and what was expected.
import { z } from "zod";
import type { OrderData } from "../../machines/order_types.ts";
import { PoisonEventError } from "../errors.ts";

export const MAX_PAYLOAD_BYTES = 64 * 1024;

// Not trimmed: values are stored and passed on exactly as the producer wrote them.
const text = (max: number) =>
  z.string().max(max, `must be at most ${max} characters`)
    .refine((s) => s.trim().length > 0, "must not be blank");
const cents = z.number().int("must be an integer").min(0, "must be at least 0")
  .max(Number.MAX_SAFE_INTEGER);

const orderPlaced = z.object({
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

const cancellation = z.object({
  order_id: z.uuid("must be a UUID"),
  reason: z.string().max(1000),
  // Set by the admin API (the operator who asked). Not part of the producer
  // contract: a value that is not a short string is ignored, never fatal.
  requested_by: z.string().max(256).optional().catch(undefined),
});

export type ValidEvent =
  | { type: "OrderPlaced"; order: OrderData }
  | {
    type: "OrderCancellationRequested";
    orderId: string;
    reason: string;
    requestedBy: string | null;
  };

function describe(error: z.ZodError): string {
  return error.issues.slice(0, 5).map((i) =>
    `${["payload", ...i.path.map(String)].join(".")}: ${i.message}`
  ).join("; ");
}

/** Returns the event in our terms, or throws PoisonEventError saying why not. */
export function validateEvent(
  eventType: string,
  orderIdColumn: string,
  payload: unknown,
): ValidEvent {
  const size = new TextEncoder().encode(JSON.stringify(payload ?? null)).length;
  if (size > MAX_PAYLOAD_BYTES) {
    throw new PoisonEventError(
      `payload is ${size} bytes, more than the ${MAX_PAYLOAD_BYTES} allowed`,
    );
  }
  const sameOrder = (id: string) => {
    if (id.toLowerCase() !== orderIdColumn.toLowerCase()) {
      throw new PoisonEventError(
        `payload.order_id "${id}" disagrees with the event's order_id column "${orderIdColumn}"`,
      );
    }
  };
  if (eventType === "OrderPlaced") {
    const r = orderPlaced.safeParse(payload);
    if (!r.success) throw new PoisonEventError(`invalid OrderPlaced: ${describe(r.error)}`);
    const p = r.data;
    sameOrder(p.order_id);
    const sum = p.items.reduce((s, i) => s + i.quantity * i.unit_price_cents, 0);
    if (!Number.isSafeInteger(sum) || sum !== p.total_cents) {
      throw new PoisonEventError(
        `invalid OrderPlaced: total_cents ${p.total_cents} does not equal the sum of the lines (${sum})`,
      );
    }
    return {
      type: "OrderPlaced",
      order: {
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
      },
    };
  }
  if (eventType === "OrderCancellationRequested") {
    const r = cancellation.safeParse(payload);
    if (!r.success) {
      throw new PoisonEventError(`invalid OrderCancellationRequested: ${describe(r.error)}`);
    }
    sameOrder(r.data.order_id);
    return {
      type: "OrderCancellationRequested",
      orderId: r.data.order_id.toLowerCase(),
      reason: r.data.reason,
      requestedBy: r.data.requested_by ?? null,
    };
  }
  throw new PoisonEventError(`unknown event_type "${eventType.slice(0, 100)}"`);
}
