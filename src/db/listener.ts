// The dedicated LISTEN connection. postgres.js's own `sql.listen` re-listens
// silently; we keep our own single connection so the supervisor knows when
// LISTEN is down (it then polls only) and when it is back (catch-up poll).
// "Up" means proven: after every (re)connect a probe notification sent
// through the main pool must come back on this connection (listen_probe.ts).
// NOTIFY is only a latency hint: polling remains the guarantee.
import postgres from "postgres";
import type { Sql } from "./client.ts";
import {
  isProbe,
  newProbePayload,
  PROBE_TIMEOUT_MS,
  ProbeWaiters,
  REPROBE_INTERVAL_MS,
  sendProbe,
} from "./listen_probe.ts";

export const CHANNEL = "order_events";

export interface ListenerCallbacks {
  onNotify(payload: string): void;
  /** LISTEN is connected and a probe came back through it, `probeMs` after it was sent. */
  onUp(probe: { probeMs: number }): void;
  /** Why notifications cannot be relied on; called again only when the reason changes. */
  onDown(reason: string): void;
}

export interface ListenerOptions {
  /** The main pool: the probe travels the way producers' notifications do. */
  probeSql: Sql;
  minRetryMs?: number;
  maxRetryMs?: number;
  probeTimeoutMs?: number;
  reprobeIntervalMs?: number;
}

async function listenToChannel(sql: Sql): Promise<void> {
  await sql`LISTEN order_events`;
}

export function startListener(
  url: string,
  cb: ListenerCallbacks,
  opts: ListenerOptions,
): { stop(): Promise<void> } {
  const probeTimeoutMs = opts.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  const probes = new ProbeWaiters();
  let stopped = false;
  let up = false;
  let connecting = false;
  let failures = 0;
  /** Bumped on every close: a probe that straddles a close proves nothing. */
  let generation = 0;
  let reported: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const sql = postgres(url, {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    fetch_types: false,
    // One statement per connect: nothing to gain, and a pooler may not keep them.
    prepare: false,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: "order-orchestrator-listen" },
    onnotify: (channel: string, payload: string) => {
      if (channel !== CHANNEL) return;
      // Ours, or another instance's: a probe is never work.
      if (isProbe(payload)) probes.receive(payload);
      else cb.onNotify(payload);
    },
    onclose: () => {
      if (stopped) return;
      generation++;
      probes.cancelAll();
      if (up) {
        up = false;
        down("LISTEN connection closed");
      }
      schedule(backoff());
    },
  } as postgres.Options<Record<string, never>>);

  function down(reason: string) {
    if (reason === reported) return;
    reported = reason;
    cb.onDown(reason);
  }

  function backoff(): number {
    const min = opts.minRetryMs ?? 250;
    return Math.min(opts.maxRetryMs ?? 5000, min * 2 ** Math.min(failures, 10));
  }

  function schedule(delayMs: number) {
    if (stopped || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delayMs);
  }

  /**
   * The probe's verdict: its round trip, or why notifications cannot be
   * trusted. A probe that could not be sent is the database's hiccup (retry
   * with backoff); one that was sent and never came back is the path's fault
   * (re-probe at a slow pace, in case it gets fixed).
   */
  async function probe(): Promise<
    { arrivedMs: number } | { problem: string; transient: boolean }
  > {
    const payload = newProbePayload();
    const sentAt = performance.now();
    const waiting = probes.expect(payload);
    let sendTimer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        sendProbe(opts.probeSql, CHANNEL, payload),
        new Promise((_, reject) => {
          sendTimer = setTimeout(
            () => reject(new Error(`no answer within ${probeTimeoutMs} ms`)),
            probeTimeoutMs,
          );
        }),
      ]);
    } catch (err) {
      waiting.cancel();
      return {
        problem: "LISTEN connected but the probe notification could not be sent through the " +
          `main pool: ${(err as Error).message ?? err}`,
        transient: true,
      };
    } finally {
      clearTimeout(sendTimer);
    }
    waiting.startClock(probeTimeoutMs);
    if (await waiting.arrived) return { arrivedMs: performance.now() - sentAt };
    return {
      problem:
        `LISTEN connected but a probe notification did not arrive within ${probeTimeoutMs} ms: ` +
        "notifications are not delivered on this connection (a transaction-pooling PgBouncer? " +
        "LISTEN_DATABASE_URL on another database?); set LISTEN_DATABASE_URL to a direct " +
        "connection to the same database",
      transient: false,
    };
  }

  async function connect() {
    if (stopped || up || connecting) return;
    connecting = true;
    try {
      const since = generation;
      try {
        await listenToChannel(sql);
      } catch (err) {
        failures++;
        down(String((err as Error).message ?? err));
        schedule(backoff());
        return;
      }
      const verdict = await probe();
      if (stopped) return;
      if (generation !== since) {
        // Closed meanwhile: onclose scheduled a reconnect, which may have fired
        // (and been skipped) while this attempt was still running.
        schedule(backoff());
        return;
      }
      if ("arrivedMs" in verdict) {
        failures = 0;
        up = true;
        reported = undefined;
        cb.onUp({ probeMs: verdict.arrivedMs });
      } else if (verdict.transient) {
        failures++;
        down(verdict.problem);
        schedule(backoff());
      } else {
        failures = 0;
        down(verdict.problem);
        schedule(opts.reprobeIntervalMs ?? REPROBE_INTERVAL_MS);
      }
    } finally {
      connecting = false;
    }
  }

  void connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      probes.cancelAll();
      await sql.end({ timeout: 1 }).catch(() => {});
    },
  };
}
