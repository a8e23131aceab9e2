// Claims and leases, run by engine/saga_pool.ts and the claim loop of orchestrator.ts.
//
// Leases: a claimed saga row carries lease_owner, lease_until and a fencing
// token lease_epoch, bumped by every claim. Every write of a running saga is
// fenced with `lease_owner = me AND lease_epoch = mine AND revision = seen`:
// zero rows updated means another instance has it, and we stop.
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

export interface ClaimedSaga {
  order_id: string;
  snapshot: { value: unknown; context: unknown } & Record<string, unknown>;
  machine_version: string;
  pending: unknown;
  lease_epoch: string;
  revision: string;
  cancel_requested: boolean;
  cancel_reason: string | null;
  retry_requested: boolean;
  /** Recorded successful step outcomes: step → { status, body }. */
  done_steps: Record<string, { status: number | null; body: unknown }>;
  /** The server's clock at the claim (epoch ms); absent for sagas intake adopted. */
  db_now_ms?: number;
}

/** Claims runnable sagas in one statement, taking a fresh lease on each. */
export function claimSagas(sql: Db, me: string, limit: number, leaseMs: number) {
  return sql<ClaimedSaga[]>`
    WITH c AS (
      SELECT order_id FROM order_ledger
      WHERE status = 'RUNNING' AND run_at <= now()
        AND (lease_until IS NULL OR lease_until < now())
      ORDER BY run_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE order_ledger l SET
      lease_owner = ${me},
      lease_until = now() + ${leaseMs} * interval '1 millisecond',
      run_at = now() + ${leaseMs} * interval '1 millisecond',
      lease_epoch = l.lease_epoch + 1
    FROM c
    WHERE l.order_id = c.order_id
    RETURNING l.order_id, l.snapshot, l.machine_version, l.pending, l.lease_epoch, l.revision,
      l.cancel_requested_at IS NOT NULL AS cancel_requested, l.cancel_reason,
      l.retry_requested_at IS NOT NULL AS retry_requested,
      (SELECT coalesce(jsonb_object_agg(s.step,
          jsonb_build_object('status', s.http_status, 'body', s.response)), '{}'::jsonb)
        FROM saga_step s WHERE s.order_id = l.order_id AND s.outcome = 'ok') AS done_steps,
      (extract(epoch FROM now()) * 1000)::float8 AS db_now_ms`;
}

export interface Renewal {
  /** Leases renewed until now() + leaseMs. */
  renewed: string[];
  /** Still ours, but locked by another session right now: not renewed this time. */
  busy: string[];
  /** The server's clock when it answered (epoch ms). */
  dbNowMs: number;
}

/**
 * Renews the leases we still hold. Never waits for a row lock: a row someone
 * else holds (an operator's open transaction) is reported busy and tried at
 * the next beat, so one locked row cannot stall the heartbeat of every other
 * saga. An id in neither list was lost to another instance.
 */
export async function renewLeases(
  sql: Db,
  me: string,
  orderIds: string[],
  leaseMs: number,
): Promise<Renewal> {
  const rows = await sql<{ order_id: string | null; busy: boolean; db_now_ms: number }[]>`
    WITH held AS MATERIALIZED (
      SELECT order_id FROM order_ledger
      WHERE order_id = ANY(${orderIds}::uuid[]) AND lease_owner = ${me} AND status = 'RUNNING'
      FOR UPDATE SKIP LOCKED
    ), renewed AS (
      UPDATE order_ledger l SET
        lease_until = now() + ${leaseMs} * interval '1 millisecond',
        run_at = now() + ${leaseMs} * interval '1 millisecond'
      FROM held
      WHERE l.order_id = held.order_id
      RETURNING l.order_id
    ), busy AS (
      SELECT l.order_id FROM order_ledger l
      WHERE l.order_id = ANY(${orderIds}::uuid[]) AND l.lease_owner = ${me}
        AND l.status = 'RUNNING'
        AND NOT EXISTS (SELECT 1 FROM held WHERE held.order_id = l.order_id)
    )
    SELECT order_id, false AS busy, 0::float8 AS db_now_ms FROM renewed
    UNION ALL
    SELECT order_id, true, 0 FROM busy
    UNION ALL
    SELECT NULL, false, (extract(epoch FROM now()) * 1000)::float8`;
  const result: Renewal = { renewed: [], busy: [], dbNowMs: Number.NaN };
  for (const r of rows) {
    if (r.order_id === null) result.dbNowMs = Number(r.db_now_ms);
    else (r.busy ? result.busy : result.renewed).push(r.order_id);
  }
  return result;
}

/** On shutdown: give back every lease so other instances resume at once. */
export function releaseLeases(sql: Db, me: string) {
  return sql`
    UPDATE order_ledger SET lease_owner = NULL, lease_until = NULL,
      run_at = CASE WHEN status = 'RUNNING' THEN now() ELSE run_at END
    WHERE lease_owner = ${me}`;
}

export interface IdleCheck {
  /** An outbox event can be applied right now. */
  outboxReady: boolean;
  /**
   * How long until something next becomes runnable without a notification
   * (a retry deadline, a lease expiry, a deferred event), in ms on the
   * server's clock so no instance's clock skew matters; null when nothing waits.
   */
  nextInMs: number | null;
}

/** What a claim loop about to go idle needs to know, in one statement. */
export async function idleCheck(sql: Db, me: string): Promise<IdleCheck> {
  // greatest() skips NULLs, so "nothing waiting" must stay NULL explicitly.
  const [row] = await sql<{ ready: boolean; in_ms: number | null }[]>`
    SELECT
      EXISTS (SELECT 1 FROM outbox WHERE status = 'PENDING' AND available_at <= now()) AS ready,
      CASE WHEN at IS NULL THEN NULL
        ELSE greatest(0, extract(epoch FROM at - now()) * 1000)::float8 END AS in_ms
    FROM (SELECT least(
      (SELECT min(run_at) FROM order_ledger
        WHERE status = 'RUNNING' AND lease_owner IS DISTINCT FROM ${me}),
      (SELECT min(available_at) FROM outbox WHERE status = 'PENDING')
    ) AS at) w`;
  return {
    outboxReady: row?.ready ?? false,
    nextInMs: row?.in_ms == null ? null : Number(row.in_ms),
  };
}
