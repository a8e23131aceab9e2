// Shared fixtures for the services tests: a sample order and a real local server.

import type { Hono } from "hono";
import type { OrderData, StepInput } from "../../machines/order_types.ts";
import type { CallStepOptions, ServiceUrls, StepCall } from "../../src/services/mod.ts";
import { orderSaga } from "../../machines/order_definition.ts";

export const ORDER: OrderData = {
  orderId: "7f3c2a4e-9b1d-4c6e-8a2f-0d5b6e7f81e1",
  customerId: "cust-42",
  items: [
    { sku: "SKU-RED", quantity: 2, unitPriceCents: 1250 },
    { sku: "SKU-BLUE", quantity: 1, unitPriceCents: 500 },
  ],
  totalCents: 3000,
  currency: "USD",
  authorizationId: "auth 9/x",
};

export interface TestServer {
  urls: ServiceUrls;
  shutdown(): Promise<void>;
}

/** Serves `app` on a free loopback port as all three downstream services. */
export function serve(app: Hono): TestServer {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  return {
    urls: { orders: `${base}/`, inventory: base, payments: base },
    shutdown: () => server.shutdown(),
  };
}

/** Options for a first attempt with deterministic jitter (random() = 0 → no wait). */
export function options(urls: ServiceUrls, extra: Partial<CallStepOptions> = {}): CallStepOptions {
  return {
    definition: orderSaga,
    urls,
    timeoutMs: 2000,
    attempt: 0,
    retry: { baseMs: 100, maxMs: 10_000 },
    random: () => 0,
    ...extra,
  };
}

/** A promise with its resolver, to hold a handler open until the test lets go. */
export function gate(): { promise: Promise<void>; open(): void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { promise, open: () => resolve() };
}

/** An order saga step as the runner calls it: the order's id keys the call. */
export function orderCall(input: StepInput): StepCall {
  return { orderId: input.order.orderId, step: input.step, input };
}
