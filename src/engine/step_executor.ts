// Turns a pending step into a StepOutput by calling downstream, through the
// adaptive concurrency limit of the step's service (src/services/
// adaptive_limit.ts): a service that slows down gets fewer calls at once,
// not a storm of retries. The step, its service and its request come from the
// saga's definition (machines/), found by the saga's machine_version. The
// retry delay of a rejection is attached here too (a machine may retry a step
// on rejection), so every clock and random number stays outside machines.
import type { StepOutput } from "../../machines/saga_definition.ts";
import { sagaVersion } from "../../machines/registry.ts";
import { AdaptiveLimit, callStep, retryDelayMs, type ServiceName } from "../services/mod.ts";
import type { ServiceUrls } from "../services/mod.ts";
import type { StepCall } from "./saga_runner.ts";

export interface ExecutorOptions {
  /** Base URL per logical service name. */
  urls: ServiceUrls;
  timeoutMs: number;
  retry: { baseMs: number; maxMs: number };
  /** Calls in flight per service and instance: the adaptive limit's bounds. */
  concurrency: { min: number; max: number };
}

export type StepExecutor =
  & ((call: StepCall, attempt: number, signal: AbortSignal) => Promise<StepOutput>)
  & { limits: Record<ServiceName, AdaptiveLimit> };

export function createStepExecutor(opts: ExecutorOptions): StepExecutor {
  // One limit per configured service, made up front so metrics list every one.
  const limits: Record<ServiceName, AdaptiveLimit> = Object.fromEntries(
    Object.keys(opts.urls).map((name) => [name, new AdaptiveLimit(opts.concurrency)]),
  );
  const execute = async (call: StepCall, attempt: number, signal: AbortSignal) => {
    const definition = sagaVersion(call.version)?.definition;
    if (!definition) throw new TypeError(`unknown machine_version "${call.version}"`);
    const service = definition.steps[call.step]?.service;
    if (service === undefined) {
      throw new TypeError(`saga "${definition.name}" has no step "${call.step}"`);
    }
    const limit = limits[service] ??= new AdaptiveLimit(opts.concurrency);
    const out = await limit.run(
      () => callStep(call, { ...opts, definition, attempt, signal }),
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
