// SQL behind the admin API's day-two operations (src/admin/sagas.ts): counts
// that stay cheap at any size. Each query names what it relies on.
import type { Sql } from "./client.ts";
import type { SagaStatus } from "./queries.ts";

/** Sagas by status, summed over the 16 shards that migration 005's triggers maintain. */
export async function sagaCounts(sql: Sql): Promise<Record<SagaStatus, number>> {
  const [row] = await sql<Record<SagaStatus, number>[]>`
    SELECT coalesce(sum(running), 0)::float8 AS "RUNNING",
      coalesce(sum(completed), 0)::float8 AS "COMPLETED",
      coalesce(sum(cancelled), 0)::float8 AS "CANCELLED",
      coalesce(sum(needs_attention), 0)::float8 AS "NEEDS_ATTENTION"
    FROM saga_status_counts`;
  return row!;
}
