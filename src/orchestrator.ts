// Composes one orchestrator instance: intake + saga pool + supervisor over a
// database pool. main.ts runs it as a process; tests can run it in-process.
import type { Config } from "./config.ts";
import type { Sql } from "./db/client.ts";
import { idleCheck } from "./db/claims.ts";
import type { Logger } from "./log.ts";
import { runIntake } from "./engine/intake.ts";
import { SagaPool } from "./engine/saga_pool.ts";
import { TransitionWriter } from "./engine/transition_writer.ts";
import { createStepExecutor } from "./engine/step_executor.ts";
import { createSupervisor, type SupervisorDeps } from "./engine/supervisor.ts";
import type { CycleOutput, WakeSource } from "../machines/supervisor.ts";
import type { RunnerDeps, SagaHooks } from "./engine/saga_runner.ts";
import { annotateCycle, traceCycle, withTransitionSpans } from "./telemetry.ts";
import { createWatchdog, stallLimitMs } from "./engine/watchdog.ts";
import { armWakeup, disarmWakeup } from "./db/wakeup_gate.ts";
import { type RetentionHooks, startRetention } from "./engine/retention.ts";

export interface OrchestratorDeps {
  config: Config;
  sql: Sql;
  databaseUrl: string;
  logger: Logger;
  hooks?: SagaHooks & RetentionHooks & {
    onWake?(source: WakeSource): void;
    /** One statement committed this many transitions (group commit). */
    onWrite?(transitions: number): void;
    /** A statement committed: its duration, and each of its transitions' wait for it. */
    onCommitted?(statementSeconds: number, waitSeconds: number[]): void;
    /** The lease heartbeat failed as a whole (passed to the saga pool). */
    onHeartbeatFailure?(): void;
    /** The saga pool stopped a saga whose lease was lost or not renewed in time. */
    onLeaseLost?(): void;
  };
  /**
   * Executes steps; default: the HTTP clients of src/services. Embedders and
   * tests can wrap it, e.g. to add a step of their own to a new machine version.
   */
  execute?: (
    defaults: RunnerDeps["execute"],
  ) => RunnerDeps["execute"];
  /**
   * Base URLs of services beyond the configured ones, by logical name: those
   * a saga type of an embedder's (or a test's) own calls.
   */
  serviceUrls?: Record<string, string>;
  /** Inspection observer for the supervisor actor (Stately inspector). */
  inspect?: SupervisorDeps["inspect"];
}

/** Intake batches per cycle before yielding to the saga claim (fairness). */
const MAX_INTAKE_BATCHES = 10;

export function createOrchestrator(deps: OrchestratorDeps) {
  const { config, sql, logger } = deps;
  const budget = config.maxAttempts;
  const writer = new TransitionWriter({
    sql,
    onFlush: deps.hooks?.onWrite,
    onCommitted: deps.hooks?.onCommitted,
  });
  const executor = createStepExecutor({
    urls: { ...config.services, ...deps.serviceUrls },
    timeoutMs: config.httpTimeoutMs,
    retry: config.retry,
    concurrency: config.serviceConcurrency,
  });
  const pool = new SagaPool({
    sql,
    write: (t, signal) => writer.write(t, signal),
    logger,
    instanceId: config.instanceId,
    concurrency: config.sagaConcurrency,
    leaseMs: config.leaseMs,
    heartbeatMs: config.heartbeatMs,
    execute: (deps.execute ?? ((d) => d))(executor),
    wakeAt: (at) => supervisor.schedule(at),
    onCapacity: () => supervisor.wake("capacity"),
    // Saga hooks and the pool's own (heartbeat failures, lost leases) alike.
    hooks: withTransitionSpans(deps.hooks),
  });

  /** LISTEN is up and verified: only then is it worth having producers notify us. */
  const listening = () =>
    supervisor.actor.getSnapshot().matches({ running: { connection: "listening" } });

  // The wake-up gate (migration 004): producers notify only while some
  // instance waits idle. A cycle disarms it in its first intake transaction
  // (no extra round trip) and, going idle, arms it and then looks once more
  // for events that raced the arming; the rare one that slips through both
  // is found by the poll.
  async function runCycle(): Promise<CycleOutput> {
    let intakeFull = false;
    for (let i = 0; i < MAX_INTAKE_BATCHES; i++) {
      const sentAt = Date.now();
      const r = await runIntake({
        sql,
        logger,
        instanceId: config.instanceId,
        batchSize: config.outboxBatchSize,
        maxAttempts: config.outboxMaxAttempts,
        leaseMs: config.leaseMs,
        budget,
        capacity: () => pool.free(),
        alongside: i === 0 ? disarmWakeup : undefined,
      });
      if (r.started > 0) deps.hooks?.onStarted?.(r.started);
      pool.adopt(r.claimed, sentAt);
      intakeFull = r.events >= config.outboxBatchSize;
      if (!intakeFull) break;
    }
    const free = pool.free();
    const claimed = await pool.claim();
    annotateCycle({ sagas_claimed: claimed, in_flight: pool.size });
    if (intakeFull || (free > 0 && claimed >= free)) return { more: true, nextWakeAt: null };
    if (listening()) await armWakeup(sql);
    const idle = await idleCheck(sql, config.instanceId);
    if (idle.outboxReady) return { more: true, nextWakeAt: null };
    // A full pool takes nothing more: the next saga to end wakes the loop (capacity).
    const inMs = pool.free() === 0 ? null : idle.nextInMs;
    return { more: false, nextWakeAt: inMs === null ? null : Date.now() + inMs };
  }

  let lastCycleAt = Date.now();
  let drained: { released: boolean; error?: string } = { released: false };
  const liveness = createWatchdog({
    claimLoop: () => lastCycleAt,
    heartbeat: () => pool.lastHeartbeatAt,
  }, stallLimitMs(config.leaseMs, config.pollIntervalMs));

  const supervisor = createSupervisor({
    logger,
    listenUrl: config.listenDatabaseUrl ?? deps.databaseUrl,
    sql,
    listen: config.listen,
    pollIntervalMs: config.pollIntervalMs,
    runCycle: async () => {
      try {
        const out = await traceCycle(config.instanceId, runCycle);
        lastCycleAt = Date.now();
        return out;
      } catch (err) {
        // The cycle disarmed the gate and failed before arming it again: arm
        // it now, or producers stay silent until the next poll.
        if (listening()) await armWakeup(sql).catch(() => {});
        throw err;
      }
    },
    drain: async () => {
      try {
        await pool.drain(config.shutdownGraceMs);
        drained = { released: true };
      } catch (err) {
        drained = { released: false, error: String(err) };
        throw err;
      }
    },
    onWake: deps.hooks?.onWake,
    inspect: deps.inspect,
  });

  let retention: ReturnType<typeof startRetention> | undefined;

  return {
    pool,
    supervisor,
    /** Each downstream service's adaptive concurrency limit (metrics read them). */
    serviceLimits: executor.limits,
    /** The watchdog's verdict: /healthz and /readyz report it. */
    liveness,
    start() {
      pool.startHeartbeat();
      supervisor.start();
      if (config.retentionSeconds > 0) {
        retention = startRetention({
          sql,
          logger,
          retentionSeconds: config.retentionSeconds,
          intervalMs: config.maintenanceIntervalMs,
          hooks: deps.hooks,
        });
      }
    },
    /**
     * Stop claiming, drain, release leases. The caller closes the pool
     * afterwards. Says whether the leases were given back (if not, other
     * instances resume these sagas once the leases expire).
     */
    stop: async () => {
      await retention?.stop();
      await supervisor.stop();
      return drained;
    },
  };
}
