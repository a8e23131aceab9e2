import assert from "node:assert/strict";
import { buildStepRequest, type ServiceUrls } from "../../src/services/step_requests.ts";
import { ORDER_STEPS } from "../../machines/order_steps.ts";
import type { StepInput } from "../../machines/order_types.ts";
import { ORDER } from "./helpers.ts";

/** The order saga's request for a step, against `urls`. */
const orderRequest = (input: StepInput, urls: ServiceUrls) =>
  buildStepRequest(ORDER_STEPS[input.step], input, urls);

const URLS = {
  orders: "http://orders.local:3003/",
  inventory: "http://inventory.local:3001",
  payments: "http://gateway.local/payments-svc//",
};

Deno.test("buildStepRequest() with the order saga's steps maps createOrder to POST /orders with the order in snake_case", () => {
  assert.deepEqual(orderRequest({ step: "createOrder", order: ORDER }, URLS), {
    method: "POST",
    url: "http://orders.local:3003/orders",
    body: {
      order_id: ORDER.orderId,
      customer_id: "cust-42",
      items: [
        { sku: "SKU-RED", quantity: 2, unit_price_cents: 1250 },
        { sku: "SKU-BLUE", quantity: 1, unit_price_cents: 500 },
      ],
      total_cents: 3000,
      currency: "USD",
    },
  });
});

Deno.test("buildStepRequest() with the order saga's steps keeps a base URL's path prefix and drops its trailing slashes", () => {
  const request = orderRequest({ step: "voidPayment", order: ORDER }, URLS);
  assert.equal(request.url, "http://gateway.local/payments-svc/payments/void/auth%209%2Fx");
});

Deno.test("buildStepRequest() with the order saga's steps URL-encodes path parameters so an id cannot change the route", () => {
  const order = { ...ORDER, orderId: "a/../b?c#d", authorizationId: "x/y" };
  assert.equal(
    orderRequest({ step: "confirmOrder", order }, URLS).url,
    "http://orders.local:3003/orders/a%2F..%2Fb%3Fc%23d/confirmation",
  );
  assert.equal(
    orderRequest({ step: "capturePayment", order }, URLS).url,
    "http://gateway.local/payments-svc/payments/capture/x%2Fy",
  );
});

Deno.test("buildStepRequest() with the order saga's steps sends releaseReservation as a DELETE without a body", () => {
  const request = orderRequest({ step: "releaseReservation", order: ORDER }, URLS);
  assert.deepEqual(request, {
    method: "DELETE",
    url: `http://inventory.local:3001/reservations/${ORDER.orderId}`,
  });
  assert.equal("body" in request, false);
});

Deno.test("buildStepRequest() with the order saga's steps gives cancelOrder a reason even when the machine set none", () => {
  const withReason = orderRequest(
    { step: "cancelOrder", order: ORDER, reason: "changed mind" },
    URLS,
  );
  const without = orderRequest({ step: "cancelOrder", order: ORDER }, URLS);
  assert.deepEqual(withReason.body, { reason: "changed mind" });
  assert.deepEqual(without.body, { reason: "compensation" });
});
