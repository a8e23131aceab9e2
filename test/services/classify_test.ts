import assert from "node:assert/strict";
import { COMPENSATION_STEPS, FORWARD_STEPS } from "../../machines/order_types.ts";
import { ORDER_STEPS } from "../../machines/order_steps.ts";
import { classifyResponse, parseRetryAfter } from "../../src/services/classify.ts";

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const none = undefined;

Deno.test("classifyResponse() treats every 2xx as ok and keeps the body", () => {
  for (const status of [200, 201, 202, 204, 299]) {
    assert.deepEqual(classifyResponse(ORDER_STEPS["createOrder"], status, { id: 1 }, none, NOW), {
      outcome: "ok",
      status,
      body: { id: 1 },
    });
  }
  assert.deepEqual(classifyResponse(ORDER_STEPS["releaseReservation"], 204, undefined, none, NOW), {
    outcome: "ok",
    status: 204,
  });
});

Deno.test("classifyResponse() counts 404 as done for compensations but as a rejection for forward steps", () => {
  for (const step of COMPENSATION_STEPS) {
    assert.equal(
      classifyResponse(ORDER_STEPS[step], 404, undefined, none, NOW).outcome,
      "ok",
      step,
    );
  }
  for (const step of FORWARD_STEPS) {
    assert.equal(
      classifyResponse(ORDER_STEPS[step], 404, undefined, none, NOW).outcome,
      "rejected",
      step,
    );
  }
});

Deno.test("classifyResponse() rejects 4xx other than 408 and 429 without retrying", () => {
  for (const status of [400, 401, 402, 403, 409, 410, 422, 499]) {
    assert.deepEqual(
      classifyResponse(ORDER_STEPS["capturePayment"], status, undefined, none, NOW),
      {
        outcome: "rejected",
        status,
        reason: `HTTP ${status}`,
      },
    );
  }
});

Deno.test("classifyResponse() takes the rejection reason from the body's error field", () => {
  const body = { error: "insufficient_stock", sku: "SKU-RED" };
  assert.deepEqual(classifyResponse(ORDER_STEPS["reserveInventory"], 409, body, none, NOW), {
    outcome: "rejected",
    status: 409,
    reason: "insufficient_stock",
    body,
  });
  const odd = [{ error: { code: 7 } }, { error: "" }, "plain text", null, ["error"]];
  for (const body of odd) {
    const result = classifyResponse(ORDER_STEPS["createOrder"], 422, body, none, NOW);
    assert.equal("reason" in result && result.reason, "HTTP 422", JSON.stringify(body));
  }
  const long = classifyResponse(
    ORDER_STEPS["createOrder"],
    422,
    { error: "x".repeat(5_000) },
    none,
    NOW,
  );
  assert.equal("reason" in long && long.reason.length, 200);
});

Deno.test("classifyResponse() treats 408, 429 and 5xx as transient", () => {
  for (const status of [408, 429, 500, 502, 503, 504, 599]) {
    assert.deepEqual(
      classifyResponse(ORDER_STEPS["confirmOrder"], status, { error: "busy" }, none, NOW),
      {
        outcome: "transient",
        status,
        reason: `HTTP ${status}`,
      },
    );
  }
});

Deno.test("classifyResponse() retries statuses no contract mentions rather than compensating", () => {
  for (const status of [101, 302, 304, 600]) {
    assert.deepEqual(classifyResponse(ORDER_STEPS["createOrder"], status, undefined, none, NOW), {
      outcome: "transient",
      status,
      reason: `unexpected HTTP ${status}`,
    });
  }
});

Deno.test("classifyResponse() passes Retry-After on as retryAfterMs", () => {
  assert.deepEqual(classifyResponse(ORDER_STEPS["capturePayment"], 429, undefined, "7", NOW), {
    outcome: "transient",
    status: 429,
    reason: "HTTP 429",
    retryAfterMs: 7_000,
  });
});

Deno.test("parseRetryAfter() reads delta-seconds", () => {
  assert.equal(parseRetryAfter("0", NOW), 0);
  assert.equal(parseRetryAfter("120", NOW), 120_000);
  assert.equal(parseRetryAfter(" 5 ", NOW), 5_000);
});

Deno.test("parseRetryAfter() reads the three HTTP-date forms relative to now", () => {
  assert.equal(parseRetryAfter("Wed, 15 Jan 2025 12:00:30 GMT", NOW), 30_000);
  assert.equal(parseRetryAfter("Wednesday, 15-Jan-25 12:01:00 GMT", NOW), 60_000);
  assert.equal(parseRetryAfter("Wed Jan 15 12:00:02 2025", NOW), 2_000);
  assert.equal(parseRetryAfter("Wed Jan  5 12:00:00 2025", NOW), 0);
});

Deno.test("parseRetryAfter() never returns a negative wait for a date in the past", () => {
  assert.equal(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", NOW), 0);
  assert.equal(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", NOW), 0);
});

Deno.test("parseRetryAfter() ignores absent and malformed values", () => {
  const garbage = [
    null,
    "",
    "soon",
    "-5",
    "1.5",
    "1e3",
    "0x10",
    "5 seconds",
    "2025-01-15T12:00:30Z",
  ];
  const impossible = ["Wed, 31 Feb 2025 12:00:00 GMT", "Wed, 15 Jan 2025 25:00:00 GMT"];
  for (const value of [...garbage, ...impossible]) {
    assert.equal(parseRetryAfter(value, NOW), undefined, JSON.stringify(value));
  }
});
