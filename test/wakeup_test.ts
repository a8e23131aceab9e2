// The two wake-up paths: NOTIFY (latency) and polling (the guarantee).
import assert from "node:assert/strict";
import { placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import type { WakeSource } from "../machines/supervisor.ts";
import { freshDatabase } from "../tooling/cluster/mod.ts";

async function processedAfter(db: Awaited<ReturnType<typeof freshDatabase>>, orderId: string) {
  return await waitFor(async () => {
    const [row] = await db.sql<{ ms: number }[]>`
      SELECT extract(epoch FROM processed_at - created_at) * 1000 AS ms
      FROM outbox WHERE order_id = ${orderId} AND status = 'PROCESSED'`;
    return row ? Number(row.ms) : undefined;
  }, { what: `order ${orderId} processed`, timeoutMs: 70_000 });
}

Deno.test("with POLL_INTERVAL_MS=60000 an inserted event is picked up by NOTIFY in well under a second", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const wakes: WakeSource[] = [];
  const o = startInProcess(db, sandbox.urls, { POLL_INTERVAL_MS: "60000" }, {
    onWake: (s) => wakes.push(s),
  });
  try {
    await waitFor(() => o.listening(), { what: "LISTEN up" });
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const order = sampleOrder();
      const t0 = performance.now();
      await placeOrder(db.sql, order);
      await waitFor(async () => {
        const [r] = await db.sql`SELECT 1 FROM order_ledger WHERE order_id = ${order.order_id}`;
        return r;
      }, { intervalMs: 2 });
      latencies.push(performance.now() - t0);
      await waitForStatus(db.sql, order.order_id, ["COMPLETED"]);
    }
    console.log(
      `NOTIFY pick-up latency (insert → saga row), ms: ${
        latencies.map((l) => l.toFixed(1)).join(", ")
      }`,
    );
    assert.ok(Math.max(...latencies) < 1000, `all under 1 s: ${latencies}`);
    assert.ok(wakes.includes("notify"));
    assert.ok(!wakes.includes("poll"), "no poll tick was needed");
  } finally {
    await o.stop();
    await sandbox.close();
    await db.drop();
  }
});

Deno.test("with the NOTIFY trigger disabled an event is picked up within one poll interval", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  await db.sql`ALTER TABLE outbox DISABLE TRIGGER outbox_notify`;
  const wakes: WakeSource[] = [];
  const o = startInProcess(db, sandbox.urls, { POLL_INTERVAL_MS: "500" }, {
    onWake: (s) => wakes.push(s),
  });
  try {
    // Idle after the catch-up cycle LISTEN's arrival starts: only a poll can find the order.
    await waitFor(() =>
      o.listening() &&
      o.orchestrator.supervisor.actor.getSnapshot().matches({ running: { work: "idle" } }), {
      what: "LISTEN up and the supervisor idle",
    });
    const order = sampleOrder();
    await placeOrder(db.sql, order);
    const ms = await processedAfter(db, order.order_id);
    console.log(`Polling pick-up latency: ${ms.toFixed(0)} ms (interval 500 ms)`);
    assert.ok(ms <= 500 + 250, `picked up within the interval (+250 ms slack): ${ms}`);
    assert.ok(wakes.includes("poll"));
    assert.ok(!wakes.includes("notify"));
    await waitForStatus(db.sql, order.order_id, ["COMPLETED"]);
  } finally {
    await o.stop();
    await sandbox.close();
    await db.drop();
  }
});

Deno.test("a burst of 1,000 notifications costs a handful of claim cycles, not 1,000", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  let cycles = 0;
  const o = startInProcess(db, sandbox.urls, {
    POLL_INTERVAL_MS: "60000",
    SAGA_CONCURRENCY: "200",
  });
  const sub = o.orchestrator.supervisor.actor.subscribe((s) => cycles = s.context.cycles);
  try {
    await waitFor(() => o.listening(), { what: "LISTEN up" });
    const before = cycles;
    // 1,000 separate transactions, so 1,000 separate notifications.
    const orders = Array.from({ length: 1000 }, () => sampleOrder());
    await Promise.all(orders.map((order) => placeOrder(db.sql, order)));
    await waitFor(async () => {
      const [r] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM order_ledger WHERE status = 'COMPLETED'`;
      return r && r.n === 1000;
    }, { timeoutMs: 120_000, what: "1,000 sagas completed" });
    const used = cycles - before;
    console.log(`1,000 notifications → ${used} claim cycles`);
    assert.ok(used < 200, `coalesced: ${used} cycles`);
  } finally {
    sub.unsubscribe();
    await o.stop();
    await sandbox.close();
    await db.drop();
  }
});
