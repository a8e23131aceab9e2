// Prometheus metrics on a dedicated prom-client Registry, so a test
// or a second orchestrator in one process never shares counters with another.
// Counters and the step histogram are fed by the orchestrator hooks; the
// gauges are read at scrape time. The gauges read from the database must
// never fail or stall a scrape: each query is bounded by a timeout, and on
// error or timeout its gauges report NaN (the outbox count also sets
// `orchestrator_database_up 0`).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { SagaHooks } from "./engine/saga_runner.ts";
import type { WakeSource } from "../machines/supervisor.ts";
import type { Logger } from "./log.ts";
import type { RetentionHooks } from "./engine/retention.ts";
import type { OperationalGauges } from "./db/admin_reads.ts";

export type MetricsHooks = Required<Pick<SagaHooks, "onStarted" | "onStep" | "onFinished">> & {
  onWake(source: WakeSource): void;
  onWrite(transitions: number): void;
  onCommitted(statementSeconds: number, waitSeconds: number[]): void;
  /** The saga pool's lease heartbeat failed as a whole (SagaPool hooks). */
  onHeartbeatFailure(): void;
  /** The saga pool stopped a saga whose lease was lost or could not be renewed in time. */
  onLeaseLost(): void;
} & Required<RetentionHooks>;

export interface MetricsSources {
  /** Sagas this instance is running now (the pool's size). */
  inFlight?: () => number;
  /** Whether LISTEN is connected. */
  listening?: () => boolean;
  /** Outbox events still PENDING; may reject (database down). */
  outboxPending?: () => Promise<number>;
  /** Age in seconds of the oldest finished saga retention still keeps; may reject. */
  oldestFinishedAge?: () => Promise<number>;
  /** Parked sagas, dead letters, oldest pending event (admin_reads.ts); may reject. */
  operational?: () => Promise<OperationalGauges>;
  /** Each downstream service's adaptive call limit, calls in flight and calls waiting. */
  services?: () => Record<string, { limit: number; inFlight: number; queued: number }>;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** Feed these to createOrchestrator (they never throw). */
  readonly hooks: MetricsHooks;
  /** Late binding: the pool exists only once the orchestrator is built. */
  observe(sources: MetricsSources): void;
  render(): Promise<string>;
}

/** A scrape waits this long for each database query before giving up on it. */
const QUERY_TIMEOUT_MS = 1000;

// Transitions per group-committed statement: 1 when idle, up to the batch cap under load.
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

// A transition statement commits in milliseconds, or waits behind a busy one: 1 ms to 2.5 s.
const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

// Steps are HTTP calls with timeouts of seconds: buckets from 5 ms to 30 s.
const STEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

// A retention sweep is a few short batches: from milliseconds to a minute.
const SWEEP_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60];
const RETAINED_TABLES = ["order_ledger", "saga_step", "saga_history", "outbox"] as const;

const WAKE_SOURCES: WakeSource[] = ["notify", "poll", "relisten", "timer", "capacity", "start"];
const FINISHED: string[] = ["COMPLETED", "CANCELLED", "NEEDS_ATTENTION"];

export function createMetrics(opts: { logger?: Logger } = {}): Metrics {
  const registry = new Registry();
  let sources: MetricsSources = {};

  const started = new Counter({
    name: "orchestrator_sagas_started_total",
    help: "Sagas started by this instance (one per accepted OrderPlaced).",
    registers: [registry],
  });
  const finished = new Counter({
    name: "orchestrator_sagas_finished_total",
    help: "Sagas that reached a final or parked status on this instance.",
    labelNames: ["status"],
    registers: [registry],
  });
  const steps = new Counter({
    name: "orchestrator_saga_steps_total",
    help: "Downstream step calls by step and outcome (ok, rejected, transient).",
    labelNames: ["step", "outcome"],
    registers: [registry],
  });
  const stepDuration = new Histogram({
    name: "orchestrator_step_duration_seconds",
    help: "Duration of one downstream step call, in seconds.",
    labelNames: ["step"],
    buckets: STEP_BUCKETS,
    registers: [registry],
  });
  const batches = new Histogram({
    name: "orchestrator_transition_batch_size",
    help: "Saga transitions committed per statement (group commit).",
    buckets: BATCH_BUCKETS,
    registers: [registry],
  });
  const statementDuration = new Histogram({
    name: "orchestrator_transition_statement_seconds",
    help:
      "Duration of one group-commit statement of saga transitions, commit included, in seconds.",
    buckets: COMMIT_BUCKETS,
    registers: [registry],
  });
  const transitionWait = new Histogram({
    name: "orchestrator_transition_wait_seconds",
    help: "From a saga transition handed to the writer to its commit, in seconds.",
    buckets: COMMIT_BUCKETS,
    registers: [registry],
  });
  const wakeups = new Counter({
    name: "orchestrator_wakeups_total",
    help: "Supervisor wake-ups by source (notify, poll, relisten, timer, capacity, start).",
    labelNames: ["source"],
    registers: [registry],
  });
  new Gauge({
    name: "orchestrator_sagas_in_flight",
    help: "Sagas this instance is running right now.",
    registers: [registry],
    collect() {
      this.set(sources.inFlight?.() ?? 0);
    },
  });
  new Gauge({
    name: "orchestrator_downstream_limit",
    help: "Calls one service may have in flight from this instance now (adaptive, AIMD).",
    labelNames: ["service"],
    registers: [registry],
    collect() {
      for (const [service, s] of Object.entries(sources.services?.() ?? {})) {
        this.set({ service }, Math.floor(s.limit));
      }
    },
  });
  new Gauge({
    name: "orchestrator_downstream_in_flight",
    help: "Calls in flight to one service from this instance.",
    labelNames: ["service"],
    registers: [registry],
    collect() {
      for (const [service, s] of Object.entries(sources.services?.() ?? {})) {
        this.set({ service }, s.inFlight);
      }
    },
  });
  new Gauge({
    name: "orchestrator_downstream_queued",
    help: "Calls waiting for a slot under one service's limit on this instance.",
    labelNames: ["service"],
    registers: [registry],
    collect() {
      for (const [service, s] of Object.entries(sources.services?.() ?? {})) {
        this.set({ service }, s.queued);
      }
    },
  });
  new Gauge({
    name: "orchestrator_listen_connected",
    help: "1 while LISTEN on order_events is connected, 0 while polling only.",
    registers: [registry],
    collect() {
      this.set(sources.listening?.() ? 1 : 0);
    },
  });
  new Gauge({
    name: "orchestrator_database_up",
    help: "1 when the database answered this scrape's outbox query in time.",
    registers: [registry],
    async collect() {
      this.set(Number.isNaN(await outboxOnce()) ? 0 : 1);
    },
  });
  new Gauge({
    name: "orchestrator_outbox_pending",
    help: "Outbox events still PENDING (NaN when the database did not answer).",
    registers: [registry],
    async collect() {
      this.set(await outboxOnce());
    },
  });
  const retentionDeleted = new Counter({
    name: "orchestrator_retention_deleted_total",
    help: "Rows the retention sweep deleted, by table.",
    labelNames: ["table"],
    registers: [registry],
  });
  const sweepDuration = new Histogram({
    name: "orchestrator_retention_sweep_duration_seconds",
    help: "Duration of one retention sweep, in seconds.",
    buckets: SWEEP_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: "orchestrator_retention_oldest_finished_age_seconds",
    help: "Age of the oldest finished saga still kept (NaN when the database did not answer).",
    registers: [registry],
    async collect() {
      this.set((await bounded(sources.oldestFinishedAge, "oldest finished saga")) ?? Number.NaN);
    },
  });
  new Gauge({
    name: "orchestrator_sagas_parked",
    help: "Sagas in NEEDS_ATTENTION, waiting for an operator (all instances).",
    registers: [registry],
    async collect() {
      this.set((await operationalOnce())?.sagasParked ?? Number.NaN);
    },
  });
  new Gauge({
    name: "orchestrator_outbox_dead",
    help: "Dead-lettered outbox events (DEAD), waiting for a fix and a redrive.",
    registers: [registry],
    async collect() {
      this.set((await operationalOnce())?.outboxDead ?? Number.NaN);
    },
  });
  new Gauge({
    name: "orchestrator_outbox_oldest_pending_age_seconds",
    help: "Age of the oldest PENDING outbox event in seconds (0 when none).",
    registers: [registry],
    async collect() {
      this.set((await operationalOnce())?.oldestPendingAgeSeconds ?? Number.NaN);
    },
  });
  const heartbeatFailures = new Counter({
    name: "orchestrator_lease_heartbeat_failures_total",
    help: "Lease heartbeats of this instance that failed as a whole (retried at the next beat).",
    registers: [registry],
  });
  const leasesLost = new Counter({
    name: "orchestrator_leases_lost_total",
    help: "Sagas this instance stopped because their lease was lost or not renewed in time.",
    registers: [registry],
  });

  // Zero series up front: a rate() over a counter that appears late misses its first increase.
  for (const table of RETAINED_TABLES) retentionDeleted.inc({ table }, 0);
  for (const source of WAKE_SOURCES) wakeups.inc({ source }, 0);
  for (const status of FINISHED) finished.inc({ status }, 0);

  // prom-client runs every collect() of a scrape at once: the gauges that
  // share a query share one run of it per scrape.
  let outboxScrape: Promise<number> | null = null;
  function outboxOnce(): Promise<number> {
    outboxScrape ??= bounded(sources.outboxPending, "outbox count")
      .then((n) => n ?? Number.NaN)
      .finally(() => outboxScrape = null);
    return outboxScrape;
  }
  let operationalScrape: Promise<OperationalGauges | null> | null = null;
  function operationalOnce(): Promise<OperationalGauges | null> {
    operationalScrape ??= bounded(sources.operational, "operational gauges")
      .finally(() => operationalScrape = null);
    return operationalScrape;
  }

  /** The source's answer, or null when there is none, it failed, or it took too long. */
  async function bounded<T>(source: (() => Promise<T>) | undefined, what: string) {
    if (!source) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        source(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("timed out")), QUERY_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      opts.logger?.warn({ err: String(err) }, `Metrics: ${what} unavailable`);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  // A metrics bug must never break a saga: the hooks swallow their own errors.
  const safe = <A extends unknown[]>(f: (...args: A) => void) => (...args: A) => {
    try {
      f(...args);
    } catch (err) {
      opts.logger?.warn({ err: String(err) }, "Metrics hook failed");
    }
  };

  return {
    registry,
    contentType: registry.contentType,
    hooks: {
      onStarted: safe((count: number) => started.inc(count)),
      onStep: safe((step: string, outcome: string, seconds: number) => {
        steps.inc({ step, outcome });
        stepDuration.observe({ step }, seconds);
      }),
      onFinished: safe((status: string) => finished.inc({ status })),
      onWake: safe((source: WakeSource) => wakeups.inc({ source })),
      onWrite: safe((transitions: number) => batches.observe(transitions)),
      onCommitted: safe((statementSeconds: number, waitSeconds: number[]) => {
        statementDuration.observe(statementSeconds);
        for (const seconds of waitSeconds) transitionWait.observe(seconds);
      }),
      onDeleted: safe((table: string, rows: number) => retentionDeleted.inc({ table }, rows)),
      onSweep: safe((seconds: number) => sweepDuration.observe(seconds)),
      onHeartbeatFailure: safe(() => heartbeatFailures.inc()),
      onLeaseLost: safe(() => leasesLost.inc()),
    },
    observe(s) {
      sources = { ...sources, ...s };
    },
    render: () => registry.metrics(),
  };
}
