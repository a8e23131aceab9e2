// The sagas this instance is running: claims up to its free capacity, keeps
// their leases alive with one heartbeat statement, stops a saga the moment its
// lease is lost, and drains on shutdown.
import type { Sql } from "../db/client.ts";
import * as q from "../db/queries.ts";
import type { Logger } from "../log.ts";
import { type RunnerDeps, runSaga } from "./saga_runner.ts";
import { crashPoint } from "../crash_points.ts";

export interface PoolOptions extends RunnerDeps {
  sql: Sql;
  logger: Logger;
  instanceId: string;
  concurrency: number;
  leaseMs: number;
  heartbeatMs: number;
  /** Called when a saga ends while the pool was full: there may be more to claim. */
  onCapacity(): void;
}

export class SagaPool {
  #running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #claiming = true;
  #wasFull = false;

  constructor(private readonly opts: PoolOptions) {
    this.opts = { ...opts, stopping: () => !this.#claiming };
  }

  get size(): number {
    return this.#running.size;
  }

  free(): number {
    return this.#claiming ? Math.max(0, this.opts.concurrency - this.#running.size) : 0;
  }

  startHeartbeat(): void {
    this.#heartbeat ??= setInterval(() => void this.#renew(), this.opts.heartbeatMs);
  }

  /** Claims runnable sagas up to the free capacity and starts them; returns how many. */
  async claim(): Promise<number> {
    const limit = this.free();
    if (limit === 0) return 0;
    const rows = await q.claimSagas(this.opts.sql, this.opts.instanceId, limit, this.opts.leaseMs);
    if (rows.length > 0) crashPoint("after_claim_saga");
    for (const row of rows) this.#start(row);
    return rows.length;
  }

  /** Starts sagas intake inserted already leased to us. */
  adopt(rows: q.ClaimedSaga[]): void {
    if (rows.length > 0) crashPoint("after_claim_saga");
    for (const row of rows) this.#start(row);
  }

  #start(row: q.ClaimedSaga): void {
    if (this.#running.has(row.order_id)) return;
    const abort = new AbortController();
    const done = runSaga(row, this.opts, abort.signal)
      .catch((err) =>
        this.opts.logger.error({ order_id: row.order_id, err: String(err) }, "Saga run failed")
      )
      .finally(() => {
        this.#running.delete(row.order_id);
        if (this.#wasFull && this.#claiming) {
          this.#wasFull = false;
          this.opts.onCapacity();
        }
      });
    this.#running.set(row.order_id, { abort, done });
    if (this.#running.size >= this.opts.concurrency) this.#wasFull = true;
  }

  async #renew(): Promise<void> {
    const ids = [...this.#running.keys()];
    if (ids.length === 0) return;
    try {
      const kept = new Set(
        (await q.renewLeases(this.opts.sql, this.opts.instanceId, ids, this.opts.leaseMs))
          .map((r) => r.order_id),
      );
      for (const id of ids) {
        const run = this.#running.get(id);
        // Still running and not renewed: another instance took it over.
        if (run && !kept.has(id)) {
          this.opts.logger.warn({ order_id: id }, "Lease lost; stopping the saga");
          run.abort.abort(new Error("lease lost"));
        }
      }
    } catch (err) {
      this.opts.logger.warn({ err: String(err) }, "Lease heartbeat failed; will retry");
    }
  }

  /**
   * Stops claiming, lets running steps finish for up to `graceMs`, aborts the
   * rest (their last persisted state stands), then gives every lease back.
   */
  async drain(graceMs: number): Promise<void> {
    this.#claiming = false;
    const all = () => Promise.all([...this.#running.values()].map((r) => r.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      all().then(() => false),
      new Promise<boolean>((r) => timer = setTimeout(() => r(true), graceMs)),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.opts.logger.warn({ sagas: this.#running.size }, "Grace period over; aborting steps");
      for (const r of this.#running.values()) r.abort.abort(new Error("shutdown"));
      await all();
    }
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    await q.releaseLeases(this.opts.sql, this.opts.instanceId);
  }
}
