// The sagas this instance is running: claims up to its free capacity, keeps
// their leases alive with one heartbeat statement, stops a saga the moment its
// lease is lost (or is about to expire unrenewed), and drains on shutdown.
//
// The heartbeat is a loop, not an interval: a beat starts only after the
// previous one has finished, so a slow database never piles beats up on the
// pool. It never waits for a row lock (renewLeases skips locked rows), and
// between beats a guard stops every saga whose lease this instance could not
// renew in time, before that lease expires and another instance takes the
// saga over: two instances never work on one saga at once, even when the
// database stops answering this one.
import type { Sql } from "../db/client.ts";
import { type ClaimedSaga, claimSagas, releaseLeases, renewLeases } from "../db/claims.ts";
import type { Logger } from "../log.ts";
import { type RunnerDeps, runSaga } from "./saga_runner.ts";
import { crashPoint } from "../crash_points.ts";
import { DbClock } from "./db_clock.ts";

export interface PoolOptions extends RunnerDeps {
  sql: Sql;
  logger: Logger;
  instanceId: string;
  concurrency: number;
  leaseMs: number;
  heartbeatMs: number;
  /** Called when a saga ends while the pool was full: there may be more to claim. */
  onCapacity(): void;
  clock?: DbClock;
  hooks?: RunnerDeps["hooks"] & {
    /** A heartbeat statement failed as a whole. */
    onHeartbeatFailure?(): void;
    /** A saga was stopped because its lease was lost or could not be renewed in time. */
    onLeaseLost?(): void;
  };
}

interface Running {
  abort: AbortController;
  done: Promise<void>;
  /** Local time by which the lease certainly ends unless renewed. */
  leaseUntil: number;
}

export class SagaPool {
  #running = new Map<string, Running>();
  #beat: ReturnType<typeof setTimeout> | undefined;
  #beating = false;
  #claiming = true;
  #wasFull = false;
  #lastHeartbeatAt = Date.now();
  readonly clock: DbClock;

  constructor(private readonly opts: PoolOptions) {
    this.clock = opts.clock ?? new DbClock();
    this.opts = {
      ...opts,
      stopping: () => !this.#claiming,
      now: () => this.clock.now(),
      wakeAt: (at) => opts.wakeAt(this.clock.toLocal(at)),
    };
  }

  get size(): number {
    return this.#running.size;
  }

  /** When the heartbeat last completed (local epoch ms): the watchdog reads it. */
  get lastHeartbeatAt(): number {
    return this.#lastHeartbeatAt;
  }

  free(): number {
    return this.#claiming ? Math.max(0, this.opts.concurrency - this.#running.size) : 0;
  }

  startHeartbeat(): void {
    if (this.#beat !== undefined) return;
    const tick = () => {
      this.#beat = setTimeout(async () => {
        // A beat still in flight is not doubled: only the expiry guard runs.
        if (!this.#beating) await this.#renew();
        this.#stopExpiring();
        if (this.#beat !== undefined) tick();
      }, this.opts.heartbeatMs);
    };
    tick();
  }

  /** Claims runnable sagas up to the free capacity and starts them; returns how many. */
  async claim(): Promise<number> {
    const limit = this.free();
    if (limit === 0) return 0;
    const sentAt = Date.now();
    const rows = await claimSagas(this.opts.sql, this.opts.instanceId, limit, this.opts.leaseMs);
    if (rows.length > 0) {
      this.clock.observe(Number(rows[0]!.db_now_ms), sentAt);
      crashPoint("after_claim_saga");
    }
    for (const row of rows) this.#start(row, sentAt);
    return rows.length;
  }

  /** Starts sagas intake inserted already leased to us (in a statement sent at `sentAt`). */
  adopt(rows: ClaimedSaga[], sentAt: number): void {
    if (rows.length > 0) crashPoint("after_claim_saga");
    for (const row of rows) this.#start(row, sentAt);
  }

  #start(row: ClaimedSaga, sentAt: number): void {
    const previous = this.#running.get(row.order_id);
    const abort = new AbortController();
    // Claimed again while its previous run is still winding down here (it
    // released the saga a moment ago, or lost it): that run's epoch is stale,
    // so stop it, and start this one as soon as it is gone.
    previous?.abort.abort(new Error("claimed again"));
    const run = async () => {
      await previous?.done;
      await runSaga(row, this.opts, abort.signal);
    };
    const done = run()
      .catch((err) =>
        this.opts.logger.error({ order_id: row.order_id, err: String(err) }, "Saga run failed")
      )
      .finally(() => {
        if (this.#running.get(row.order_id)?.done === done) this.#running.delete(row.order_id);
        if (this.#wasFull && this.#claiming) {
          this.#wasFull = false;
          this.opts.onCapacity();
        }
      });
    // The lease was set by the server at or after `sentAt`: counting from then is safe.
    this.#running.set(row.order_id, { abort, done, leaseUntil: sentAt + this.opts.leaseMs });
    if (this.#running.size >= this.opts.concurrency) this.#wasFull = true;
  }

  async #renew(): Promise<void> {
    const ids = [...this.#running.keys()];
    if (ids.length === 0) {
      this.#lastHeartbeatAt = Date.now();
      return;
    }
    this.#beating = true;
    const sentAt = Date.now();
    try {
      const r = await renewLeases(this.opts.sql, this.opts.instanceId, ids, this.opts.leaseMs);
      this.clock.observe(r.dbNowMs, sentAt);
      const renewed = new Set(r.renewed);
      const busy = new Set(r.busy);
      for (const id of ids) {
        const run = this.#running.get(id);
        if (!run) continue;
        if (renewed.has(id)) run.leaseUntil = sentAt + this.opts.leaseMs;
        else if (!busy.has(id)) {
          // Neither renewed nor locked: another instance has it now.
          this.opts.logger.warn({ order_id: id }, "Lease lost; stopping the saga");
          this.opts.hooks?.onLeaseLost?.();
          run.abort.abort(new Error("lease lost"));
        }
      }
      this.#lastHeartbeatAt = Date.now();
    } catch (err) {
      this.opts.hooks?.onHeartbeatFailure?.();
      this.opts.logger.warn({ err: String(err) }, "Lease heartbeat failed; will retry");
    } finally {
      this.#beating = false;
    }
  }

  /**
   * Stops every saga whose lease would expire before the next beat could renew
   * it: whatever it was doing is resumed, from its last persisted state, by
   * whichever instance claims it once the lease has run out.
   */
  #stopExpiring(): void {
    const deadline = Date.now() + this.opts.heartbeatMs;
    for (const [id, run] of this.#running) {
      if (run.leaseUntil > deadline || run.abort.signal.aborted) continue;
      this.opts.logger.warn(
        { order_id: id },
        "Lease could not be renewed in time; stopping the saga before it expires",
      );
      this.opts.hooks?.onLeaseLost?.();
      run.abort.abort(new Error("lease not renewed"));
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
    clearTimeout(this.#beat);
    this.#beat = undefined;
    await releaseLeases(this.opts.sql, this.opts.instanceId);
  }
}
