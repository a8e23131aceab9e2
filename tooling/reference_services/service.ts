// What every sandbox service shares: stats, fault injection, the idempotency
// store, the /_control surface, and the middleware order that makes them agree.
import { Hono, type MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { createControlApp } from "./control.ts";
import { type FaultConfig, FaultInjector, faultMiddleware } from "./faults.ts";
import { handleError, handleNotFound } from "./http.ts";
import { IDEMPOTENCY_HEADER, idempotencyMiddleware, IdempotencyStore } from "./idempotency.ts";
import { type ServiceName, type ServiceStats, StatsRecorder } from "./stats.ts";

export interface ServiceOptions {
  /** Fault configuration at start; `/_control/reset` returns to it. */
  faults?: FaultConfig;
  /** Source of randomness for error rate, jitter and declines (default Math.random). */
  random?: () => number;
  /** Simulated work inside the idempotency lock, before the effect: widens race windows. */
  processingMs?: number;
}

export abstract class SandboxState {
  readonly recorder: StatsRecorder;
  readonly faults: FaultInjector;
  readonly idempotency = new IdempotencyStore();
  readonly random: () => number;
  processingMs: number;

  constructor(readonly service: ServiceName, options: ServiceOptions = {}) {
    this.random = options.random ?? Math.random;
    this.recorder = new StatsRecorder(service);
    this.faults = new FaultInjector(options.faults, this.random);
    this.processingMs = options.processingMs ?? 0;
  }

  stats(options: { log?: boolean; keys?: boolean } = {}): ServiceStats {
    return this.recorder.snapshot(options);
  }

  /** Replaces the fault configuration; throws a ZodError when it is malformed. */
  setFaults(config: FaultConfig): void {
    this.faults.set(config);
  }

  /** As freshly started: domain state, stats and stored answers cleared, start-up faults back. */
  reset(): void {
    this.clearDomain();
    this.recorder.reset();
    this.idempotency.clear();
    this.faults.reset();
  }

  /** Cuts injected delays short so the server can shut down promptly. */
  close(): void {
    this.faults.close();
  }

  protected abstract clearDomain(): void;
}

const CONTROL_PREFIX = "/_control";

/**
 * Builds a service app. Order matters: calls are counted first (faults included),
 * faults answer before any work, idempotency wraps the work, then the handler.
 */
export function createServiceApp(
  state: SandboxState,
  routes: (app: Hono) => void,
  extraControl?: (control: Hono) => void,
): Hono {
  const app = new Hono();
  app.onError(handleError);
  app.notFound(handleNotFound);
  app.route(CONTROL_PREFIX, createControlApp(state, extraControl));
  app.use(
    "*",
    serviceOnly(async (c, next) => {
      state.recorder.call(routeLabel(c), c.req.header(IDEMPOTENCY_HEADER));
      await next();
    }),
    serviceOnly(faultMiddleware(state.faults, state.recorder)),
    serviceOnly(idempotencyMiddleware(state.idempotency, state.recorder)),
    serviceOnly(async (c, next) => {
      if (state.processingMs > 0 && c.req.method !== "GET") {
        await state.faults.sleep(state.processingMs);
      }
      await next();
    }),
  );
  routes(app);
  return app;
}

// The admin surface is not part of the service: no counting, faults or idempotency.
function serviceOnly(middleware: MiddlewareHandler): MiddlewareHandler {
  return (c, next) => {
    const path = c.req.path;
    if (path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`)) return next();
    return middleware(c, next);
  };
}

// "POST /orders/:order_id/confirmation": the route pattern, so counts do not explode per id.
function routeLabel(c: Parameters<MiddlewareHandler>[0]): string {
  const route = matchedRoutes(c).findLast((r) => r.method !== "ALL");
  return `${c.req.method} ${route ? route.path : "(unmatched)"}`;
}
