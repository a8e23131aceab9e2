// Turns a pending step into a StepOutput by calling downstream. The retry
// delay of a rejection is attached here too (the machine retries confirmOrder
// on 409), so every clock and random number stays outside the machine.
import type { StepInput, StepOutput } from "../../machines/order_types.ts";
import { callStep, retryDelayMs } from "../services/mod.ts";
import type { ServiceUrls } from "../services/mod.ts";

export interface ExecutorOptions {
  urls: ServiceUrls;
  timeoutMs: number;
  retry: { baseMs: number; maxMs: number };
}

export function createStepExecutor(opts: ExecutorOptions) {
  return async (input: StepInput, attempt: number, signal: AbortSignal): Promise<StepOutput> => {
    const out = await callStep(input, { ...opts, attempt, signal });
    if (out.outcome === "rejected" && out.retryInMs === undefined) {
      return { ...out, retryInMs: retryDelayMs(attempt, opts.retry) };
    }
    return out;
  };
}
