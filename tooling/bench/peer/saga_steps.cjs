// The order saga's four downstream calls as the peers make them: the same
// URLs, bodies and Idempotency-Key headers as the orchestrator
// (src/services/step_requests.ts and src/services/http_client.ts), built from
// the same OrderPlaced payload (snake_case, as the outbox holds it).
// test/bench_test.ts checks that both build the same requests.
//
// Plain CommonJS with no dependencies: it runs under the benchmark's Node
// (DBOS, Restate) and is imported by the Deno test.
"use strict";

/** The happy path, in order. */
const STEPS = ["createOrder", "reserveInventory", "capturePayment", "confirmOrder"];

const join = (base, path) => base.replace(/\/+$/, "") + path;

/** { method, url, body } of `step` for `order` against `urls` ({ orders, inventory, payments }). */
function stepRequest(step, order, urls) {
  const orderId = encodeURIComponent(order.order_id);
  const authorizationId = encodeURIComponent(order.payment_authorization_id);
  switch (step) {
    case "createOrder":
      return {
        method: "POST",
        url: join(urls.orders, "/orders"),
        body: {
          order_id: order.order_id,
          customer_id: order.customer_id,
          items: order.items.map((item) => ({
            sku: item.sku,
            quantity: item.quantity,
            unit_price_cents: item.unit_price_cents,
          })),
          total_cents: order.total_cents,
          currency: order.currency,
        },
      };
    case "reserveInventory":
      return {
        method: "POST",
        url: join(urls.inventory, "/reservations"),
        body: {
          order_id: order.order_id,
          items: order.items.map((item) => ({ sku: item.sku, quantity: item.quantity })),
        },
      };
    case "capturePayment":
      return {
        method: "POST",
        url: join(urls.payments, `/payments/capture/${authorizationId}`),
        body: {
          order_id: order.order_id,
          amount_cents: order.total_cents,
          currency: order.currency,
        },
      };
    case "confirmOrder":
      return {
        method: "POST",
        url: join(urls.orders, `/orders/${orderId}/confirmation`),
        body: {},
      };
    default:
      throw new Error(`unknown step "${step}"`);
  }
}

/** The headers the orchestrator sends (trace context aside). */
function stepHeaders(step, order) {
  return {
    "content-type": "application/json",
    accept: "application/json",
    "Idempotency-Key": `${order.order_id}:${step}`,
  };
}

/**
 * One attempt of `step`: resolves with the parsed response body (what the
 * engine records as the step's result), throws on a non-2xx answer so the
 * engine's own retry policy takes over. The same 5 s timeout as the
 * orchestrator's default HTTP_TIMEOUT_MS.
 */
async function callStep(step, order, urls) {
  const request = stepRequest(step, order, urls);
  const response = await fetch(request.url, {
    method: request.method,
    headers: stepHeaders(step, order),
    body: JSON.stringify(request.body),
    redirect: "manual",
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${step}: HTTP ${response.status} ${text.slice(0, 200)}`);
  return text === "" ? null : JSON.parse(text);
}

/** The service URLs from the environment the benchmark gives every peer. */
function serviceUrlsFromEnv(env) {
  const urls = {
    orders: env.ORDERS_SERVICE_URL,
    inventory: env.INVENTORY_SERVICE_URL,
    payments: env.PAYMENTS_SERVICE_URL,
  };
  for (const [name, url] of Object.entries(urls)) {
    if (!url) throw new Error(`${name.toUpperCase()}_SERVICE_URL is not set`);
  }
  return urls;
}

module.exports = { STEPS, stepRequest, stepHeaders, callStep, serviceUrlsFromEnv };
