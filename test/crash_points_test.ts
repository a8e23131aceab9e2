// Kills the orchestrator for real at each named crash point, restarts it, and
// checks that the outcome and every downstream effect count equal those of a
// run without a crash.
import assert from "node:assert/strict";
import { placeOrder, sampleOrder, waitFor } from "./helpers/orders.ts";
import { type Sandbox, startSandbox } from "../tooling/reference_services/mod.ts";
import { freshDatabase, startOrchestratorProcess } from "../tooling/cluster/mod.ts";

const POINTS = [
  "after_claim_outbox",
  "before_settle_outbox",
  "after_claim_saga",
  "before_call:createOrder",
  "after_call:reserveInventory",
  "before_call:capturePayment",
  "after_call:capturePayment",
  "after_call:releaseReservation",
  "before_persist",
  "after_persist",
];

type Outcome = Record<string, { status: string; effects: Record<string, number> }>;

async function runScenario(point: string | null): Promise<Outcome> {
  const db = await freshDatabase({ migrate: false });
  const sandbox: Sandbox = await startSandbox();
  const env = {
    DATABASE_URL: db.url,
    ...sandbox.env,
    LEASE_MS: "1000",
    POLL_INTERVAL_MS: "300",
    RETRY_BASE_MS: "20",
    RETRY_MAX_MS: "50",
  };
  // Two orders: one completes, one is declined at the pivot and compensates.
  const happy = sampleOrder({ order_id: "00000000-0000-4000-8000-000000000001" });
  const declined = sampleOrder({
    order_id: "00000000-0000-4000-8000-000000000002",
    payment_authorization_id: "decline-1",
  });
  const ids = [happy.order_id, declined.order_id];
  const first = startOrchestratorProcess({
    ...env,
    INSTANCE_ID: "first",
    ...(point
      ? { CRASH_POINT: point, CRASH_POINT_HIT: point.endsWith("persist") ? "3" : "1" }
      : {}),
  });
  let second: ReturnType<typeof startOrchestratorProcess> | undefined;
  try {
    await first.waitForLog((l) => l.msg === "Starting polling loop");
    await db.sql.begin(async (tx) => {
      await placeOrder(tx as never, happy);
      await placeOrder(tx as never, declined);
    });
    if (point) {
      const status = await Promise.race([
        first.status,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`crash point ${point} never reached`)), 15_000)
        ),
      ]);
      assert.equal(status.signal, "SIGKILL", `crashed at ${point}`);
      second = startOrchestratorProcess({ ...env, INSTANCE_ID: "second" });
    }
    const rows = await waitFor(async () => {
      const r = await db.sql<{ order_id: string; status: string }[]>`
        SELECT order_id, status FROM order_ledger WHERE order_id = ANY(${ids}::uuid[])`;
      return r.length === 2 && r.every((x) => x.status !== "RUNNING") ? r : undefined;
    }, { timeoutMs: 20_000, what: `sagas terminal after crash at ${point}` });
    const [pending] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM outbox WHERE status <> 'PROCESSED'`;
    assert.equal(pending?.n, 0, "every event processed");
    const outcome: Outcome = {};
    for (const r of rows) {
      const effects: Record<string, number> = {};
      for (const s of [sandbox.orders, sandbox.inventory, sandbox.payments]) {
        Object.assign(effects, s.stats().effects[r.order_id] ?? {});
      }
      outcome[r.order_id] = { status: r.status, effects };
    }
    return outcome;
  } finally {
    for (const p of [first, second]) {
      p?.kill("SIGKILL");
      await p?.status;
    }
    await sandbox.close();
    await db.drop();
  }
}

Deno.test("a crash at any named crash point ends exactly like a run without one", async (t) => {
  const baseline = await runScenario(null);
  assert.equal(Object.values(baseline).map((o) => o.status).sort().join(), "CANCELLED,COMPLETED");
  for (const point of POINTS) {
    await t.step(`crash at ${point}`, async () => {
      assert.deepEqual(await runScenario(point), baseline);
    });
  }
});
