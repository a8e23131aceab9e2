// What a chaos run does, and the orchestrator settings it runs with: short
// leases and polls so a killed instance's sagas resume in seconds, a short
// HTTP timeout so injected delays become timeouts, and retry budgets large
// enough that injected faults never exhaust them.

export interface ChaosOptions {
  orders: number;
  instances: number;
  /** Orders placed per second. */
  rate: number;
  /** Seeds the order mix, the fault rules and the chaos schedule. */
  seed: number;
  /** Pause between two kills, uniformly random in [min, max] ms. */
  killEveryMs: [number, number];
  /** How long a killed instance stays dead before it is started again. */
  deadForMs: [number, number];
  /** How long PostgreSQL stays down during its restart. */
  dbDownMs: [number, number];
  /** The chaos goes on after the last order until at least this many kills. */
  minKills: number;
  /** How long to wait, after the chaos, for every saga and outbox event to settle. */
  settleTimeoutMs: number;
  /** PostgreSQL data and logs (under .data/, the only place the task may write). */
  dataDir: string;
  /** Progress and chaos events, one line each; default: none. */
  log?: (line: string) => void;
}

export function defaultChaosOptions(): ChaosOptions {
  return {
    orders: 1000,
    instances: 3,
    rate: 40,
    seed: 1,
    killEveryMs: [2000, 5000],
    deadForMs: [300, 2000],
    dbDownMs: [1000, 3000],
    minKills: 3,
    settleTimeoutMs: 300_000,
    dataDir: ".data/chaos",
  };
}

/** Injected delays exceed it, so they become client timeouts. */
export const HTTP_TIMEOUT_MS = 500;
/** Longer than HTTP_TIMEOUT_MS. */
export const SLOW_MS = 800;

/** Environment of every orchestrator instance. */
export const ORCHESTRATOR_ENV: Record<string, string> = {
  LOG_LEVEL: "info",
  LEASE_MS: "1500",
  POLL_INTERVAL_MS: "500",
  HTTP_TIMEOUT_MS: String(HTTP_TIMEOUT_MS),
  RETRY_BASE_MS: "50",
  RETRY_MAX_MS: "500",
  STEP_MAX_ATTEMPTS: "8",
  CONFIRM_MAX_ATTEMPTS: "50",
  COMPENSATION_MAX_ATTEMPTS: "50",
  OUTBOX_MAX_ATTEMPTS: "20",
  SHUTDOWN_GRACE_MS: "5000",
};
