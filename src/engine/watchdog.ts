// Is this instance stuck? A process can be alive and answer HTTP while its
// claim loop or its lease heartbeat has silently stopped (a hung connection,
// a bug, an exhausted pool): then its sagas sit leased and nothing moves.
// The watchdog compares the last progress of each with a stall limit of
// several lease lengths (and several poll intervals, since an idle claim
// loop only turns once per poll); /healthz answers 503 past it, so a
// supervisor (Docker, Kubernetes) restarts the process, and /readyz says why.
export interface WatchdogSources {
  /** When a claim cycle last completed (local epoch ms). */
  claimLoop(): number;
  /** When the lease heartbeat last completed (local epoch ms). */
  heartbeat(): number;
}

export interface Liveness {
  alive: boolean;
  /** Why not, in words (empty when alive). */
  reasons: string[];
  claim_loop_idle_ms: number;
  heartbeat_idle_ms: number;
  stall_limit_ms: number;
}

/** Progress older than this many lease lengths (or poll intervals) means stuck. */
export const STALL_LEASES = 3;

export function stallLimitMs(leaseMs: number, pollIntervalMs: number): number {
  return STALL_LEASES * Math.max(leaseMs, pollIntervalMs);
}

export function createWatchdog(sources: WatchdogSources, stallLimit: number) {
  return (now = Date.now()): Liveness => {
    const claim = now - sources.claimLoop();
    const beat = now - sources.heartbeat();
    const reasons: string[] = [];
    if (claim > stallLimit) {
      reasons.push(`no claim cycle has completed for ${claim} ms (limit ${stallLimit} ms)`);
    }
    if (beat > stallLimit) {
      reasons.push(`the lease heartbeat has not completed for ${beat} ms (limit ${stallLimit} ms)`);
    }
    return {
      alive: reasons.length === 0,
      reasons,
      claim_loop_idle_ms: claim,
      heartbeat_idle_ms: beat,
      stall_limit_ms: stallLimit,
    };
  };
}
