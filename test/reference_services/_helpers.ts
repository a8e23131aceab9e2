// Small request helpers for the sandbox tests: in-process calls through app.request().
import type { Hono } from "hono";

export interface Answer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
  headers: Headers;
}

export async function send(
  app: Hono,
  method: string,
  path: string,
  options: { body?: unknown; key?: string; rawBody?: string } = {},
): Promise<Answer> {
  const headers = new Headers({ "content-type": "application/json" });
  if (options.key !== undefined) headers.set("Idempotency-Key", options.key);
  const body = options.rawBody ??
    (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await app.request(path, { method, headers, body });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? JSON.parse(text) : null,
    headers: response.headers,
  };
}

export function orderBody(orderId: string, overrides: Record<string, unknown> = {}) {
  return {
    order_id: orderId,
    customer_id: "cust-1",
    items: [{ sku: "SKU-1", quantity: 2, unit_price_cents: 500 }],
    total_cents: 1000,
    currency: "USD",
    ...overrides,
  };
}
