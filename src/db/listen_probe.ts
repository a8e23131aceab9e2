// Proof that LISTEN works end to end. A LISTEN through a transaction-pooling
// PgBouncer "succeeds" but nothing is ever delivered (its server connection
// goes back to the pool at once), and a LISTEN on another database than the
// producers' hears nothing either. So after every (re)connect the listener
// sends a probe notification the way producers' NOTIFYs travel, through the
// main pool, and counts LISTEN as up only once the probe comes back.
import type { Sql } from "./client.ts";

/** Every probe payload starts with this; real notifications carry an outbox id or `retry:<order>`. */
export const PROBE_PREFIX = "probe:";

/** Within this time of its commit a probe arrives on a working LISTEN (a few ms here). */
export const PROBE_TIMEOUT_MS = 2_000;

/** How often a LISTEN that failed its probe is tried again, in case the path was fixed. */
export const REPROBE_INTERVAL_MS = 30_000;

export function isProbe(payload: string): boolean {
  return payload.startsWith(PROBE_PREFIX);
}

export function newProbePayload(): string {
  return `${PROBE_PREFIX}${crypto.randomUUID()}`;
}

/** Sends the probe through `sql`, i.e. the path producers' notifications take. */
export async function sendProbe(sql: Sql, channel: string, payload: string): Promise<void> {
  await sql`SELECT pg_notify(${channel}, ${payload})`;
}

/** Probes this listener is waiting for; arrivals are matched by payload. */
export class ProbeWaiters {
  #waiting = new Map<string, (arrived: boolean) => void>();

  /**
   * Waits for `payload`. The clock starts only with `startClock` (once the
   * probe has committed), so a slow send is not mistaken for a lost delivery;
   * a probe that arrives before that still counts.
   */
  expect(payload: string): {
    arrived: Promise<boolean>;
    startClock(timeoutMs: number): void;
    cancel(): void;
  } {
    const { promise, resolve } = Promise.withResolvers<boolean>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = (arrived: boolean) => {
      clearTimeout(timer);
      this.#waiting.delete(payload);
      resolve(arrived);
    };
    this.#waiting.set(payload, settle);
    return {
      arrived: promise,
      startClock: (timeoutMs) => {
        if (this.#waiting.has(payload)) timer = setTimeout(() => settle(false), timeoutMs);
      },
      cancel: () => settle(false),
    };
  }

  /** True when the payload was a probe this listener is waiting for (now answered). */
  receive(payload: string): boolean {
    const settle = this.#waiting.get(payload);
    settle?.(true);
    return settle !== undefined;
  }

  cancelAll(): void {
    for (const settle of [...this.#waiting.values()]) settle(false);
  }
}
