// Fault injection: added latency, random 503s, and scripted failures per route
// or order. Lets tests and the demo provoke every transient path the saga must
// survive (timeouts, lost responses, Retry-After) on demand.
import type { Context, MiddlewareHandler } from "hono";
import { z } from "zod";
import type { StatsRecorder } from "./stats.ts";

/** A scripted failure. Every given matcher must match; a rule without matchers matches all. */
export interface FaultRule {
  /** HTTP method, case-insensitive. */
  method?: string;
  /** Substring of the request path. */
  path?: string;
  /** Matches when a path segment or the JSON body's `order_id` equals it. */
  orderId?: string;
  /** Status of the injected answer (400–599); default 503. */
  status?: number;
  /** How many matching requests fail before the rule stops matching; omitted means forever. */
  times?: number;
  /** Apply the real effect, then answer the error anyway: a lost response. */
  afterEffect?: boolean;
  /** Hang this long before answering: models a timeout. */
  delayMs?: number;
  /** Retry-After header of the injected answer. */
  retryAfter?: string;
}

export interface FaultConfig {
  /** Added to every request before anything else happens. */
  latencyMs?: number;
  /** Up to this much more latency, uniformly random. */
  latencyJitterMs?: number;
  /** Probability (0..1) of answering 503 before doing anything; rules are tried first. */
  errorRate?: number;
  /** Tried in order; the first matching rule with tries left fires. */
  rules?: FaultRule[];
}

// Strict objects: a misspelt matcher would otherwise silently match everything.
const faultRuleSchema = z.strictObject({
  method: z.string().min(1).optional(),
  path: z.string().min(1).optional(),
  orderId: z.string().min(1).optional(),
  status: z.number().int().min(400).max(599).optional(),
  times: z.number().int().min(0).optional(),
  afterEffect: z.boolean().optional(),
  delayMs: z.number().min(0).optional(),
  retryAfter: z.string().min(1).optional(),
});

export const faultConfigSchema: z.ZodType<FaultConfig> = z.strictObject({
  latencyMs: z.number().min(0).optional(),
  latencyJitterMs: z.number().min(0).optional(),
  errorRate: z.number().min(0).max(1).optional(),
  rules: z.array(faultRuleSchema).optional(),
});

export interface FaultTarget {
  method: string;
  path: string;
  /** The JSON body's order_id, when there is one. */
  bodyOrderId?: string;
}

export class FaultInjector {
  #initial: FaultConfig;
  #config: FaultConfig = {};
  #remaining: number[] = [];
  // The demo adds a rule per flaky order, tens of thousands of them: indexed
  // by order id, so a request looks only at its own order's rules and the
  // few without one, instead of scanning them all (the services then cost
  // the demo more CPU than the orchestrator it is meant to show).
  #generic: number[] = [];
  #byOrder = new Map<string, number[]>();
  #liveOrderRules = 0;
  // Aborted on close so a hanging rule never holds a server's shutdown hostage.
  #closing = new AbortController();

  constructor(config: FaultConfig = {}, readonly random: () => number = Math.random) {
    this.#initial = faultConfigSchema.parse(config);
    this.set(this.#initial);
  }

  /** Replaces the whole configuration; throws a ZodError when it is malformed. */
  set(config: unknown): void {
    const parsed = faultConfigSchema.parse(config);
    this.#config = parsed;
    this.#remaining = (parsed.rules ?? []).map((rule) => rule.times ?? Infinity);
    this.#generic = [];
    this.#byOrder = new Map();
    this.#liveOrderRules = 0;
    (parsed.rules ?? []).forEach((rule, i) => {
      if (rule.orderId === undefined) return void this.#generic.push(i);
      const list = this.#byOrder.get(rule.orderId);
      if (list) list.push(i);
      else this.#byOrder.set(rule.orderId, [i]);
      if ((this.#remaining[i] ?? 0) > 0) this.#liveOrderRules++;
    });
  }

  /** Back to the configuration given at start, with every rule's tries restored. */
  reset(): void {
    this.set(this.#initial);
  }

  /** The current configuration; `times` shows the tries left. */
  get config(): FaultConfig {
    const rules = (this.#config.rules ?? []).map((rule, i) => {
      const left = this.#remaining[i] ?? 0;
      return Number.isFinite(left) ? { ...rule, times: left } : { ...rule };
    });
    return { ...this.#config, rules };
  }

  /** True when some rule with tries left needs the body's order_id to decide. */
  get wantsBodyOrderId(): boolean {
    return this.#liveOrderRules > 0;
  }

  latency(): number {
    const { latencyMs = 0, latencyJitterMs = 0 } = this.#config;
    return latencyMs + (latencyJitterMs > 0 ? this.random() * latencyJitterMs : 0);
  }

  /** Finds the first matching rule with tries left and uses up one try. */
  take(target: FaultTarget): FaultRule | undefined {
    const rules = this.#config.rules ?? [];
    for (const i of this.#candidates(target)) {
      const rule = rules[i]!;
      const left = this.#remaining[i] ?? 0;
      if (left > 0 && matches(rule, target)) {
        this.#remaining[i] = left - 1;
        if (left === 1 && rule.orderId !== undefined) this.#liveOrderRules--;
        return rule;
      }
    }
    return undefined;
  }

  /** Indexes of the rules that could match, in configuration order (first match wins). */
  #candidates(target: FaultTarget): number[] {
    if (this.#byOrder.size === 0) return this.#generic;
    const ids = new Set(target.path.split("/").map(safeDecode));
    if (target.bodyOrderId !== undefined) ids.add(target.bodyOrderId);
    const found = [...ids].flatMap((id) => this.#byOrder.get(id) ?? []);
    if (found.length === 0) return this.#generic;
    return [...this.#generic, ...found].sort((a, b) => a - b);
  }

  /** One roll of the random error rate. */
  roll(): boolean {
    const rate = this.#config.errorRate ?? 0;
    return rate > 0 && this.random() < rate;
  }

  /** Waits `ms`, or less when the service closes. */
  sleep(ms: number): Promise<void> {
    const signal = this.#closing.signal;
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
    });
  }

  /** Cuts every pending delay short. */
  close(): void {
    this.#closing.abort();
  }
}

function matches(rule: FaultRule, target: FaultTarget): boolean {
  if (rule.method !== undefined && rule.method.toUpperCase() !== target.method.toUpperCase()) {
    return false;
  }
  if (rule.path !== undefined && !target.path.includes(rule.path)) return false;
  if (rule.orderId !== undefined) {
    const inPath = target.path.split("/").some((segment) => safeDecode(segment) === rule.orderId);
    if (!inPath && target.bodyOrderId !== rule.orderId) return false;
  }
  return true;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

async function bodyOrderId(c: Context): Promise<string | undefined> {
  if (c.req.method === "GET" || c.req.method === "HEAD") return undefined;
  try {
    const body: unknown = JSON.parse(await c.req.text());
    if (body !== null && typeof body === "object" && "order_id" in body) {
      return typeof body.order_id === "string" ? body.order_id : undefined;
    }
  } catch {
    // Not JSON: the handler reports that; here it simply matches no body order id.
  }
  return undefined;
}

function injectedResponse(rule: FaultRule, afterEffect: boolean): Response {
  const status = rule.status ?? 503;
  const headers = new Headers({ "content-type": "application/json" });
  if (rule.retryAfter !== undefined) headers.set("retry-after", rule.retryAfter);
  const body = afterEffect ? { error: "injected_fault", after_effect: true } : {
    error: "injected_fault",
  };
  return new Response(JSON.stringify(body), { status, headers });
}

/**
 * Runs before idempotency: an injected failure answers without doing the work,
 * so nothing is stored and a retry with the same key does the real work. An
 * `afterEffect` rule lets the work (and its storage) happen, then swaps the answer.
 */
export function faultMiddleware(faults: FaultInjector, stats: StatsRecorder): MiddlewareHandler {
  return async (c, next) => {
    const latency = faults.latency();
    if (latency > 0) await faults.sleep(latency);
    const rule = faults.take({
      method: c.req.method,
      path: c.req.path,
      bodyOrderId: faults.wantsBodyOrderId ? await bodyOrderId(c) : undefined,
    });
    if (rule && !rule.afterEffect) {
      await faults.sleep(rule.delayMs ?? 0);
      stats.faultsInjected++;
      return injectedResponse(rule, false);
    }
    if (!rule && faults.roll()) {
      stats.faultsInjected++;
      return injectedResponse({}, false);
    }
    await next();
    if (rule?.afterEffect) {
      await faults.sleep(rule.delayMs ?? 0);
      stats.faultsInjected++;
      await c.res.body?.cancel();
      // Cleared first so the real answer's headers (e.g. Idempotent-Replayed) do not leak in.
      c.res = undefined;
      c.res = injectedResponse(rule, true);
    }
  };
}
