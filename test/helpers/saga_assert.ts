// Integration-test harness for saga tests: a fresh database, fresh in-process
// reference services and orchestrators, plus readers for what a test asserts
// on — the ledger row, saga_step, saga_history, outbox rows, and the effects
// the reference services counted (with their global order, by `seq`).
import pino from "pino";
import { loadConfig } from "../../src/config.ts";
import type { Sql } from "../../src/db/client.ts";
import { createOrchestrator } from "../../src/orchestrator.ts";
import {
  type EffectLogEntry,
  type EffectName,
  EFFECTS,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
} from "../../tooling/reference_services/mod.ts";
import { startInProcess } from "./inprocess.ts";
import { waitFor } from "./orders.ts";
import { type FreshDatabase, freshDatabase } from "../../tooling/cluster/mod.ts";

export const TERMINAL = ["COMPLETED", "CANCELLED", "NEEDS_ATTENTION"];

type Urls = { orders: string; inventory: string; payments: string };
type ServiceKey = keyof Urls;
export type Orchestrator = ReturnType<typeof startInProcess>;
export type LogLine = { level: number; msg: string; order_id?: string } & Record<string, unknown>;
export interface CapturingOrchestrator {
  config: ReturnType<typeof loadConfig>;
  orchestrator: ReturnType<typeof createOrchestrator>;
  stop(): Promise<void>;
  logs: LogLine[];
}

export interface Harness {
  db: FreshDatabase;
  sql: Sql;
  sandbox: Sandbox;
  /** What orchestrators are pointed at (a recording proxy where asked for). */
  urls: Urls;
  /** Requests seen by the recording proxies, oldest first. */
  requests: RecordedRequest[];
  /** Starts one more orchestrator (env on top of the harness env). */
  start(env?: Record<string, string>): Orchestrator;
  /** The same, keeping every log line (info and up) in memory for assertions. */
  startCapturing(env?: Record<string, string>): CapturingOrchestrator;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Environment for the orchestrator started at once (none when `start` is false). */
  env?: Record<string, string>;
  start?: boolean;
  sandbox?: SandboxOptions;
  /** Services to put behind a proxy that records every request's headers. */
  record?: ServiceKey[];
}

/** Fresh database, fresh sandbox, and (by default) one running orchestrator. */
export async function harness(opts: HarnessOptions = {}): Promise<Harness> {
  const db = await freshDatabase();
  const sandbox = await startSandbox(opts.sandbox);
  const requests: RecordedRequest[] = [];
  const proxies: Array<{ close(): Promise<void> }> = [];
  const urls: Urls = { ...sandbox.urls };
  for (const service of opts.record ?? []) {
    const p = await recordingProxy(service, sandbox.urls[service], requests);
    proxies.push(p);
    urls[service] = p.url;
  }
  const running: Array<{ stop(): Promise<void> }> = [];
  const baseEnv = { SHUTDOWN_GRACE_MS: "2000", ...opts.env };
  const h: Harness = {
    db,
    sql: db.sql,
    sandbox,
    urls,
    requests,
    start(env = {}) {
      const o = startInProcess(db, urls, { ...baseEnv, ...env });
      running.push(o);
      return o;
    },
    startCapturing(env = {}) {
      const o = startCapturing(db, urls, { ...baseEnv, ...env });
      running.push(o);
      return o;
    },
    async close() {
      const errors: unknown[] = [];
      const attempt = async (f: () => Promise<unknown>) => {
        try {
          await f();
        } catch (err) {
          errors.push(err);
        }
      };
      for (const o of running) await attempt(() => o.stop());
      await attempt(() => sandbox.close());
      for (const p of proxies) await attempt(() => p.close());
      await attempt(() => db.drop());
      if (errors.length > 0) throw errors[0];
    },
  };
  if (opts.start !== false) h.start();
  return h;
}

/**
 * startInProcess (same defaults) with a logger that keeps its lines, so a test
 * can assert what an instance said.
 */
function startCapturing(
  db: FreshDatabase,
  urls: Urls,
  env: Record<string, string>,
): CapturingOrchestrator {
  const logs: LogLine[] = [];
  const echo = Deno.env.get("TEST_LOG_LEVEL");
  const logger = pino({ level: "info" }, {
    write(line: string) {
      logs.push(JSON.parse(line));
      if (echo && echo !== "silent") console.log(line.trimEnd());
    },
  });
  return { ...startInProcess(db, urls, env, undefined, undefined, logger), logs };
}

// ---------------------------------------------------------------- recording proxy

export interface RecordedRequest {
  service: ServiceKey;
  method: string;
  /** Raw (still percent-encoded) path. */
  path: string;
  idempotencyKey: string | null;
  contentType: string | null;
  body: string;
}

/** A pass-through HTTP proxy that records each request before forwarding it. */
async function recordingProxy(service: ServiceKey, target: string, log: RecordedRequest[]) {
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: (addr) => resolve(addr) },
    async (req) => {
      const url = new URL(req.url);
      const body = await req.text();
      log.push({
        service,
        method: req.method,
        path: url.pathname,
        idempotencyKey: req.headers.get("idempotency-key"),
        contentType: req.headers.get("content-type"),
        body,
      });
      const headers = new Headers(req.headers);
      headers.delete("host");
      try {
        const res = await fetch(target + url.pathname + url.search, {
          method: req.method,
          headers,
          body: body === "" ? undefined : body,
          redirect: "manual",
        });
        return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
      } catch {
        return new Response(null, { status: 502 });
      }
    },
  );
  const addr = await listening;
  return { url: `http://127.0.0.1:${addr.port}`, close: () => server.shutdown() };
}

// ---------------------------------------------------------------- database readers

export interface LedgerRow {
  order_id: string;
  status: string;
  state: string;
  snapshot: {
    value: unknown;
    status: string;
    context: {
      order: {
        orderId: string;
        customerId: string;
        items: Array<{ sku: string; quantity: number; unitPriceCents: number }>;
        authorizationId: string;
      };
      attempts: number;
      retryInMs: number;
      touched: string[];
      cancelReason: string | null;
      failure: { step: string; reason: string } | null;
      parkedAt: string | null;
    };
  };
  pending: { kind: string; at?: number; step?: string } | null;
  run_at: Date;
  lease_owner: string | null;
  lease_until: Date | null;
  lease_epoch: string;
  revision: string;
  last_error: string | null;
  cancel_reason: string | null;
}

export async function ledgerRow(sql: Sql, orderId: string): Promise<LedgerRow | undefined> {
  const [row] = await sql<LedgerRow[]>`
    SELECT order_id, status, state, snapshot, pending, run_at, lease_owner, lease_until,
      lease_epoch, revision, last_error, cancel_reason
    FROM order_ledger WHERE order_id = ${orderId}`;
  return row;
}

/** Waits for a terminal status and returns the full ledger row. */
export async function settled(sql: Sql, orderId: string, timeoutMs = 15_000): Promise<LedgerRow> {
  return await waitFor(async () => {
    const row = await ledgerRow(sql, orderId);
    return row && TERMINAL.includes(row.status) ? row : undefined;
  }, { timeoutMs, what: `order ${orderId} to settle` });
}

/** saga_step as `{ step: "ok 201" }`. */
export async function stepRecords(sql: Sql, orderId: string): Promise<Record<string, string>> {
  const rows = await sql<{ step: string; outcome: string; http_status: number | null }[]>`
    SELECT step, outcome, http_status FROM saga_step WHERE order_id = ${orderId}`;
  return Object.fromEntries(rows.map((r) => [r.step, `${r.outcome} ${r.http_status}`]));
}

export interface HistoryRow {
  id: string;
  event: string;
  from_state: string | null;
  to_state: string;
  instance_id: string | null;
  detail: Record<string, unknown> | null;
}

export function historyRows(sql: Sql, orderId: string): Promise<HistoryRow[]> {
  return sql<HistoryRow[]>`
    SELECT id, event, from_state, to_state, instance_id, detail
    FROM saga_history WHERE order_id = ${orderId} ORDER BY id`;
}

/** The history's events, oldest first. */
export async function historyEvents(sql: Sql, orderId: string): Promise<string[]> {
  return (await historyRows(sql, orderId)).map((r) => r.event);
}

export interface OutboxRecord {
  id: string;
  order_id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_error: string | null;
  processed_at: Date | null;
}

export function outboxRows(sql: Sql, orderId?: string): Promise<OutboxRecord[]> {
  return orderId === undefined
    ? sql<OutboxRecord[]>`
      SELECT id, order_id, event_type, status, attempts, last_error, processed_at
      FROM outbox ORDER BY id`
    : sql<OutboxRecord[]>`
      SELECT id, order_id, event_type, status, attempts, last_error, processed_at
      FROM outbox WHERE order_id = ${orderId} ORDER BY id`;
}

// ---------------------------------------------------------------- sandbox readers

const ALL_EFFECTS = Object.values(EFFECTS).flat() as EffectName[];

/** Every effect the three services counted for one order, 0 when none. */
export function effectsFor(sandbox: Sandbox, orderId: string): Record<EffectName, number> {
  const out = {} as Record<EffectName, number>;
  for (const name of ALL_EFFECTS) out[name] = 0;
  for (const state of [sandbox.orders, sandbox.inventory, sandbox.payments]) {
    const perOrder = state.stats({ log: false }).effects[orderId] ?? {};
    for (const [name, n] of Object.entries(perOrder)) out[name as EffectName] += n ?? 0;
  }
  return out;
}

/** The order's effects across all services in the order they happened (by `seq`). */
export function effectSequence(sandbox: Sandbox, orderId: string): EffectName[] {
  const entries: EffectLogEntry[] = [];
  for (const state of [sandbox.orders, sandbox.inventory, sandbox.payments]) {
    entries.push(...(state.stats().log ?? []).filter((e) => e.order_id === orderId));
  }
  return entries.sort((a, b) => a.seq - b.seq).map((e) => e.effect);
}

/** Requests a service received for a route label, e.g. "POST /reservations" (faults included). */
export function calls(sandbox: Sandbox, service: ServiceKey, route: string): number {
  return sandbox[service].stats({ log: false }).calls[route] ?? 0;
}

export const ROUTES = {
  createOrder: "POST /orders",
  confirmOrder: "POST /orders/:order_id/confirmation",
  cancelOrder: "POST /orders/:order_id/cancellation",
  reserveInventory: "POST /reservations",
  releaseReservation: "DELETE /reservations/:order_id",
  capturePayment: "POST /payments/capture/:authorization_id",
  voidPayment: "POST /payments/void/:authorization_id",
} as const;

/** Effects expected for a path: every effect 0 except the ones given. */
export function only(
  counts: Partial<Record<EffectName, number>>,
): Record<EffectName, number> {
  const out = {} as Record<EffectName, number>;
  for (const name of ALL_EFFECTS) out[name] = counts[name] ?? 0;
  return out;
}
