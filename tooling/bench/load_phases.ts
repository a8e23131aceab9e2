// Latency under load at shares of our measured maximum (50 % and 80 %): one
// phase per share, for ours and for a peer at the same absolute rates.
import type { LoadRuns } from "./load_figures.ts";
import type { LoadLatencyResult } from "./load_latency.ts";
import type { Phases } from "./phases.ts";

export const LOAD_SHARES = [0.5, 0.8];

export async function loadAtShares(
  phases: Phases,
  label: string,
  opts: { maxRatePerSecond: number; seconds: number },
  measure: (ratePerSecond: number, onProgress: (detail: string) => void) => Promise<
    LoadLatencyResult
  >,
): Promise<LoadRuns[]> {
  const out: LoadRuns[] = [];
  for (const share of LOAD_SHARES) {
    const rate = Math.max(1, Math.round(share * opts.maxRatePerSecond));
    const phase = `${label}, ${rate} orders/s (${share * 100} % of our max)`;
    out.push({
      share,
      seconds: opts.seconds,
      runs: await phases.repeat(
        phase,
        (run) => measure(rate, (detail) => phases.status(phase, run, detail)),
      ),
    });
  }
  return out;
}
