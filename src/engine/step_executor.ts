// Turns a pending step into a StepOutput by calling downstream, through the
// adaptive concurrency limit of the step's service (src/services/
// adaptive_limit.ts): a service that slows down gets fewer calls at once,
// not a storm of retries. The retry delay of a rejection is attached here
// too (the machine retries confirmOrder on 409), so every clock and random
// number stays outside the machine.
import type { StepInput, StepOutput } from "../../machines/order_types.ts";
import {
  AdaptiveLimit,
  callStep,
  retryDelayMs,
  type ServiceName,
  serviceOf,
} from "../services/mod.ts";
import type { ServiceUrls } from "../services/mod.ts";

export interface ExecutorOptions {
  urls: ServiceUrls;
  timeoutMs: number;
  retry: { baseMs: number; maxMs: number };
  /** Calls in flight per service and instance: the adaptive limit's bounds. */
  concurrency: { min: number; max: number };
}

export type StepExecutor =
  & ((
    input: StepInput,
    attempt: number,
    signal: AbortSignal,
  ) => Promise<StepOutput>)
  & { limits: Record<ServiceName, AdaptiveLimit> };

export function createStepExecutor(opts: ExecutorOptions): StepExecutor {
  const limit = () => new AdaptiveLimit(opts.concurrency);
  const limits = { orders: limit(), inventory: limit(), payments: limit() };
  const execute = async (input: StepInput, attempt: number, signal: AbortSignal) => {
    const out = await limits[serviceOf(input.step)].run(
      () => callStep(input, { ...opts, attempt, signal }),
      // A rejection is a healthy service's answer; only transient failures mean overload.
      (o) => o.outcome === "transient" ? "overload" : "ok",
      signal,
    );
    if (out.outcome === "rejected" && out.retryInMs === undefined) {
      return { ...out, retryInMs: retryDelayMs(attempt, opts.retry) };
    }
    return out;
  };
  return Object.assign(execute, { limits });
}
