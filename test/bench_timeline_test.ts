// The arithmetic of the struggling-service and overload figures
// (tooling/bench/timeline.ts), on made-up completion instants.
import assert from "node:assert/strict";
import { countBetween, rateBetween, secondsUntilRate } from "../tooling/bench/timeline.ts";

/** One completion every `everyMs` in [fromMs, toMs). */
function steady(fromMs: number, toMs: number, everyMs: number): number[] {
  const out: number[] = [];
  for (let t = fromMs; t < toMs; t += everyMs) out.push(t);
  return out;
}

Deno.test("countBetween counts a half-open window; rateBetween is per second", () => {
  const times = [0, 100, 100, 200, 999, 1000];
  assert.equal(countBetween(times, 100, 1000), 4);
  assert.equal(countBetween(times, 1001, 2000), 0);
  assert.equal(rateBetween(times, 0, 1000), 5);
  assert.equal(rateBetween(times, 500, 500), 0);
});

Deno.test("secondsUntilRate finds the first window back at the target after a dip", () => {
  // 100/s, nothing from 10 s to 13 s, 100/s again from 13 s.
  const times = [...steady(0, 10_000, 10), ...steady(13_000, 20_000, 10)];
  const opts = { untilMs: 20_000, targetPerSecond: 90, windowMs: 1000, stepMs: 100 };
  // From 10 s the first 1 s window with ≥ 90 completions is [12.9 s, 13.9 s).
  assert.equal(secondsUntilRate(times, { ...opts, fromMs: 10_000 }), 2.9);
  // Already back: 0.
  assert.equal(secondsUntilRate(times, { ...opts, fromMs: 14_000 }), 0);
  // Never back within the run.
  assert.equal(secondsUntilRate(times, { ...opts, fromMs: 10_000, untilMs: 12_500 }), undefined);
  // A catch-up burst above the target counts as back: [5.2 s, 6.2 s) holds
  // 100 of its completions (one every 2 ms from 6 s).
  const burst = [...steady(0, 5_000, 10), ...steady(6_000, 6_500, 2), ...steady(6_500, 9_000, 10)];
  assert.equal(
    secondsUntilRate(burst, { ...opts, fromMs: 5_000, untilMs: 9_000 }),
    0.2,
  );
});
