// The postgres.js pool. LISTEN uses its own dedicated connection inside
// postgres.js (sql.listen), so the pool size only bounds queries.
import postgres from "postgres";
import type { Logger } from "../log.ts";

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

export function createSql(url: string, opts: { max?: number; logger?: Logger } = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    // Each claim/persist is one short statement: prepared statements pay off.
    prepare: true,
    connection: { application_name: "order-orchestrator" },
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
