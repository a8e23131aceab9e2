// Throughput over time from saga completion instants: how many finished in a
// window, and how long after some moment (a service recovering) a window's
// rate first reached a target. Pure: the figures' arithmetic, testable alone.

/** How many of `sortedMs` (ascending) lie in [fromMs, toMs). */
export function countBetween(sortedMs: number[], fromMs: number, toMs: number): number {
  return lowerBound(sortedMs, toMs) - lowerBound(sortedMs, fromMs);
}

/** Completions per second in [fromMs, toMs); 0 for an empty window. */
export function rateBetween(sortedMs: number[], fromMs: number, toMs: number): number {
  return toMs > fromMs ? countBetween(sortedMs, fromMs, toMs) / ((toMs - fromMs) / 1000) : 0;
}

/**
 * Seconds from `fromMs` to the start of the first window of `windowMs`
 * (windows start every `stepMs` from `fromMs` on and end by `untilMs`) whose
 * rate reaches `targetPerSecond`: 0 when the rate never fell. Undefined when
 * no such window fits before `untilMs`.
 *
 * A window, not an instant: completions come in group-committed bursts, and
 * one burst is not a rate. A catch-up burst above the target counts as back,
 * since the service is keeping up again.
 */
export function secondsUntilRate(
  sortedMs: number[],
  opts: {
    fromMs: number;
    untilMs: number;
    targetPerSecond: number;
    windowMs: number;
    stepMs: number;
  },
): number | undefined {
  for (let start = opts.fromMs; start + opts.windowMs <= opts.untilMs; start += opts.stepMs) {
    if (rateBetween(sortedMs, start, start + opts.windowMs) >= opts.targetPerSecond) {
      return (start - opts.fromMs) / 1000;
    }
  }
  return undefined;
}

/** The first index whose value is not below `value` (sortedMs.length when none). */
function lowerBound(sortedMs: number[], value: number): number {
  let lo = 0;
  let hi = sortedMs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sortedMs[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
