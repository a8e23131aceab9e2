import assert from "node:assert/strict";
import { retryDelayMs } from "../../src/services/backoff.ts";

const POLICY = { baseMs: 100, maxMs: 5_000 };

Deno.test("retryDelayMs() waits nothing when the jitter draws 0", () => {
  for (const attempt of [0, 1, 5, 50]) {
    assert.equal(retryDelayMs(attempt, POLICY, undefined, () => 0), 0);
  }
});

Deno.test("retryDelayMs() reaches the window min(maxMs, baseMs·2^attempt) when the jitter draws almost 1", () => {
  const high = () => 0.9999999;
  assert.equal(retryDelayMs(0, POLICY, undefined, high), 100);
  assert.equal(retryDelayMs(3, POLICY, undefined, high), 800);
  assert.equal(retryDelayMs(6, POLICY, undefined, high), 5_000);
  assert.equal(retryDelayMs(1_000, POLICY, undefined, high), 5_000);
});

Deno.test("retryDelayMs() grows with the attempt for the same draw until the cap", () => {
  const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((attempt) =>
    retryDelayMs(attempt, POLICY, undefined, () => 0.5)
  );
  assert.deepEqual(delays, [50, 100, 200, 400, 800, 1_600, 2_500, 2_500]);
});

Deno.test("retryDelayMs() stays an integer within [0, window] for real randomness", () => {
  for (let i = 0; i < 1_000; i++) {
    const delay = retryDelayMs(4, POLICY);
    assert.ok(Number.isInteger(delay) && delay >= 0 && delay <= 1_600, `got ${delay}`);
  }
});

Deno.test("retryDelayMs() never waits less than Retry-After", () => {
  assert.equal(retryDelayMs(0, POLICY, 3_000, () => 0), 3_000);
  assert.equal(retryDelayMs(0, POLICY, 1_234.2, () => 0.5), 1_235);
  // A longer jitter wins over a short hint.
  assert.equal(retryDelayMs(6, POLICY, 10, () => 0.9999999), 5_000);
});

Deno.test("retryDelayMs() caps Retry-After at 10 × maxMs so a hostile header cannot park a saga", () => {
  assert.equal(retryDelayMs(0, POLICY, 86_400_000, () => 0), 50_000);
  assert.equal(retryDelayMs(0, POLICY, Infinity, () => 0), 50_000);
});

Deno.test("retryDelayMs() shrugs off nonsense inputs instead of returning NaN", () => {
  assert.equal(retryDelayMs(-3, POLICY, undefined, () => 0.9999999), 100);
  assert.equal(retryDelayMs(2, { baseMs: 0, maxMs: 5_000 }, undefined, () => 1), 0);
  assert.equal(retryDelayMs(2000, { baseMs: 0, maxMs: 5_000 }, undefined, () => 1), 0);
  assert.equal(retryDelayMs(0, POLICY, -5, () => 0), 0);
  assert.equal(retryDelayMs(0, POLICY, NaN, () => 0), 0);
  assert.equal(retryDelayMs(0, POLICY, undefined, () => 7), 100);
});
