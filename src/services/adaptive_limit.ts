// How many calls one downstream service gets from this instance at once.
//
// A slow service must receive fewer calls, not more: when its answers start
// timing out, every saga waiting on it retries, and a fixed concurrency keeps
// hundreds of calls piling onto it (a retry storm). So each service has a
// limit that adapts like TCP's congestion window (additive increase,
// multiplicative decrease): every call that ends well raises it by 1/limit
// (about +1 per round of calls), every call that ends in a transient failure
// (timeout, 5xx, 429, refused connection) halves it — once per round: calls
// already in flight when it was halved do not halve it again. It never goes
// below `min` or above `max`. Calls beyond the limit wait their turn in order
// (their saga keeps its lease meanwhile); a business rejection is a healthy
// answer and changes nothing.
export interface AdaptiveLimitOptions {
  /** Upper bound, and the starting point. */
  max: number;
  /** Lower bound: a failing service is still probed by this many calls. */
  min: number;
  now?: () => number;
}

export type CallResult = "ok" | "overload" | "neutral";

interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class AdaptiveLimit {
  #limit: number;
  #inFlight = 0;
  #queue: Waiter[] = [];
  #lastDecreaseAt = Number.NEGATIVE_INFINITY;
  readonly #opts: AdaptiveLimitOptions;

  constructor(opts: AdaptiveLimitOptions) {
    if (!(opts.min >= 1 && opts.max >= opts.min)) {
      throw new RangeError(`Invalid limits: min ${opts.min}, max ${opts.max}`);
    }
    this.#opts = opts;
    this.#limit = opts.max;
  }

  /** The current limit (a real number; floor(limit) calls may run). */
  get limit(): number {
    return this.#limit;
  }
  get inFlight(): number {
    return this.#inFlight;
  }
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Runs `call` when a slot is free. `judge` tells how it ended. Rejects
   * with the signal's reason if it aborts while still waiting.
   */
  async run<T>(call: () => Promise<T>, judge: (r: T) => CallResult, signal?: AbortSignal) {
    await this.#acquire(signal);
    const startedAt = this.#now();
    let result: CallResult = "neutral";
    try {
      const value = await call();
      result = judge(value);
      return value;
    } finally {
      this.#release(result, startedAt);
    }
  }

  #now(): number {
    return this.#opts.now ? this.#opts.now() : performance.now();
  }

  #acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#queue.length === 0 && this.#inFlight < Math.floor(this.#limit)) {
      this.#inFlight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
    });
  }

  #release(result: CallResult, startedAt: number): void {
    this.#inFlight--;
    if (result === "ok") {
      this.#limit = Math.min(this.#opts.max, this.#limit + 1 / this.#limit);
    } else if (result === "overload" && startedAt > this.#lastDecreaseAt) {
      this.#limit = Math.max(this.#opts.min, this.#limit / 2);
      this.#lastDecreaseAt = this.#now();
    }
    while (this.#queue.length > 0 && this.#inFlight < Math.floor(this.#limit)) {
      const next = this.#queue.shift()!;
      if (next.onAbort) next.signal?.removeEventListener("abort", next.onAbort);
      this.#inFlight++;
      next.resolve();
    }
  }
}
