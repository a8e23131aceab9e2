// The postgres.js pool. LISTEN uses its own dedicated connection inside
// postgres.js (sql.listen), so the pool size only bounds queries.
import postgres from "postgres";
import type { Logger } from "../log.ts";

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

/**
 * Every wait the database can impose on us is bounded (the orchestrator
 * lives in someone else's database): a row or table lock held by another
 * session fails our statement after `lockTimeoutMs` instead of queueing
 * behind it, a statement never runs longer than `statementTimeoutMs`, and a
 * transaction of ours left open by a stalled process is ended by the server.
 * A statement that hits one of these fails like a dropped connection would:
 * the caller retries later, and it is never an outbox event's fault.
 */
export interface SessionLimits {
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  lockTimeoutMs: 2_000,
  statementTimeoutMs: 10_000,
  idleInTransactionTimeoutMs: 60_000,
};

export function createSql(
  url: string,
  opts: { max?: number; logger?: Logger; limits?: SessionLimits } = {},
): Sql {
  const limits = opts.limits ?? DEFAULT_SESSION_LIMITS;
  return postgres(url, {
    max: opts.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    // Each claim/persist is one short statement: prepared statements pay off.
    prepare: true,
    // Sent as start-up parameters: set on every connection, no extra round trip.
    connection: {
      application_name: "order-orchestrator",
      lock_timeout: limits.lockTimeoutMs,
      statement_timeout: limits.statementTimeoutMs,
      idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs,
    },
  });
}

/** Waits for the database to answer, retrying briefly (SPEC §9: bounded retry at start). */
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
      if (i >= attempts) throw err;
      opts.logger?.warn({ err: String(err), attempt: i }, "Database not reachable yet, retrying");
      await new Promise((r) => setTimeout(r, (opts.delayMs ?? 500) * i));
    }
  }
}
