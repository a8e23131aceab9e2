// The producer's cost: outbox insert transactions/s, as an edge
// API makes them (producer_load.ts), with and without the NOTIFY trigger, on
// the benchmark's own database server.
//
// Without an orchestrator, on one database, the outbox emptied before each:
// no trigger; the per-row trigger as first released (always notify, rebuilt
// here for the measurement); the gated trigger with the gate disarmed (what
// producers see while an orchestrator is busy) and armed (while one waits
// idle), the flag set directly. Then with one orchestrator instance running
// and consuming, a fresh database each: no trigger (it finds work by polling
// only), always-notify, gated; a LISTEN connection of our own counts the
// notifications that were actually sent.
import type { Sql } from "../../src/db/client.ts";
import { armWakeup, disarmWakeup } from "../../src/db/wakeup_gate.ts";
import { freshDatabase } from "../cluster/mod.ts";
import { type BenchEnv, DB_NAME, withInstances } from "./cluster.ts";
import { countNotifications } from "./notification_counter.ts";
import type { LoadOptions, LoadResult, ProducerLoad } from "./producer_load.ts";

export type Trigger = "noTrigger" | "alwaysNotify" | "gated";
export type IdleVariant = "noTrigger" | "alwaysNotify" | "gatedDisarmed" | "gatedArmed";

export interface BusyResult extends LoadResult {
  /** Outbox rows committed during the run. */
  events: number;
  /** Notifications our listener received on the channel. */
  notifications: number;
}

export interface ProducerCostRun {
  withoutOrchestrator: Record<IdleVariant, LoadResult>;
  withOrchestrator: Record<Trigger, BusyResult>;
}

const TRIGGER_LABELS: Record<IdleVariant | Trigger, string> = {
  noTrigger: "no trigger",
  alwaysNotify: "always-notify trigger (before the gate)",
  gated: "gated trigger",
  gatedDisarmed: "gated trigger, gate disarmed (as while busy)",
  gatedArmed: "gated trigger, gate armed (as while idle)",
};

const IDLE_VARIANTS: { key: IdleVariant; trigger: Trigger; armed?: boolean }[] = [
  { key: "noTrigger", trigger: "noTrigger" },
  { key: "alwaysNotify", trigger: "alwaysNotify" },
  { key: "gatedDisarmed", trigger: "gated", armed: false },
  { key: "gatedArmed", trigger: "gated", armed: true },
];
const BUSY_TRIGGERS: Trigger[] = ["noTrigger", "alwaysNotify", "gated"];

// The trigger of migration 001 as first released: a NOTIFY for every row.
const CREATE_ALWAYS_NOTIFY = [
  `CREATE OR REPLACE FUNCTION bench_always_notify() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     PERFORM pg_notify('order_events', NEW.id::text);
     RETURN NEW;
   END
   $$`,
  `CREATE TRIGGER bench_always_notify AFTER INSERT ON outbox
   FOR EACH ROW EXECUTE FUNCTION bench_always_notify()`,
];
const DROP_ALWAYS_NOTIFY = [
  "DROP TRIGGER IF EXISTS bench_always_notify ON outbox",
  "DROP FUNCTION IF EXISTS bench_always_notify()",
];

/** Leaves exactly one trigger (or none) on the outbox; "gated" is the shipped state. */
async function useTrigger(sql: Sql, trigger: Trigger): Promise<void> {
  for (const statement of DROP_ALWAYS_NOTIFY) await sql.unsafe(statement);
  await sql.unsafe(
    `ALTER TABLE outbox ${trigger === "gated" ? "ENABLE" : "DISABLE"} TRIGGER outbox_notify`,
  );
  if (trigger === "alwaysNotify") {
    for (const statement of CREATE_ALWAYS_NOTIFY) await sql.unsafe(statement);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measureProducerCost(
  env: BenchEnv,
  opts: LoadOptions & {
    load: ProducerLoad;
    /** The orchestrator's POLL_INTERVAL_MS (with no trigger, polling is all it has). */
    pollIntervalMs: number;
    onStep?(label: string): void;
  },
): Promise<ProducerCostRun> {
  const load = { clients: opts.clients, seconds: opts.seconds };

  const withoutOrchestrator = {} as Record<IdleVariant, LoadResult>;
  const fresh = await freshDatabase(env.db, DB_NAME, { max: 1 });
  try {
    for (const variant of IDLE_VARIANTS) {
      opts.onStep?.(TRIGGER_LABELS[variant.key]);
      await useTrigger(fresh.sql, variant.trigger);
      if (variant.armed !== undefined) {
        await (variant.armed ? armWakeup : disarmWakeup)(fresh.sql);
      }
      await fresh.sql`TRUNCATE outbox`;
      withoutOrchestrator[variant.key] = await opts.load.run(fresh.url, load);
    }
    await useTrigger(fresh.sql, "gated");
  } finally {
    await fresh.sql.end({ timeout: 2 });
  }

  const withOrchestrator = {} as Record<Trigger, BusyResult>;
  const vars = { POLL_INTERVAL_MS: String(opts.pollIntervalMs) };
  for (const trigger of BUSY_TRIGGERS) {
    opts.onStep?.(`${TRIGGER_LABELS[trigger]}, orchestrator running`);
    withOrchestrator[trigger] = await withInstances(env, 1, vars, async (run) => {
      await useTrigger(run.sql, trigger);
      const counter = await countNotifications(run.url);
      try {
        const result = await opts.load.run(run.url, load);
        // Notifications are delivered after their commits: let the last ones arrive.
        await sleep(250);
        const [row] = await run.sql<{ events: number; sagas: number }[]>`
          SELECT (SELECT count(*)::int FROM outbox) AS events,
            (SELECT count(*)::int FROM order_ledger) AS sagas`;
        // The figure means "while it consumes": real sagas must have started.
        if (row!.sagas === 0) throw new Error("producer's cost: the orchestrator started no saga");
        return { ...result, events: row!.events, notifications: counter.count() };
      } finally {
        // No trigger to restore: the database goes with the instance.
        await counter.stop();
      }
    });
  }
  return { withoutOrchestrator, withOrchestrator };
}
