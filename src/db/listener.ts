// The dedicated LISTEN connection. postgres.js's own `sql.listen` re-listens
// silently; we keep our own single connection so the supervisor knows when
// LISTEN is down (it then polls only) and when it is back (catch-up poll).
// NOTIFY is only a latency hint: polling remains the guarantee.
import postgres from "postgres";

export const CHANNEL = "order_events";

export interface ListenerCallbacks {
  onNotify(payload: string): void;
  onUp(): void;
  onDown(error: string): void;
}

export function startListener(
  url: string,
  cb: ListenerCallbacks,
  opts: { minRetryMs?: number; maxRetryMs?: number } = {},
): { stop(): Promise<void> } {
  let stopped = false;
  let up = false;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const sql = postgres(url, {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    fetch_types: false,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: "order-orchestrator-listen" },
    onnotify: (channel: string, payload: string) => {
      if (channel === CHANNEL) cb.onNotify(payload);
    },
    onclose: () => {
      if (stopped) return;
      if (up) {
        up = false;
        cb.onDown("LISTEN connection closed");
      }
      schedule();
    },
  } as postgres.Options<Record<string, never>>);

  function schedule() {
    if (stopped || timer !== undefined) return;
    const min = opts.minRetryMs ?? 250;
    const delay = Math.min(opts.maxRetryMs ?? 5000, min * 2 ** Math.min(failures, 10));
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
  }

  async function connect() {
    if (stopped || up) return;
    try {
      await sql`LISTEN order_events`;
      failures = 0;
      up = true;
      cb.onUp();
    } catch (err) {
      failures++;
      if (failures === 1 || up) cb.onDown(String((err as Error).message ?? err));
      schedule();
    }
  }

  void connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await sql.end({ timeout: 1 }).catch(() => {});
    },
  };
}
