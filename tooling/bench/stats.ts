// Order statistics for repeated measurements.

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every run's value, in run order. */
  runs: number[];
}

/** Percentile `p` (0–100) of `values` by linear interpolation between closest ranks. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function spread(runs: number[]): Spread {
  return {
    median: percentile(runs, 50),
    min: Math.min(...runs),
    max: Math.max(...runs),
    runs,
  };
}

/** Applies `f` to each run of `s` (e.g. a ratio), keeping the shape. */
export function mapSpread(s: Spread, f: (value: number, run: number) => number): Spread {
  return spread(s.runs.map((v, i) => f(v, i)));
}

/** p50, p99 and max of latency samples in milliseconds. */
export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function summarizeLatency(values: number[]): LatencySummary {
  return {
    samples: values.length,
    p50Ms: percentile(values, 50),
    p99Ms: percentile(values, 99),
    maxMs: values.reduce((max, v) => Math.max(max, v), values.length === 0 ? NaN : -Infinity),
  };
}

/** The spread of `f` over runs. */
export const spreadOf = <T>(runs: T[], f: (run: T) => number): Spread => spread(runs.map(f));

/** Pairs run i of `a` with run i of `b` (cycling when counts differ), e.g. for a ratio. */
export const pairedSpread = <A, B>(a: A[], b: B[], f: (a: A, b: B) => number): Spread =>
  spread(b.map((y, i) => f(a[i % a.length]!, y)));
