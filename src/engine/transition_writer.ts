// Group commit for saga transitions. Every saga still waits for its own
// transition to be committed before it acts on it; what changes is that the
// transitions of many sagas arriving together share one statement and one
// commit (q.persistTransitions).
//
// No timer, no added latency: a write that finds a free slot goes out at
// once, alone. Writes that arrive while `maxInFlight` statements are running
// queue up and leave together, up to `maxBatch`, as soon as one returns. So a
// lone saga is written exactly as before, and under load the batches grow
// with the load.
//
// A statement that fails as a whole (a row the database refuses, or a
// dropped connection) is retried row by row, so one bad transition fails
// only its own saga; the runner retries and backs off as for any write.
import type { Sql } from "../db/client.ts";
import * as q from "../db/queries.ts";

export interface WriterOptions {
  sql: Sql;
  /** Transitions per statement (default 200). */
  maxBatch?: number;
  /** Statements in flight at once (default 2); the rest wait and batch up. */
  maxInFlight?: number;
  /** Told of every statement: for metrics and the benchmark. */
  onFlush?(size: number): void;
}

interface Waiting {
  t: q.Transition;
  resolve(row: q.Persisted | null): void;
  reject(err: unknown): void;
}

export class TransitionWriter {
  readonly #sql: Sql;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  readonly #onFlush?: (size: number) => void;
  #queue: Waiting[] = [];
  #inFlight = 0;

  constructor(opts: WriterOptions) {
    this.#sql = opts.sql;
    this.#maxBatch = opts.maxBatch ?? 200;
    this.#maxInFlight = opts.maxInFlight ?? 2;
    this.#onFlush = opts.onFlush;
  }

  /** Commits `t`; resolves with the saga's new revision, or null when its lease was lost. */
  write(t: q.Transition): Promise<q.Persisted | null> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ t, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#take();
      this.#inFlight++;
      void this.#flush(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  /** The next batch: one transition per saga (a second one waits for the next batch). */
  #take(): Waiting[] {
    const batch: Waiting[] = [];
    const later: Waiting[] = [];
    const sagas = new Set<string>();
    for (const w of this.#queue) {
      if (batch.length >= this.#maxBatch || sagas.has(w.t.orderId)) later.push(w);
      else {
        sagas.add(w.t.orderId);
        batch.push(w);
      }
    }
    this.#queue = later;
    return batch;
  }

  async #flush(batch: Waiting[]): Promise<void> {
    this.#onFlush?.(batch.length);
    try {
      const rows = await q.persistTransitions(this.#sql, batch.map((w) => w.t));
      const byOrder = new Map(rows.map((r) => [r.order_id, r]));
      for (const w of batch) w.resolve(byOrder.get(w.t.orderId) ?? null);
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      await Promise.all(batch.map(async (w) => {
        try {
          const [row] = await q.persistTransitions(this.#sql, [w.t]);
          w.resolve(row ?? null);
        } catch (e) {
          w.reject(e);
        }
      }));
    }
  }
}
