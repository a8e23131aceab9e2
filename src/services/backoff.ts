// Retry delay for transient step failures. Pure: randomness is injected so
// the saga machine and tests stay deterministic.

export interface RetryPolicy {
  /** Cap of the first retry's jitter window, in ms. */
  baseMs: number;
  /** Largest jitter window, in ms. */
  maxMs: number;
}

/** A hostile or buggy Retry-After must not park a saga for days. */
const RETRY_AFTER_CEILING_FACTOR = 10;

/**
 * Exponential backoff with full jitter (uniform in [0, min(maxMs, baseMs·2^attempt)],
 * attempt counted from 0), never shorter than the server's Retry-After, which is
 * itself capped at 10 × maxMs. Integer milliseconds.
 */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const baseMs = nonNegative(policy.baseMs);
  const maxMs = nonNegative(policy.maxMs);
  // Clamping the exponent keeps 2^attempt finite, so baseMs = 0 never yields NaN.
  const exponent = Math.min(Math.max(0, Math.floor(attempt) || 0), 52);
  const window = Math.min(maxMs, baseMs * 2 ** exponent);
  const jittered = Math.round(clamp01(random()) * window);
  if (retryAfterMs === undefined) return jittered;
  // NaN counts as no hint; Infinity (an absurdly long header) lands on the ceiling.
  const hint = Number.isNaN(retryAfterMs) ? 0 : Math.max(0, retryAfterMs);
  const floor = Math.min(hint, RETRY_AFTER_CEILING_FACTOR * maxMs);
  return Math.max(jittered, Math.ceil(floor));
}

function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
