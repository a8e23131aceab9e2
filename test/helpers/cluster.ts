// Helpers for tests that run several orchestrator processes against one
// database and the in-process reference services.
import assert from "node:assert/strict";
import type { Sql } from "../../src/db/client.ts";
import { type Sandbox, startSandbox } from "../../tooling/reference_services/mod.ts";
import { freshDatabase, type TestDatabase } from "./db.ts";
import { type OrchestratorProcess, startOrchestratorProcess } from "./process.ts";
import { type SampleOrder, waitFor } from "./orders.ts";

/** Starts one orchestrator process on `db` and the sandbox's services. */
export function startInstance(
  db: TestDatabase,
  sandbox: Sandbox,
  instanceId: string,
  env: Record<string, string> = {},
): OrchestratorProcess {
  return startOrchestratorProcess({
    DATABASE_URL: db.url,
    ...sandbox.env,
    INSTANCE_ID: instanceId,
    HTTP_TIMEOUT_MS: "10000",
    ...env,
  });
}

/** Waits until the process runs its first claim cycle. */
export async function ready(p: OrchestratorProcess): Promise<void> {
  await p.waitForLog((l) => l.msg === "Starting polling loop");
}

/** SIGKILLs (if still alive) and reaps; for `finally`. */
export async function reap(...ps: Array<OrchestratorProcess | undefined>): Promise<void> {
  for (const p of ps) p?.kill("SIGKILL");
  await Promise.all(ps.map((p) => p?.status));
}

/** Inserts OrderPlaced events for all `orders` in one statement (one transaction). */
export async function placeOrders(sql: Sql, orders: SampleOrder[]): Promise<void> {
  await sql`
    INSERT INTO outbox (order_id, event_type, payload)
    SELECT (p->>'order_id')::uuid, 'OrderPlaced', p
    FROM jsonb_array_elements(${sql.json(orders as never)}::jsonb) AS p`;
}

/** Ledger status counts of the given orders. */
export async function statusCounts(sql: Sql, orderIds: string[]) {
  const rows = await sql<{ status: string; n: number }[]>`
    SELECT status, count(*)::int AS n FROM order_ledger
    WHERE order_id = ANY(${orderIds}::uuid[]) GROUP BY status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
}

/** Polls until every given order's saga has finished, then asserts they all COMPLETED. */
export async function waitAllCompleted(
  sql: Sql,
  orderIds: string[],
  timeoutMs: number,
): Promise<void> {
  await waitFor(async () => {
    const c = await statusCounts(sql, orderIds);
    return (c.COMPLETED ?? 0) + (c.CANCELLED ?? 0) + (c.NEEDS_ATTENTION ?? 0) === orderIds.length;
  }, { timeoutMs, intervalMs: 50, what: `${orderIds.length} sagas to finish` });
  assert.deepEqual(await statusCounts(sql, orderIds), { COMPLETED: orderIds.length });
}

/**
 * Asserts the reference services saw each forward effect exactly once per
 * order and no compensating effect at all.
 */
export function assertEffectsExactlyOnce(sandbox: Sandbox, orderIds: string[]): void {
  const orders = sandbox.orders.stats({ log: false });
  const inventory = sandbox.inventory.stats({ log: false });
  const payments = sandbox.payments.stats({ log: false });
  const bad: string[] = [];
  for (const id of orderIds) {
    const got = {
      created: orders.effects[id]?.created ?? 0,
      reserved: inventory.effects[id]?.reserved ?? 0,
      captured: payments.effects[id]?.captured ?? 0,
      confirmed: orders.effects[id]?.confirmed ?? 0,
    };
    if (Object.values(got).some((n) => n !== 1)) bad.push(`${id}: ${JSON.stringify(got)}`);
  }
  assert.deepEqual(bad, [], "every forward effect exactly once per order");
  assert.deepEqual(
    {
      cancelled: orders.totals.cancelled,
      released: inventory.totals.released,
      voided: payments.totals.voided,
    },
    { cancelled: 0, released: 0, voided: 0 },
    "no compensation",
  );
  assert.equal(orders.totals.created, orderIds.length);
  assert.equal(orders.totals.confirmed, orderIds.length);
  assert.equal(inventory.totals.reserved, orderIds.length);
  assert.equal(payments.totals.captured, orderIds.length);
}

/** Prints the warnings and errors the processes logged (for a failing test's report). */
export function printWarnings(...ps: Array<OrchestratorProcess | undefined>): void {
  for (const p of ps) {
    if (!p) continue;
    const lines = p.logs.filter((l) => l.level >= 40).slice(0, 30);
    if (lines.length || p.other.length) {
      console.error(
        `process ${p.pid} warnings:\n${
          [...lines.map((l) => JSON.stringify(l)), ...p.other.slice(0, 10)].join("\n")
        }`,
      );
    }
  }
}

export interface Cluster {
  db: TestDatabase;
  sandbox: Sandbox;
  /** startInstance on this cluster's database and services; reaped at the end. */
  start(instanceId: string, env?: Record<string, string>): OrchestratorProcess;
}

/**
 * A fresh database and reference services for orchestrator processes. On
 * failure the processes' warnings are printed; afterwards every process is
 * killed and everything closed.
 */
export async function withCluster(
  sandboxOptions: Parameters<typeof startSandbox>[0],
  body: (cluster: Cluster) => Promise<void>,
): Promise<void> {
  const db = await freshDatabase();
  const sandbox = await startSandbox(sandboxOptions);
  const started: OrchestratorProcess[] = [];
  const start = (instanceId: string, env: Record<string, string> = {}) => {
    const p = startInstance(db, sandbox, instanceId, env);
    started.push(p);
    return p;
  };
  try {
    await body({ db, sandbox, start });
  } catch (err) {
    printWarnings(...started);
    throw err;
  } finally {
    await reap(...started);
    await sandbox.close();
    await db.drop();
  }
}
