// Composes one orchestrator instance: intake + saga pool + supervisor over a
// database pool. main.ts runs it as a process; tests can run it in-process.
import type { Config } from "./config.ts";
import type { Sql } from "./db/client.ts";
import * as q from "./db/queries.ts";
import type { Logger } from "./log.ts";
import { runIntake } from "./engine/intake.ts";
import { SagaPool } from "./engine/saga_pool.ts";
import { TransitionWriter } from "./engine/transition_writer.ts";
import { createStepExecutor } from "./engine/step_executor.ts";
import { createSupervisor, type SupervisorDeps } from "./engine/supervisor.ts";
import type { CycleOutput, WakeSource } from "../machines/supervisor.ts";
import type { RunnerDeps, SagaHooks } from "./engine/saga_runner.ts";
import { annotateCycle, traceCycle, withTransitionSpans } from "./telemetry.ts";

export interface OrchestratorDeps {
  config: Config;
  sql: Sql;
  databaseUrl: string;
  logger: Logger;
  hooks?: SagaHooks & {
    onWake?(source: WakeSource): void;
    /** One statement committed this many transitions (group commit). */
    onWrite?(transitions: number): void;
  };
  /**
   * Executes steps; default: the HTTP clients of src/services. Embedders and
   * tests can wrap it, e.g. to add a step of their own to a new machine version.
   */
  execute?: (
    defaults: RunnerDeps["execute"],
  ) => RunnerDeps["execute"];
  /** Inspection observer for the supervisor actor (Stately inspector). */
  inspect?: SupervisorDeps["inspect"];
}

/** Intake batches per cycle before yielding to the saga claim (fairness). */
const MAX_INTAKE_BATCHES = 10;

export function createOrchestrator(deps: OrchestratorDeps) {
  const { config, sql, logger } = deps;
  const budget = config.maxAttempts;
  const writer = new TransitionWriter({ sql, onFlush: deps.hooks?.onWrite });
  const pool = new SagaPool({
    sql,
    write: (t, signal) => writer.write(t, signal),
    logger,
    instanceId: config.instanceId,
    concurrency: config.sagaConcurrency,
    leaseMs: config.leaseMs,
    heartbeatMs: config.heartbeatMs,
    execute: (deps.execute ?? ((d) => d))(createStepExecutor({
      urls: config.services,
      timeoutMs: config.httpTimeoutMs,
      retry: config.retry,
    })),
    wakeAt: (at) => supervisor.schedule(at),
    onCapacity: () => supervisor.wake("capacity"),
    hooks: withTransitionSpans(deps.hooks),
  });

  async function runCycle(): Promise<CycleOutput> {
    let intakeFull = false;
    for (let i = 0; i < MAX_INTAKE_BATCHES; i++) {
      const r = await runIntake({
        sql,
        logger,
        instanceId: config.instanceId,
        batchSize: config.outboxBatchSize,
        maxAttempts: config.outboxMaxAttempts,
        leaseMs: config.leaseMs,
        budget,
        capacity: () => pool.free(),
      });
      if (r.started > 0) deps.hooks?.onStarted?.(r.started);
      pool.adopt(r.claimed);
      intakeFull = r.events >= config.outboxBatchSize;
      if (!intakeFull) break;
    }
    const free = pool.free();
    const claimed = await pool.claim();
    annotateCycle({ sagas_claimed: claimed, in_flight: pool.size });
    const more = intakeFull || (free > 0 && claimed >= free);
    return {
      more,
      nextWakeAt: more ? null : (await q.nextWakeAt(sql, config.instanceId))?.getTime() ?? null,
    };
  }

  const supervisor = createSupervisor({
    logger,
    listenUrl: config.listenDatabaseUrl ?? deps.databaseUrl,
    sql,
    listen: config.listen,
    pollIntervalMs: config.pollIntervalMs,
    runCycle: () => traceCycle(config.instanceId, runCycle),
    drain: () => pool.drain(config.shutdownGraceMs),
    onWake: deps.hooks?.onWake,
    inspect: deps.inspect,
  });

  return {
    pool,
    supervisor,
    start() {
      pool.startHeartbeat();
      supervisor.start();
    },
    /** Stop claiming, drain, release leases. The caller closes the pool afterwards. */
    stop: () => supervisor.stop(),
  };
}
