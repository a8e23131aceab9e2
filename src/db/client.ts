// The postgres.js pool. LISTEN uses its own dedicated connection
// (listener.ts), so the pool size only bounds queries.
//
// Every SQL statement the orchestrator runs lives in src/db, as named
// functions over postgres.js tagged templates (values are always
// parameters), in a file per owner. The rest of the code never writes SQL.
import postgres from "postgres";
import type { Logger } from "../log.ts";
import {
  DEFAULT_SESSION_LIMITS,
  isStartupParameterRefused,
  limitsAsStartupParameters,
  type LimitsSource,
  reportLimits,
  type SessionLimits,
} from "./session_limits.ts";

export { DEFAULT_SESSION_LIMITS, type SessionLimits } from "./session_limits.ts";

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

export interface PoolOptions {
  max?: number;
  logger?: Logger;
  limits?: SessionLimits;
  /**
   * Named prepared statements (DATABASE_PREPARED_STATEMENTS). Each claim and
   * persist is one short statement, so they pay off on a direct connection;
   * a transaction-pooling PgBouncer runs each statement on whichever server
   * connection is free, where the statement was never prepared (measured with
   * 1.18: replies parsed against the wrong statement, then a hang).
   */
  prepare?: boolean;
  /** Where the limits come from (session_limits.ts); "server" sends none. */
  limitsSource?: LimitsSource;
}

export function createSql(url: string, opts: PoolOptions = {}): Sql {
  const limits = opts.limits ?? DEFAULT_SESSION_LIMITS;
  return postgres(url, {
    max: opts.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    prepare: opts.prepare ?? true,
    // Start-up parameters: set on every connection, no extra round trip.
    connection: {
      application_name: "order-orchestrator",
      ...(opts.limitsSource === "server" ? {} : limitsAsStartupParameters(limits)),
    },
  });
}

/**
 * The pool main runs on: waits for the database (bounded retry), falls back
 * to the server's own session limits when a pooler refuses ours as start-up
 * parameters, and reports which limits are in effect.
 */
export async function connectDatabase(
  url: string,
  opts: PoolOptions & { attempts?: number; delayMs?: number } = {},
): Promise<Sql> {
  const limits = opts.limits ?? DEFAULT_SESSION_LIMITS;
  let sql = createSql(url, { ...opts, limitsSource: "startup" });
  let source: LimitsSource = "startup";
  try {
    await waitForDatabase(sql, opts);
  } catch (err) {
    await sql.end({ timeout: 1 });
    if (!isStartupParameterRefused(err)) throw err;
    source = "server";
    sql = createSql(url, { ...opts, limitsSource: source });
    await waitForDatabase(sql, opts);
  }
  try {
    await reportLimits(sql, { limits, source, logger: opts.logger });
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw err;
  }
  return sql;
}

/** Waits for the database to answer, retrying briefly (a bounded retry at start). */
export async function waitForDatabase(
  sql: Sql,
  opts: { attempts?: number; delayMs?: number; logger?: Logger } = {},
): Promise<void> {
  const attempts = opts.attempts ?? 5;
  for (let i = 1;; i++) {
    try {
      await sql`SELECT 1`;
      return;
    } catch (err) {
      if (i >= attempts || isStartupParameterRefused(err)) throw err;
      opts.logger?.warn({ err: String(err), attempt: i }, "Database not reachable yet, retrying");
      await new Promise((r) => setTimeout(r, (opts.delayMs ?? 500) * i));
    }
  }
}
