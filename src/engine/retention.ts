// The retention sweep: deletes finished sagas (with their steps and history)
// and processed outbox events once older than RETENTION_SECONDS. DEAD events
// and RUNNING or NEEDS_ATTENTION sagas are never deleted.
//
// It must never hold anyone up: each batch is one short transaction that
// takes only rows nobody holds (src/db/maintenance.ts), a short pause
// between batches leaves room for everything else, and a sweep stops after
// a bounded number of batches (the next one carries on). One instance sweeps
// at a time: every batch first takes a transaction-scoped advisory lock, and
// gives up the sweep when another instance has it.
import type { Sql, TransactionSql } from "../db/client.ts";
import { deleteFinishedSagas, deleteProcessedEvents, trySweepLock } from "../db/maintenance.ts";
import type { Logger } from "../log.ts";

export interface RetentionHooks {
  onDeleted?(table: "order_ledger" | "saga_step" | "saga_history" | "outbox", rows: number): void;
  onSweep?(seconds: number): void;
}

export interface RetentionOptions {
  sql: Sql;
  logger: Logger;
  retentionSeconds: number;
  /** Rows per batch (default 500). */
  batchSize?: number;
  /** Batches per sweep at most (default 200). */
  maxBatches?: number;
  /** Pause between batches (default 10 ms). */
  pauseMs?: number;
  hooks?: RetentionHooks;
}

export interface SweepResult {
  sagas: number;
  steps: number;
  history: number;
  events: number;
  batches: number;
  /** Another instance held the sweep lock. */
  yielded: boolean;
}

export async function sweepOnce(opts: RetentionOptions): Promise<SweepResult> {
  const batchSize = opts.batchSize ?? 500;
  const maxBatches = opts.maxBatches ?? 200;
  const pause = () => new Promise((r) => setTimeout(r, opts.pauseMs ?? 10));
  const started = performance.now();
  const total: SweepResult = {
    sagas: 0,
    steps: 0,
    history: 0,
    events: 0,
    batches: 0,
    yielded: false,
  };

  /** Runs one batch under the sweep lock; null when another instance has it. */
  const batch = <T>(work: (tx: TransactionSql) => Promise<T>): Promise<T | null> =>
    opts.sql.begin(async (tx) => (await trySweepLock(tx)) ? await work(tx) : null) as Promise<
      T | null
    >;

  for (let sagasDone = false, eventsDone = false; total.batches < maxBatches;) {
    if (sagasDone && eventsDone) break;
    if (!sagasDone) {
      const d = await batch((tx) => deleteFinishedSagas(tx, opts.retentionSeconds, batchSize));
      total.batches++;
      if (d === null) return finish(true);
      total.sagas += d.sagas;
      total.steps += d.steps;
      total.history += d.history;
      opts.hooks?.onDeleted?.("order_ledger", d.sagas);
      opts.hooks?.onDeleted?.("saga_step", d.steps);
      opts.hooks?.onDeleted?.("saga_history", d.history);
      sagasDone = d.sagas < batchSize;
    } else {
      const n = await batch((tx) => deleteProcessedEvents(tx, opts.retentionSeconds, batchSize));
      total.batches++;
      if (n === null) return finish(true);
      total.events += n;
      opts.hooks?.onDeleted?.("outbox", n);
      eventsDone = n < batchSize;
    }
    await pause();
  }
  return finish(false);

  function finish(yielded: boolean): SweepResult {
    total.yielded = yielded;
    const seconds = (performance.now() - started) / 1000;
    opts.hooks?.onSweep?.(seconds);
    if (total.sagas + total.events > 0) {
      opts.logger.info(
        { ...total, seconds: Number(seconds.toFixed(3)), retention_seconds: opts.retentionSeconds },
        "Retention sweep deleted finished sagas and processed events",
      );
    }
    return total;
  }
}

/** Sweeps every `intervalMs` until stopped; a failed sweep is logged and the next one runs. */
export function startRetention(opts: RetentionOptions & { intervalMs: number }) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    timer = setTimeout(() => {
      running = sweepOnce(opts)
        .catch((err) =>
          opts.logger.warn({ err: String(err) }, "Retention sweep failed; will retry")
        )
        .finally(() => {
          if (!stopped) tick();
        });
    }, opts.intervalMs);
  };
  tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
