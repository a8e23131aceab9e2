// The orchestrator's backlog: sagas RUNNING plus OrderPlaced events still
// PENDING in the outbox, i.e. orders accepted and not yet finished. One
// statement, so a saga moving from the outbox into the ledger (one intake
// transaction) is counted exactly once. RUNNING comes from the maintained
// per-status counters (005_saga_counts.sql): polling it costs the database
// 16 rows, not a scan of the ledger, while the orchestrator is being measured.
import type { Sql } from "../../src/db/client.ts";

export interface Backlog {
  running: number;
  pending: number;
  /** COMPLETED, CANCELLED or NEEDS_ATTENTION: every saga of the database so far. */
  finished: number;
}

export async function readBacklog(sql: Sql): Promise<Backlog> {
  const [row] = await sql<{ running: number; finished: number; pending: number }[]>`
    SELECT coalesce(sum(running), 0)::int AS running,
      coalesce(sum(completed + cancelled + needs_attention), 0)::int AS finished,
      (SELECT count(*)::int FROM outbox WHERE status = 'PENDING') AS pending
    FROM saga_status_counts`;
  return { running: row!.running, pending: row!.pending, finished: row!.finished };
}

/**
 * Polls the backlog every `everyMs` until `finished` sagas have finished;
 * resolves with the largest backlog seen. Started before the orders arrive,
 * so the peak is the run's.
 */
export async function watchBacklog(
  sql: Sql,
  opts: {
    finished: number;
    everyMs: number;
    timeoutMs: number;
    onProgress?(backlog: Backlog): void;
  },
): Promise<{ peak: number }> {
  const until = Date.now() + opts.timeoutMs;
  let peak = 0;
  for (;;) {
    const b = await readBacklog(sql);
    peak = Math.max(peak, b.running + b.pending);
    opts.onProgress?.(b);
    if (b.finished >= opts.finished) return { peak };
    if (Date.now() > until) {
      throw new Error(
        `only ${b.finished} of ${opts.finished} sagas finished within ${opts.timeoutMs} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.everyMs));
  }
}
