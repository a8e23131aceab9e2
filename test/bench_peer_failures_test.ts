// A saga a peer engine finished without completing is a figure, not an abort:
// one failed Restate invocation once threw away every figure of a 25-minute
// bench run. These check the timing and the latency split on made-up outcomes.
import assert from "node:assert/strict";
import { loadFigures, loadRows } from "../tooling/bench/load_figures.ts";
import { latencies, type LoadLatencyResult, splitOutcomes } from "../tooling/bench/load_latency.ts";
import { type SagaEngineDriver, timeSagaEngine } from "../tooling/bench/peer/saga_run.ts";
import { summarizeLatency } from "../tooling/bench/stats.ts";

/** An engine that finishes what it is handed at once, failing the orders in `failing`. */
function instantEngine(failing: Set<number>): SagaEngineDriver {
  let handed = 0;
  let failed = 0;
  let last = 0;
  return {
    hand(from, count) {
      for (let i = from; i < from + count; i++) if (failing.has(i)) failed++;
      handed = from + count;
      last = Date.now();
      return Promise.resolve();
    },
    progress: () => Promise.resolve({ finished: handed, failed }),
    lastFinishedMs: () => Promise.resolve(last + 1),
    cpuGroups: { processes: { engine: [Deno.pid] }, trees: {} },
  };
}

Deno.test("a peer's failed sagas are counted per measured run and the run still returns", async () => {
  // Order 3 fails in the warm-up, orders 12 and 17 in the measured part.
  const run = await timeSagaEngine(instantEngine(new Set([3, 12, 17])), {
    warmup: 10,
    orders: 20,
    timeoutMs: 5_000,
    pollMs: 1,
  });
  assert.equal(run.sagas, 20);
  assert.equal(run.failed, 2);
  assert.ok(run.sagasPerSecond > 0);
});

Deno.test("latency under load: failed orders are counted and left out of the latencies", () => {
  const committedAt = new Map([["a", 0], ["b", 10], ["c", 20]]);
  const { measured, completedAt, failed } = splitOutcomes(committedAt, [
    { id: "a", completed: true, atMs: 5 },
    { id: "b", completed: false, atMs: 500 },
    { id: "c", completed: true, atMs: 45 },
    { id: "warm-up", completed: false, atMs: 1 },
  ]);
  assert.equal(failed, 2);
  assert.deepEqual([...measured.keys()], ["a", "c"]);
  assert.deepEqual(latencies(measured, completedAt, "completion"), [5, 25]);

  const run: LoadLatencyResult = {
    ratePerSecond: 100,
    orders: 3,
    failed,
    committedPerSecond: 100,
    producerMaxLagMs: 0,
    endToEnd: summarizeLatency([5, 25]),
    wakeup: summarizeLatency([1, 2]),
    window: { fromMs: 0, toMs: 45 },
  };
  const figures = loadFigures({ share: 0.5, seconds: 1, runs: [run, { ...run, failed: 1 }] });
  assert.equal(figures.failed, 3);
  const shown = loadRows("Restate workflow", figures, "completed").find((r) =>
    r[0]!.includes("without completing")
  );
  assert.deepEqual(shown?.slice(1), ["3", "—", "sagas"]);
  const clean = loadFigures({ share: 0.5, seconds: 1, runs: [{ ...run, failed: 0 }] });
  assert.ok(!loadRows("ours", clean).some((r) => r[0]!.includes("without completing")));
});
