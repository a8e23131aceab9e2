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
