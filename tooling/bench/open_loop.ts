// An open-loop producer: request i is started at start + i / rate seconds
// whether or not the earlier ones have finished, as independent clients of
// an edge API arrive. (A closed loop, waiting for each answer before the
// next, slows down with the system under test and hides its queueing.)

export interface OpenLoopResult {
  /** Requests started. */
  sent: number;
  /** From the first scheduled start to the last request's completion. */
  seconds: number;
  /** The latest any request started after its scheduled time: this process falling behind. */
  maxLagMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runOpenLoop(
  opts: { count: number; ratePerSecond: number; onProgress?(sent: number): void },
  send: (i: number) => Promise<void>,
): Promise<OpenLoopResult> {
  const started = performance.now();
  const intervalMs = 1000 / opts.ratePerSecond;
  const inFlight: Promise<void>[] = [];
  let failure: unknown;
  let maxLagMs = 0;
  let lastProgress = started;
  for (let i = 0; i < opts.count; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    // Timers fire late by a millisecond or so: start whatever is due, sleep otherwise.
    if (wait > 1) await sleep(wait);
    maxLagMs = Math.max(maxLagMs, performance.now() - due);
    inFlight.push(
      send(i).catch((err) => {
        failure ??= err;
      }),
    );
    if (performance.now() - lastProgress > 500) {
      lastProgress = performance.now();
      opts.onProgress?.(i + 1);
    }
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  return { sent: opts.count, seconds: (performance.now() - started) / 1000, maxLagMs };
}
