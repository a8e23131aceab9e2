// The wake-up gate (migrations 004 and 010): whether the outbox trigger
// notifies. The gate is the sequence orchestrator_wakeup_gate's last value:
// 0 closed, anything else (or never set) open. setval() takes effect at once
// for every producer, whether or not the statement's transaction commits.
// Run by the claim loop only (src/orchestrator.ts says when).
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

/** Producers stop notifying (no write when already disarmed). */
export function disarmWakeup(sql: Db) {
  return sql`
    SELECT setval('orchestrator_wakeup_gate', 0)
    WHERE pg_sequence_last_value('orchestrator_wakeup_gate') IS DISTINCT FROM 0`;
}

/** Producers notify again (no write when already armed). */
export function armWakeup(sql: Db) {
  return sql`
    SELECT setval('orchestrator_wakeup_gate', 1)
    WHERE pg_sequence_last_value('orchestrator_wakeup_gate') IS DISTINCT FROM 1`;
}

/** Whether producers notify now (a never-set gate notifies). */
export async function wakeupArmed(sql: Db): Promise<boolean> {
  const [row] = await sql<{ armed: boolean }[]>`
    SELECT pg_sequence_last_value('orchestrator_wakeup_gate') IS DISTINCT FROM 0 AS armed`;
  return row!.armed;
}
