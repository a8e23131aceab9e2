// The database's clock, as seen from this process. Retry deadlines are stored
// in `run_at` and compared with the database's now() when sagas are claimed,
// so they must be computed on that clock too: a deadline computed on a skewed
// instance clock is claimed early or late, and the runner's own "is it due?"
// check then disagrees with the claim (claim, release, claim again: churn).
// Every statement that reads the server's time refreshes the offset.
export class DbClock {
  #offsetMs = 0;

  /** Records a server time read by a round trip that started at `sentAt` (local epoch ms). */
  observe(serverMs: number, sentAt: number, receivedAt = Date.now()): void {
    if (!Number.isFinite(serverMs)) return;
    this.#offsetMs = serverMs - (sentAt + receivedAt) / 2;
  }

  /** The database's current time, epoch ms. */
  now(): number {
    return Date.now() + this.#offsetMs;
  }

  /** A database time as a local epoch ms (for this process's own timers). */
  toLocal(serverMs: number): number {
    return serverMs - this.#offsetMs;
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }
}
