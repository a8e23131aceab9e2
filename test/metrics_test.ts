// Prometheus metrics: names and values fed by the orchestrator's hooks, the
// scrape surviving a dead database, and the text validated by promtool.
import assert from "node:assert/strict";
import { createAdminApp } from "../src/admin/app.ts";
import { countPendingOutbox, operationalGauges } from "../src/db/admin_reads.ts";
import { createMetrics } from "../src/metrics.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import { promtoolCheck } from "./admin/_promtool.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { freshDatabase } from "../tooling/cluster/mod.ts";

/** The value of one sample, e.g. `orchestrator_sagas_finished_total{status="COMPLETED"}`. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    if (line.slice(0, at) === series) return Number(line.slice(at + 1));
  }
  return undefined;
}

Deno.test("metrics carry the documented names, count what the hooks report, and pass promtool", async () => {
  const m = createMetrics();
  let inFlight = 3;
  m.observe({
    inFlight: () => inFlight,
    listening: () => true,
    outboxPending: () => Promise.resolve(7),
    operational: () =>
      Promise.resolve({ sagasParked: 4, outboxDead: 2, oldestPendingAgeSeconds: 12.5 }),
    oldestFinishedAge: () => Promise.resolve(3600),
    services: () => ({
      orders: { limit: 12.7, inFlight: 12, queued: 30 },
      payments: { limit: 128, inFlight: 1, queued: 0 },
    }),
  });
  m.hooks.onStarted(2);
  m.hooks.onDeleted("order_ledger", 500);
  m.hooks.onDeleted("outbox", 20);
  m.hooks.onSweep(0.3);
  m.hooks.onHeartbeatFailure();
  m.hooks.onLeaseLost();
  m.hooks.onLeaseLost();
  m.hooks.onStep("capturePayment", "ok", 0.12);
  m.hooks.onStep("capturePayment", "rejected", 0.03);
  m.hooks.onStep("reserveInventory", "transient", 2);
  m.hooks.onFinished("COMPLETED");
  m.hooks.onWake("notify");
  m.hooks.onWake("notify");
  m.hooks.onWake("poll");
  m.hooks.onWrite(1);
  m.hooks.onWrite(12);
  m.hooks.onCommitted(0.004, [0.004, 0.02, 0.3]);

  const text = await m.render();
  await promtoolCheck(text);
  for (
    const [series, value] of [
      ["orchestrator_sagas_started_total", 2],
      ['orchestrator_sagas_finished_total{status="COMPLETED"}', 1],
      ['orchestrator_sagas_finished_total{status="CANCELLED"}', 0],
      ['orchestrator_saga_steps_total{step="capturePayment",outcome="ok"}', 1],
      ['orchestrator_saga_steps_total{step="capturePayment",outcome="rejected"}', 1],
      ['orchestrator_saga_steps_total{step="reserveInventory",outcome="transient"}', 1],
      ["orchestrator_sagas_in_flight", 3],
      ["orchestrator_outbox_pending", 7],
      ["orchestrator_database_up", 1],
      ["orchestrator_listen_connected", 1],
      ['orchestrator_wakeups_total{source="notify"}', 2],
      ['orchestrator_wakeups_total{source="poll"}', 1],
      ['orchestrator_wakeups_total{source="timer"}', 0],
      ['orchestrator_step_duration_seconds_count{step="capturePayment"}', 2],
      ['orchestrator_step_duration_seconds_bucket{le="0.05",step="capturePayment"}', 1],
      ['orchestrator_step_duration_seconds_bucket{le="+Inf",step="reserveInventory"}', 1],
      ["orchestrator_transition_batch_size_count", 2],
      ["orchestrator_transition_batch_size_sum", 13],
      ['orchestrator_transition_batch_size_bucket{le="8"}', 1],
      ['orchestrator_transition_batch_size_bucket{le="16"}', 2],
      ["orchestrator_transition_statement_seconds_count", 1],
      ['orchestrator_transition_statement_seconds_bucket{le="0.005"}', 1],
      ["orchestrator_transition_wait_seconds_count", 3],
      ['orchestrator_transition_wait_seconds_bucket{le="0.005"}', 1],
      ['orchestrator_transition_wait_seconds_bucket{le="0.025"}', 2],
      ['orchestrator_transition_wait_seconds_bucket{le="0.25"}', 2],
      ["orchestrator_sagas_parked", 4],
      ["orchestrator_outbox_dead", 2],
      ["orchestrator_outbox_oldest_pending_age_seconds", 12.5],
      ["orchestrator_lease_heartbeat_failures_total", 1],
      ["orchestrator_leases_lost_total", 2],
      ['orchestrator_downstream_limit{service="orders"}', 12],
      ['orchestrator_downstream_in_flight{service="orders"}', 12],
      ['orchestrator_downstream_queued{service="orders"}', 30],
      ['orchestrator_downstream_limit{service="payments"}', 128],
      ['orchestrator_retention_deleted_total{table="order_ledger"}', 500],
      ['orchestrator_retention_deleted_total{table="saga_history"}', 0],
      ["orchestrator_retention_sweep_duration_seconds_count", 1],
      ["orchestrator_retention_oldest_finished_age_seconds", 3600],
    ] as const
  ) {
    assert.equal(sample(text, series), value, series);
  }
  assert.match(text, /# TYPE orchestrator_step_duration_seconds histogram/);
  assert.match(text, /# TYPE orchestrator_sagas_in_flight gauge/);
  assert.match(text, /# TYPE orchestrator_sagas_parked gauge/);
  assert.match(text, /# TYPE orchestrator_leases_lost_total counter/);

  inFlight = 0;
  assert.equal(sample(await m.render(), "orchestrator_sagas_in_flight"), 0);
});

const DATABASE_GAUGES = [
  "orchestrator_outbox_pending",
  "orchestrator_sagas_parked",
  "orchestrator_outbox_dead",
  "orchestrator_outbox_oldest_pending_age_seconds",
];

Deno.test("a scrape succeeds while the database fails or hangs: its gauges NaN, database_up 0", async () => {
  const m = createMetrics();
  m.observe({
    outboxPending: () => Promise.reject(new Error("connection refused")),
    operational: () => Promise.reject(new Error("connection refused")),
  });
  let text = await m.render();
  await promtoolCheck(text);
  for (const gauge of DATABASE_GAUGES) assert.ok(Number.isNaN(sample(text, gauge)), gauge);
  assert.equal(sample(text, "orchestrator_database_up"), 0);

  m.observe({
    outboxPending: () => new Promise(() => {}),
    operational: () => new Promise(() => {}),
  });
  const started = performance.now();
  text = await m.render();
  assert.ok(performance.now() - started < 3000, "a hanging query does not stall the scrape");
  await promtoolCheck(text);
  for (const gauge of DATABASE_GAUGES) assert.ok(Number.isNaN(sample(text, gauge)), gauge);
  assert.equal(sample(text, "orchestrator_database_up"), 0);

  // And recovers on the next scrape.
  m.observe({
    outboxPending: () => Promise.resolve(0),
    operational: () =>
      Promise.resolve({ sagasParked: 0, outboxDead: 0, oldestPendingAgeSeconds: 0 }),
  });
  text = await m.render();
  for (const gauge of DATABASE_GAUGES) assert.equal(sample(text, gauge), 0, gauge);
  assert.equal(sample(text, "orchestrator_database_up"), 1);
});

Deno.test("a hook never throws into the saga, whatever it is given", () => {
  const m = createMetrics();
  m.hooks.onStep("capturePayment", "ok", Number.NaN);
  m.hooks.onStarted(-1); // prom-client refuses to decrease a counter
});

Deno.test("GET /metrics on a running orchestrator counts real sagas and passes promtool", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const metrics = createMetrics();
  // No poll tick during the test: a tick's claim cycle disarms the wake-up gate
  // while it runs, and an order inserted just then is found by the cycle, not
  // announced by a NOTIFY (correct, but not what this test counts).
  const o = startInProcess(db, sandbox.urls, { POLL_INTERVAL_MS: "600000" }, metrics.hooks);
  try {
    metrics.observe({
      inFlight: () => o.orchestrator.pool.size,
      listening: o.listening,
      outboxPending: () => countPendingOutbox(db.sql),
      operational: () => operationalGauges(db.sql),
    });
    const ok = sampleOrder();
    const declined = sampleOrder();
    sandbox.payments.setFaults({
      rules: [{
        method: "POST",
        path: "/payments/capture",
        orderId: declined.order_id,
        status: 402,
      }],
    });
    // Subscribed and idle first, so the orders arrive as notifications: producers
    // notify only while an idle instance has armed the wake-up gate.
    await waitFor(() => o.listening(), { what: "LISTEN" });
    // And no claim cycle running: a cycle disarms the gate while it works (a
    // second one follows at once when something woke the first meanwhile).
    const idle = () =>
      o.orchestrator.supervisor.actor.getSnapshot().matches({ running: { work: "idle" } });
    await waitFor(async () => {
      if (!idle()) return false;
      const [row] = await db.sql<{ armed: boolean }[]>`SELECT armed FROM orchestrator_wakeup`;
      return row?.armed === true && idle();
    }, { what: "the wake-up gate to be armed, with no cycle running" });
    await placeOrder(db.sql, ok);
    await placeOrder(db.sql, declined);
    await waitForStatus(db.sql, ok.order_id, ["COMPLETED"]);
    await waitForStatus(db.sql, declined.order_id, ["CANCELLED"]);
    // The final status commits a moment before the pool lets the saga go.
    await waitFor(() => o.orchestrator.pool.size === 0, { what: "the pool to empty" });

    const app = createAdminApp({ sql: db.sql, listening: o.listening, metrics });
    const res = await app.request("/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    await promtoolCheck(text);
    assert.equal(sample(text, "orchestrator_sagas_started_total"), 2);
    assert.equal(sample(text, 'orchestrator_sagas_finished_total{status="COMPLETED"}'), 1);
    assert.equal(sample(text, 'orchestrator_sagas_finished_total{status="CANCELLED"}'), 1);
    assert.equal(
      sample(text, 'orchestrator_saga_steps_total{step="capturePayment",outcome="ok"}'),
      1,
    );
    assert.equal(
      sample(text, 'orchestrator_saga_steps_total{step="capturePayment",outcome="rejected"}'),
      1,
    );
    assert.equal(sample(text, 'orchestrator_saga_steps_total{step="voidPayment",outcome="ok"}'), 1);
    assert.equal(sample(text, 'orchestrator_step_duration_seconds_count{step="createOrder"}'), 2);
    assert.ok((sample(text, 'orchestrator_wakeups_total{source="notify"}') ?? 0) >= 1);
    assert.equal(sample(text, "orchestrator_outbox_pending"), 0);
    assert.equal(sample(text, "orchestrator_database_up"), 1);
    assert.equal(sample(text, "orchestrator_listen_connected"), 1);
    assert.equal(sample(text, "orchestrator_sagas_in_flight"), 0);
    assert.equal(sample(text, "orchestrator_sagas_parked"), 0);
    assert.equal(sample(text, "orchestrator_outbox_dead"), 0);
    assert.equal(sample(text, "orchestrator_outbox_oldest_pending_age_seconds"), 0);
    assert.equal(sample(text, "orchestrator_lease_heartbeat_failures_total"), 0);
    assert.equal(sample(text, "orchestrator_leases_lost_total"), 0);
    // Every transition the runner wrote went through the group-commit writer: one
    // write per saga and commit (the capture's write-ahead line shares the reservation's).
    const [written] = await db.sql<{ n: number }[]>`
      SELECT count(DISTINCT (order_id, xmin::text))::int AS n FROM saga_history
      WHERE event <> 'OrderPlaced'`;
    assert.ok(written!.n >= 10, `${written!.n} transitions`);
    assert.equal(sample(text, "orchestrator_transition_batch_size_sum"), written!.n);
    // Each of them waited some time for its commit, and each statement took some.
    assert.equal(sample(text, "orchestrator_transition_wait_seconds_count"), written!.n);
    assert.equal(
      sample(text, "orchestrator_transition_statement_seconds_count"),
      sample(text, "orchestrator_transition_batch_size_count"),
    );
    assert.ok((sample(text, "orchestrator_transition_wait_seconds_sum") ?? 0) > 0);
  } finally {
    await o.stop();
    await sandbox.close();
    await db.drop();
  }
});

Deno.test("the operational gauges follow parked sagas, dead letters and a waiting event, from the database", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const metrics = createMetrics();
  // The event below must wait: the orchestrator starts only after it is scraped.
  metrics.observe({ operational: () => operationalGauges(db.sql) });
  try {
    const [old] = await db.sql<{ id: string }[]>`
      INSERT INTO outbox (order_id, event_type, payload, created_at)
      VALUES (${crypto.randomUUID()}, 'Unknown', '{}'::jsonb, now() - interval '90 seconds')
      RETURNING id`;
    let text = await metrics.render();
    await promtoolCheck(text);
    const age = sample(text, "orchestrator_outbox_oldest_pending_age_seconds")!;
    assert.ok(age >= 90 && age < 150, `age ${age}`);

    const o = startInProcess(db, sandbox.urls, { CONFIRM_MAX_ATTEMPTS: "1" }, metrics.hooks);
    try {
      const parked = sampleOrder();
      sandbox.orders.setFaults({ rules: [{ method: "POST", path: "/confirmation" }] });
      await placeOrder(db.sql, parked);
      await waitForStatus(db.sql, parked.order_id, ["NEEDS_ATTENTION"]);
      await waitFor(async () => {
        const [row] = await db.sql`SELECT status FROM outbox WHERE id = ${old!.id}`;
        return row?.status === "DEAD";
      }, { what: "the unknown event to be dead-lettered" });
      text = await metrics.render();
      assert.equal(sample(text, "orchestrator_sagas_parked"), 1);
      assert.equal(sample(text, "orchestrator_outbox_dead"), 1);
      assert.equal(sample(text, "orchestrator_outbox_oldest_pending_age_seconds"), 0);
    } finally {
      await o.stop();
    }
  } finally {
    await sandbox.close();
    await db.drop();
  }
});

Deno.test("the saga pool's heartbeat failures and lost leases are counted, through createOrchestrator", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const metrics = createMetrics();
  const o = startInProcess(db, sandbox.urls, {
    INSTANCE_ID: "A",
    LEASE_MS: "5000",
    HEARTBEAT_MS: "100",
    DB_LOCK_TIMEOUT_MS: "100",
  }, metrics.hooks);
  const counter = async (name: string) => sample(await metrics.render(), name) ?? -1;
  try {
    const order = sampleOrder();
    // The saga waits three seconds in createOrder: its lease is renewed meanwhile.
    sandbox.orders.setFaults({
      rules: [{ method: "POST", path: "/orders", delayMs: 3000, times: 1 }],
    });
    await placeOrder(db.sql, order);
    await waitFor(() => o.orchestrator.pool.size === 1, { what: "the saga to run" });

    // A table lock makes heartbeats fail (lock timeout) until it goes.
    await db.sql.begin(async (tx) => {
      await tx`LOCK TABLE order_ledger IN ACCESS EXCLUSIVE MODE`;
      await waitFor(async () => await counter("orchestrator_lease_heartbeat_failures_total") >= 1, {
        what: "a failed heartbeat",
        timeoutMs: 2000,
      });
    });
    assert.equal(await counter("orchestrator_leases_lost_total"), 0);

    // Another instance takes the lease: the next beat finds it gone.
    await db.sql`UPDATE order_ledger SET lease_owner = 'B', lease_epoch = lease_epoch + 1,
      lease_until = now() + interval '1 minute' WHERE order_id = ${order.order_id}`;
    await waitFor(async () => await counter("orchestrator_leases_lost_total") === 1, {
      what: "the lost lease to be counted",
      timeoutMs: 2000,
    });
    await promtoolCheck(await metrics.render());
  } finally {
    await o.stop();
    await sandbox.close();
    await db.drop();
  }
});
