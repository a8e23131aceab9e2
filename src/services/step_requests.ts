// Maps a saga step to the request the downstream contract fixes for it
// (docs/integration/downstream_services.md). Pure.

import type { StepInput } from "../../machines/order_types.ts";

/** Base URLs of the downstream services, with or without a trailing slash. */
export interface ServiceUrls {
  orders: string;
  inventory: string;
  payments: string;
}

export interface StepRequest {
  method: "POST" | "DELETE";
  url: string;
  /** JSON-serialisable; absent when the request has no body. */
  body?: unknown;
}

export type ServiceName = keyof ServiceUrls;

const SERVICE_OF: Record<StepInput["step"], ServiceName> = {
  createOrder: "orders",
  confirmOrder: "orders",
  cancelOrder: "orders",
  reserveInventory: "inventory",
  releaseReservation: "inventory",
  capturePayment: "payments",
  voidPayment: "payments",
};

/** The service a step calls. */
export function serviceOf(step: StepInput["step"]): ServiceName {
  return SERVICE_OF[step];
}

export function buildStepRequest(input: StepInput, urls: ServiceUrls): StepRequest {
  const { order } = input;
  // Ids come from producers: encoding keeps a stray "/" or "?" from changing the route.
  const orderId = encodeURIComponent(order.orderId);
  const authorizationId = encodeURIComponent(order.authorizationId);
  switch (input.step) {
    case "createOrder":
      return post(join(urls.orders, "/orders"), {
        order_id: order.orderId,
        customer_id: order.customerId,
        items: order.items.map((item) => ({
          sku: item.sku,
          quantity: item.quantity,
          unit_price_cents: item.unitPriceCents,
        })),
        total_cents: order.totalCents,
        currency: order.currency,
      });
    case "reserveInventory":
      return post(join(urls.inventory, "/reservations"), {
        order_id: order.orderId,
        items: order.items.map((item) => ({ sku: item.sku, quantity: item.quantity })),
      });
    case "capturePayment":
      return post(join(urls.payments, `/payments/capture/${authorizationId}`), {
        order_id: order.orderId,
        amount_cents: order.totalCents,
        currency: order.currency,
      });
    case "confirmOrder":
      return post(join(urls.orders, `/orders/${orderId}/confirmation`), {});
    case "releaseReservation":
      return { method: "DELETE", url: join(urls.inventory, `/reservations/${orderId}`) };
    case "cancelOrder":
      return post(join(urls.orders, `/orders/${orderId}/cancellation`), {
        // The machine sets a reason; a bare compensation still tells Orders why.
        reason: input.reason ?? "compensation",
      });
    case "voidPayment":
      return post(join(urls.payments, `/payments/void/${authorizationId}`), {
        order_id: order.orderId,
      });
  }
}

function post(url: string, body: unknown): StepRequest {
  return { method: "POST", url, body };
}

/** Keeps any path prefix of the base URL (e.g. behind a gateway) instead of resolving from "/". */
function join(base: string, path: string): string {
  return base.replace(/\/+$/, "") + path;
}
