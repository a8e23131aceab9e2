// Where a saga's latency goes, from what the database already keeps: each
// history line's `at` is now() of the statement that wrote it (the start of
// its transaction), so the time between two lines of one saga is everything
// between those two statements: the first one's commit, the downstream call
// the transition asked for, the wait behind the statement in flight and the
// start of the second. Pure: latency_parts.ts gathers the inputs.
import { percentile } from "./stats.ts";

/** One saga_history line of a measured order: its event and when its statement began (epoch ms). */
export interface HistoryLineAt {
  orderId: string;
  event: string;
  atMs: number;
}

export const COMMIT = "commit";
export const DONE = "done";
export const TOTAL = `${COMMIT} → ${DONE}`;

/**
 * The milliseconds each part took, per order, keyed "from → to" in the order
 * the parts first appear, then `TOTAL`. `committedAt`: when each order's
 * INSERT committed; `history`: the lines of those orders, each order's in the
 * order they were written; `doneAt`: when each order's ledger row last changed.
 * An order without a history or an end is left out, and counted.
 */
export function latencyParts(
  committedAt: ReadonlyMap<string, number>,
  history: readonly HistoryLineAt[],
  doneAt: ReadonlyMap<string, number>,
): { parts: Map<string, number[]>; unfinished: number } {
  const lines = new Map<string, HistoryLineAt[]>();
  for (const line of history) {
    const own = lines.get(line.orderId);
    if (own) own.push(line);
    else lines.set(line.orderId, [line]);
  }
  const parts = new Map<string, number[]>();
  const add = (key: string, ms: number) => {
    const values = parts.get(key);
    if (values) values.push(ms);
    else parts.set(key, [ms]);
  };
  const totals: number[] = [];
  let unfinished = 0;
  for (const [orderId, committed] of committedAt) {
    const own = lines.get(orderId);
    const done = doneAt.get(orderId);
    if (!own || done === undefined) {
      unfinished++;
      continue;
    }
    let from = COMMIT;
    let fromMs = committed;
    for (const line of own) {
      add(`${from} → ${line.event}`, line.atMs - fromMs);
      from = line.event;
      fromMs = line.atMs;
    }
    add(`${from} → ${DONE}`, done - fromMs);
    totals.push(done - committed);
  }
  if (totals.length > 0) parts.set(TOTAL, totals);
  return { parts, unfinished };
}

/** Means of the orchestrator's own histograms over a window (sum and count deltas). */
export interface WriterFigures {
  /** Downstream call, request to answer, ms. */
  stepMs: number;
  /** One group-commit statement, commit included, ms. */
  statementMs: number;
  /** A transition handed to the writer → its commit, ms. */
  waitMs: number;
  /** Transitions per statement. */
  batch: number;
}

/** Text lines: one per part with its count, p50, p90 and p99 in ms, then the writer's means. */
export function partsReport(
  title: string,
  parts: ReadonlyMap<string, number[]>,
  writer?: WriterFigures,
): string[] {
  const width = Math.max(...[...parts.keys()].map((k) => k.length), 10);
  const ms = (v: number) => v.toFixed(1).padStart(7);
  const out = [title, `  ${"part".padEnd(width)}  ${"n".padStart(6)}      p50      p90      p99`];
  for (const [key, values] of parts) {
    out.push(
      `  ${key.padEnd(width)}  ${String(values.length).padStart(6)}  ${
        ms(percentile(values, 50))
      }  ${ms(percentile(values, 90))}  ${ms(percentile(values, 99))}`,
    );
  }
  if (writer) {
    out.push(
      `  means: downstream call ${writer.stepMs.toFixed(2)} ms, statement ${
        writer.statementMs.toFixed(2)
      } ms for ${writer.batch.toFixed(1)} transitions, write → commit ${
        writer.waitMs.toFixed(2)
      } ms`,
    );
  }
  return out;
}
