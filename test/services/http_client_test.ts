import assert from "node:assert/strict";
import { Hono } from "hono";
import type { StepName, StepOutput } from "../../machines/order_types.ts";
import { callStep } from "../../src/services/mod.ts";
import { gate, options, ORDER, orderCall, serve } from "./helpers.ts";

interface Received {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

/** A server that records every request and answers with `reply`. */
function recordingServer(reply: () => Response = () => Response.json({ ok: true })) {
  const received: Received[] = [];
  const app = new Hono().all("*", async (c) => {
    const { method, url, headers } = c.req.raw;
    received.push({ method, path: new URL(url).pathname, headers, body: await c.req.text() });
    return reply();
  });
  return { received, ...serve(app) };
}

/** The wait a transient outcome asks for; fails the test for any other outcome. */
function retryIn(result: StepOutput): number {
  assert.equal(result.outcome, "transient", JSON.stringify(result));
  return result.outcome === "transient" ? result.retryInMs : NaN;
}

const EXPECTED: Record<StepName, { method: string; path: string; body: unknown }> = {
  createOrder: {
    method: "POST",
    path: "/orders",
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
  },
  reserveInventory: {
    method: "POST",
    path: "/reservations",
    body: {
      order_id: ORDER.orderId,
      items: [{ sku: "SKU-RED", quantity: 2 }, { sku: "SKU-BLUE", quantity: 1 }],
    },
  },
  capturePayment: {
    method: "POST",
    path: "/payments/capture/auth%209%2Fx",
    body: { order_id: ORDER.orderId, amount_cents: 3000, currency: "USD" },
  },
  confirmOrder: { method: "POST", path: `/orders/${ORDER.orderId}/confirmation`, body: {} },
  releaseReservation: { method: "DELETE", path: `/reservations/${ORDER.orderId}`, body: "" },
  cancelOrder: {
    method: "POST",
    path: `/orders/${ORDER.orderId}/cancellation`,
    body: { reason: "customer request" },
  },
  voidPayment: {
    method: "POST",
    path: "/payments/void/auth%209%2Fx",
    body: { order_id: ORDER.orderId },
  },
};

Deno.test("callStep() sends each step's method, path, JSON body and headers as the downstream contract fixes", async () => {
  const server = recordingServer();
  try {
    for (
      const [step, expected] of Object.entries(EXPECTED) as [StepName, typeof EXPECTED[StepName]][]
    ) {
      const input = { step, order: ORDER, reason: "customer request" };
      assert.deepEqual(await callStep(orderCall(input), options(server.urls)), {
        outcome: "ok",
        status: 200,
        body: { ok: true },
      });
      const request = server.received.at(-1)!;
      assert.equal(request.method, expected.method, step);
      assert.equal(request.path, expected.path, step);
      assert.deepEqual(request.body === "" ? "" : JSON.parse(request.body), expected.body, step);
      assert.equal(request.headers.get("idempotency-key"), `${ORDER.orderId}:${step}`);
      assert.equal(request.headers.get("content-type"), "application/json");
      assert.equal(request.headers.get("accept"), "application/json");
      // No SDK and no span context: nothing to propagate.
      assert.equal(request.headers.get("traceparent"), null);
    }
    assert.equal(server.received.length, 7);
  } finally {
    await server.shutdown();
  }
});

Deno.test("callStep() sends the same Idempotency-Key on every attempt of a step", async () => {
  const server = recordingServer(() => new Response(null, { status: 503 }));
  try {
    const input = { step: "capturePayment" as const, order: ORDER };
    for (const attempt of [0, 1, 2]) {
      await callStep(orderCall(input), options(server.urls, { attempt }));
    }
    const keys = server.received.map((r) => r.headers.get("idempotency-key"));
    assert.deepEqual(keys, Array(3).fill(`${ORDER.orderId}:capturePayment`));
  } finally {
    await server.shutdown();
  }
});

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

const CLASSIFICATION: [StepName, number, unknown, Record<string, unknown>][] = [
  ["createOrder", 200, { order_id: ORDER.orderId, status: "PENDING" }, { outcome: "ok" }],
  ["createOrder", 201, { order_id: ORDER.orderId, status: "PENDING" }, { outcome: "ok" }],
  ["releaseReservation", 204, null, { outcome: "ok" }],
  ["createOrder", 400, { error: "invalid_items" }, {
    outcome: "rejected",
    reason: "invalid_items",
  }],
  ["confirmOrder", 404, null, { outcome: "rejected", reason: "HTTP 404" }],
  ["releaseReservation", 404, null, { outcome: "ok" }],
  ["cancelOrder", 404, { error: "not_found" }, { outcome: "ok" }],
  ["voidPayment", 404, null, { outcome: "ok" }],
  ["capturePayment", 402, { error: "payment_declined" }, {
    outcome: "rejected",
    reason: "payment_declined",
  }],
  ["confirmOrder", 408, null, { outcome: "transient", reason: "HTTP 408", retryInMs: 0 }],
  ["reserveInventory", 409, { error: "insufficient_stock" }, {
    outcome: "rejected",
    reason: "insufficient_stock",
  }],
  ["createOrder", 422, null, { outcome: "rejected", reason: "HTTP 422" }],
  ["capturePayment", 500, { error: "boom" }, { outcome: "transient", reason: "HTTP 500" }],
  ["voidPayment", 503, null, { outcome: "transient", reason: "HTTP 503", retryInMs: 0 }],
  ["createOrder", 302, null, { outcome: "transient", reason: "unexpected HTTP 302" }],
];

Deno.test("callStep() classifies real responses per the downstream contract", async () => {
  let next = new Response();
  const server = recordingServer(() => next);
  try {
    for (const [step, status, body, expected] of CLASSIFICATION) {
      const headers = status === 302 ? { location: "/elsewhere" } : undefined;
      next = body === null
        ? new Response(null, { status, headers })
        : Response.json(body, { status, headers });
      const result = await callStep(orderCall({ step, order: ORDER }), options(server.urls));
      const label = `${step} ${status}`;
      assert.equal(result.status, status, label);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual((result as Record<string, unknown>)[key], value, `${label} ${key}`);
      }
      if (result.outcome !== "transient" && body !== null) {
        assert.deepEqual(result.body, body, label);
      }
    }
    // The 302 was not followed.
    assert.equal(server.received.length, CLASSIFICATION.length);
  } finally {
    await server.shutdown();
  }
});

Deno.test("callStep() waits at least Retry-After given in seconds or as an HTTP-date", async () => {
  let retryAfter = "";
  const server = recordingServer(() =>
    new Response("slow down", { status: 429, headers: { "retry-after": retryAfter } })
  );
  try {
    const input = { step: "capturePayment" as const, order: ORDER };
    const opts = options(server.urls, { now: () => NOW });
    retryAfter = "3";
    assert.deepEqual(await callStep(orderCall(input), opts), {
      outcome: "transient",
      status: 429,
      reason: "HTTP 429",
      retryInMs: 3_000,
    });
    retryAfter = new Date(NOW + 7_000).toUTCString();
    assert.equal(retryIn(await callStep(orderCall(input), opts)), 7_000);
    retryAfter = "next tuesday";
    assert.equal(retryIn(await callStep(orderCall(input), opts)), 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("callStep() picks a longer backoff for later attempts", async () => {
  const server = recordingServer(() => new Response(null, { status: 500 }));
  try {
    const input = { step: "confirmOrder" as const, order: ORDER };
    const delays = [];
    for (const attempt of [0, 1, 2, 3]) {
      const opts = options(server.urls, { attempt, random: () => 0.9999999 });
      delays.push(retryIn(await callStep(orderCall(input), opts)));
    }
    assert.deepEqual(delays, [100, 200, 400, 800]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("callStep() keeps non-JSON and oversized bodies as capped text", async () => {
  let next = new Response();
  const server = recordingServer(() => next);
  try {
    const input = { step: "createOrder" as const, order: ORDER };
    next = new Response("<h1>Created</h1>", {
      status: 201,
      headers: { "content-type": "text/html" },
    });
    assert.deepEqual(await callStep(orderCall(input), options(server.urls)), {
      outcome: "ok",
      status: 201,
      body: "<h1>Created</h1>",
    });
    next = new Response('{"error":', {
      status: 409,
      headers: { "content-type": "application/json" },
    });
    assert.deepEqual(await callStep(orderCall(input), options(server.urls)), {
      outcome: "rejected",
      status: 409,
      reason: "HTTP 409",
      body: '{"error":',
    });
    next = new Response("x".repeat(1_000_000), { status: 200 });
    const big = await callStep(orderCall(input), options(server.urls));
    assert.equal(big.outcome === "ok" && (big.body as string).length, 4096);
    next = new Response(new Uint8Array([0, 0xff, 0xc3]), {
      status: 502,
      headers: { "content-type": "application/octet-stream" },
    });
    assert.equal((await callStep(orderCall(input), options(server.urls))).outcome, "transient");
  } finally {
    await server.shutdown();
  }
});

Deno.test("callStep() reports a server that does not answer within timeoutMs as transient", async () => {
  const held = gate();
  const app = new Hono().all("*", async (c) => {
    await held.promise;
    return c.json({ late: true });
  });
  const server = serve(app);
  try {
    const started = performance.now();
    const result = await callStep(
      orderCall({ step: "capturePayment", order: ORDER }),
      options(server.urls, { timeoutMs: 50, random: () => 0.5 }),
    );
    assert.deepEqual(result, {
      outcome: "transient",
      reason: "timeout after 50 ms",
      retryInMs: 50,
    });
    assert.ok(performance.now() - started < 1_000);
  } finally {
    held.open();
    await server.shutdown();
  }
});

Deno.test("callStep() times out a body that stalls after the headers, even with a caller signal", async () => {
  const held = gate();
  const app = new Hono().all("*", () => {
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode('{"capture'));
        await held.promise;
        controller.close();
      },
    });
    return new Response(body, { status: 200 });
  });
  const server = serve(app);
  const caller = new AbortController();
  try {
    const result = await callStep(
      orderCall({ step: "capturePayment", order: ORDER }),
      options(server.urls, { timeoutMs: 100, signal: caller.signal }),
    );
    assert.deepEqual(result, {
      outcome: "transient",
      reason: "timeout after 100 ms",
      retryInMs: 0,
    });
  } finally {
    held.open();
    await server.shutdown();
  }
});

Deno.test("callStep() reports a refused connection as transient", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  const result = await callStep(
    orderCall({ step: "releaseReservation", order: ORDER }),
    options({ orders: base, inventory: base, payments: base }, { random: () => 0.5 }),
  );
  assert.equal(retryIn(result), 50);
  assert.equal(result.status, undefined);
  assert.match("reason" in result ? result.reason : "", /^network error: /);
});

Deno.test("callStep() rethrows the caller's abort instead of turning it into an outcome", async () => {
  const held = gate();
  const arrived = gate();
  const app = new Hono().all("*", async (c) => {
    arrived.open();
    await held.promise;
    return c.json({});
  });
  const server = serve(app);
  const caller = new AbortController();
  const shutdown = new Error("shutting down");
  try {
    const pending = callStep(
      orderCall({ step: "createOrder", order: ORDER }),
      options(server.urls, { signal: caller.signal }),
    );
    await arrived.promise;
    caller.abort(shutdown);
    await assert.rejects(pending, (error) => error === shutdown);
  } finally {
    held.open();
    await server.shutdown();
  }
});

Deno.test("callStep() sends nothing when the caller has already aborted", async () => {
  const server = recordingServer();
  try {
    const opts = options(server.urls, { signal: AbortSignal.abort() });
    await assert.rejects(
      callStep(orderCall({ step: "createOrder", order: ORDER }), opts),
      (error) => error instanceof DOMException && error.name === "AbortError",
    );
    assert.equal(server.received.length, 0);
  } finally {
    await server.shutdown();
  }
});
