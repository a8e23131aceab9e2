// The order saga's steps as the downstream contract fixes them
// (docs/integration/downstream_services.md): the service each calls, its
// request, and where its answers are read differently from the default.
import type { StepInput, StepName } from "./order_types.ts";
import { notFoundIsDone, step, type StepDefinition } from "./saga_definition.ts";

// Ids come from producers: encoding keeps a stray "/" or "?" from changing the route.
const orderId = (i: StepInput) => encodeURIComponent(i.order.orderId);
const authorizationId = (i: StepInput) => encodeURIComponent(i.order.authorizationId);

export const ORDER_STEPS: Record<StepName, StepDefinition> = {
  createOrder: step<StepInput>({
    service: "orders",
    request: ({ order }) => ({
      method: "POST",
      path: "/orders",
      body: {
        order_id: order.orderId,
        customer_id: order.customerId,
        items: order.items.map((item) => ({
          sku: item.sku,
          quantity: item.quantity,
          unit_price_cents: item.unitPriceCents,
        })),
        total_cents: order.totalCents,
        currency: order.currency,
      },
    }),
  }),
  reserveInventory: step<StepInput>({
    service: "inventory",
    request: ({ order }) => ({
      method: "POST",
      path: "/reservations",
      body: {
        order_id: order.orderId,
        items: order.items.map((item) => ({ sku: item.sku, quantity: item.quantity })),
      },
    }),
  }),
  capturePayment: step<StepInput>({
    service: "payments",
    request: (i) => ({
      method: "POST",
      path: `/payments/capture/${authorizationId(i)}`,
      body: {
        order_id: i.order.orderId,
        amount_cents: i.order.totalCents,
        currency: i.order.currency,
      },
    }),
    // 402 payment_declined is Payments' definitive "no": the one answer after
    // which an attempted capture may still compensate (the default agrees; it
    // is stated because the pivot's safety rests on it).
    classify: (status) => status === 402 ? "rejected" : undefined,
  }),
  confirmOrder: step<StepInput>({
    service: "orders",
    request: (i) => ({ method: "POST", path: `/orders/${orderId(i)}/confirmation`, body: {} }),
  }),
  releaseReservation: step<StepInput>({
    service: "inventory",
    request: (i) => ({ method: "DELETE", path: `/reservations/${orderId(i)}` }),
    classify: notFoundIsDone,
  }),
  cancelOrder: step<StepInput>({
    service: "orders",
    request: (i) => ({
      method: "POST",
      path: `/orders/${orderId(i)}/cancellation`,
      // The machine sets a reason; a bare compensation still tells Orders why.
      body: { reason: i.reason ?? "compensation" },
    }),
    classify: notFoundIsDone,
  }),
  voidPayment: step<StepInput>({
    service: "payments",
    request: (i) => ({
      method: "POST",
      path: `/payments/void/${authorizationId(i)}`,
      body: { order_id: i.order.orderId },
    }),
    classify: notFoundIsDone,
  }),
};
