// `deno task chaos`, small: 80 orders through 3 orchestrator processes while
// instances are killed with SIGKILL and PostgreSQL is restarted once; every
// saga must settle and every invariant hold (tooling/chaos/invariants.ts).
import assert from "node:assert/strict";
import { runChaos } from "../tooling/chaos/run.ts";
import { renderChaosSummary } from "../tooling/chaos/summary.ts";
import { defaultChaosOptions } from "../tooling/chaos/options.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("chaos: kills and a database restart leave every saga terminal, every effect once", async () => {
  const dataDir = `.data/chaos-test-${crypto.randomUUID().slice(0, 8)}`;
  const lines: string[] = [];
  try {
    const summary = await runChaos({
      ...defaultChaosOptions(),
      orders: 80,
      instances: 3,
      rate: 10,
      seed: 20_251_125,
      killEveryMs: [1500, 2500],
      deadForMs: [300, 1000],
      dbDownMs: [800, 1500],
      minKills: 2,
      settleTimeoutMs: 60_000,
      dataDir,
      log: (line) => lines.push(line),
    });
    const report = `${lines.join("\n")}\n${renderChaosSummary(summary)}`;
    assert.equal(summary.violationCount, 0, report);
    assert.ok(summary.kills >= 2, report);
    assert.equal(summary.dbRestarts, 1, report);
    assert.ok(summary.settled, report);
    assert.equal(summary.producer.placed, 80, report);
    assert.equal((summary.outcomes.COMPLETED ?? 0) + (summary.outcomes.CANCELLED ?? 0), 80, report);
    // The chaos really happened: faults were injected and retries were answered from the store.
    assert.ok(Object.values(summary.faultsInjected).reduce((a, b) => a + b, 0) > 0, report);
    assert.ok(Object.values(summary.idempotentReplays).reduce((a, b) => a + b, 0) > 0, report);
  } finally {
    await Deno.remove(new URL(dataDir, ROOT), { recursive: true }).catch(() => {});
  }
});
