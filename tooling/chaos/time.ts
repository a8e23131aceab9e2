// Small timing helpers for the chaos run.

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => ms > 0 ? setTimeout(resolve, ms) : resolve());

/** A uniformly random integer in [min, max], from a seeded `random`. */
export function between(random: () => number, [min, max]: [number, number]): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** Polls `check` every `intervalMs` until it returns true; false when `timeoutMs` passed first. */
export async function pollUntil(
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number },
): Promise<boolean> {
  const until = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(opts.intervalMs ?? 250);
  }
}
