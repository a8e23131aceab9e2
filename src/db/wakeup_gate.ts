// The wake-up gate (migration 004): whether the outbox trigger notifies.
// Run by the claim loop only (src/orchestrator.ts says when).
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

/** Producers stop notifying (no write when already disarmed). */
export function disarmWakeup(sql: Db) {
  return sql`UPDATE orchestrator_wakeup SET armed = false, changed_at = now() WHERE armed`;
}

/** Producers notify again; recreates the flag if a crash emptied the unlogged table. */
export function armWakeup(sql: Db) {
  return sql`
    INSERT INTO orchestrator_wakeup (singleton, armed) VALUES (true, true)
    ON CONFLICT (singleton) DO UPDATE SET armed = true, changed_at = now()
    WHERE NOT orchestrator_wakeup.armed`;
}
