// Entry point for tests, the demo and the benchmark: start the three reference
// services in-process, or talk to ones running in another process.
import { createInventoryApp, type InventoryOptions, type InventoryState } from "./inventory.ts";
import { listen } from "./listen.ts";
import { createOrdersApp, type OrdersOptions, type OrdersState } from "./orders.ts";
import { createPaymentsApp, type PaymentsOptions, type PaymentsState } from "./payments.ts";
import type { FaultConfig } from "./faults.ts";
import type { ServiceStats } from "./stats.ts";

export { createInventoryApp, InventoryState } from "./inventory.ts";
export type { InventoryOptions, Reservation } from "./inventory.ts";
export { createOrdersApp, OrdersState } from "./orders.ts";
export type { OrderRecord, OrdersOptions, OrderStatus } from "./orders.ts";
export { createPaymentsApp, PaymentsState } from "./payments.ts";
export type { Authorization, PaymentsOptions } from "./payments.ts";
export { faultConfigSchema } from "./faults.ts";
export type { FaultConfig, FaultRule } from "./faults.ts";
export { IDEMPOTENCY_HEADER, REPLAYED_HEADER } from "./idempotency.ts";
export { listen } from "./listen.ts";
export type { ListenOptions, RunningService } from "./listen.ts";
export { SandboxState } from "./service.ts";
export type { ServiceOptions } from "./service.ts";
export { EFFECTS } from "./stats.ts";
export type { EffectLogEntry, EffectName, ServiceName, ServiceStats } from "./stats.ts";

export interface SandboxOptions {
  hostname?: string;
  orders?: OrdersOptions;
  inventory?: InventoryOptions;
  payments?: PaymentsOptions;
}

export interface Sandbox {
  urls: { orders: string; inventory: string; payments: string };
  /** The same URLs under the orchestrator's configuration names. */
  env: { ORDERS_SERVICE_URL: string; INVENTORY_SERVICE_URL: string; PAYMENTS_SERVICE_URL: string };
  orders: OrdersState;
  inventory: InventoryState;
  payments: PaymentsState;
  /** Resets all three services (state, stats, stored answers, faults). */
  reset(): void;
  close(): Promise<void>;
}

/** Starts Orders, Inventory and Payments in this process, each on a free port. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const listenOptions = { port: 0, hostname: options.hostname ?? "127.0.0.1" };
  const orders = createOrdersApp(options.orders);
  const inventory = createInventoryApp(options.inventory);
  const payments = createPaymentsApp(options.payments);
  const started = await Promise.allSettled([
    listen(orders.app, orders.state, listenOptions),
    listen(inventory.app, inventory.state, listenOptions),
    listen(payments.app, payments.state, listenOptions),
  ]);
  const running = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
  const [o, i, p] = running;
  if (!o || !i || !p) {
    // One failed to listen: stop the others rather than leak their sockets.
    await Promise.all(running.map((service) => service.close()));
    throw started.find((s) => s.status === "rejected")?.reason;
  }
  return {
    urls: { orders: o.url, inventory: i.url, payments: p.url },
    env: { ORDERS_SERVICE_URL: o.url, INVENTORY_SERVICE_URL: i.url, PAYMENTS_SERVICE_URL: p.url },
    orders: orders.state,
    inventory: inventory.state,
    payments: payments.state,
    reset() {
      orders.state.reset();
      inventory.state.reset();
      payments.state.reset();
    },
    async close() {
      await Promise.all(running.map((service) => service.close()));
    },
  };
}

async function control(baseUrl: string, path: string, init?: RequestInit): Promise<unknown> {
  const response = await fetch(new URL(`/_control${path}`, baseUrl), init);
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${init?.method ?? "GET"} /_control${path}: ${response.status} ${text}`);
  }
  return JSON.parse(text);
}

function post(body: unknown): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

/**
 * Stats of a service running anywhere; `log: false` leaves out the effect
 * log, `keys: true` adds the calls per Idempotency-Key.
 */
export async function fetchStats(
  baseUrl: string,
  options: { log?: boolean; keys?: boolean } = {},
): Promise<ServiceStats> {
  const query = new URLSearchParams();
  if (options.log === false) query.set("log", "false");
  if (options.keys === true) query.set("keys", "true");
  const search = query.size > 0 ? `?${query}` : "";
  return await control(baseUrl, `/stats${search}`) as ServiceStats;
}

/** Replaces a running service's fault configuration. */
export async function setFaults(baseUrl: string, config: FaultConfig): Promise<void> {
  await control(baseUrl, "/faults", post(config));
}

/** Resets a running service as if freshly started. */
export async function resetService(baseUrl: string): Promise<void> {
  await control(baseUrl, "/reset", post({}));
}

/** Sets stock levels on a running Inventory service. */
export async function setStock(baseUrl: string, levels: Record<string, number>): Promise<void> {
  await control(baseUrl, "/stock", post(levels));
}
