// A database with a long history, made with SQL (as test/query_plans_test.ts
// makes one): `sagas` finished sagas, nine in ten COMPLETED, the rest
// CANCELLED, each with its OrderPlaced event (PROCESSED), the four step
// results and the five history rows of a happy saga, finished between
// `olderThanSeconds` and 30 days more ago — older than the retention, so a
// sweep has all of them to delete. No NOTIFY per generated event: the
// outbox's trigger is off while seeding.
import postgres from "postgres";

const STEPS = ["createOrder", "reserveInventory", "capturePayment", "confirmOrder"];
const TRANSITIONS: [string, string, string][] = [
  ["OrderPlaced", "creatingOrder", ""],
  ["createOrder:ok", "reservingInventory", "creatingOrder"],
  ["reserveInventory:ok", "capturingPayment", "reservingInventory"],
  ["capturePayment:ok", "confirmingOrder", "capturingPayment"],
  ["confirmOrder:ok", "completed", "confirmingOrder"],
];

export async function seedHistory(
  url: string,
  opts: { sagas: number; olderThanSeconds: number },
): Promise<void> {
  // A connection of its own: seeding takes longer than the product's statement timeout.
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`SET synchronous_commit = off`);
    await sql.unsafe(`ALTER TABLE outbox DISABLE TRIGGER USER`);
    await sql.unsafe(
      `INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version,
         created_at, updated_at, finished_at)
       SELECT gen_random_uuid(), s, lower(s), '{}'::jsonb, 'order-saga@1', at, at, at
       FROM (SELECT CASE WHEN i % 10 = 0 THEN 'CANCELLED' ELSE 'COMPLETED' END AS s,
         now() - make_interval(secs => $1::int + (i % 2592000)) AS at
         FROM generate_series(1, $2::int) i) g`,
      [opts.olderThanSeconds, opts.sagas],
    );
    await sql.unsafe(
      `INSERT INTO outbox (order_id, event_type, payload, status, processed_at, created_at)
       SELECT order_id, 'OrderPlaced', '{}'::jsonb, 'PROCESSED', created_at, created_at
       FROM order_ledger`,
    );
    await sql.unsafe(
      `INSERT INTO saga_step (order_id, step, outcome, http_status, recorded_at)
       SELECT order_id, step, 'ok', 200, created_at
       FROM order_ledger, unnest($1::text[]) AS step`,
      [STEPS],
    );
    await sql.unsafe(
      `INSERT INTO saga_history (order_id, event, from_state, to_state, at)
       SELECT order_id, t.event, nullif(t.from_state, ''), t.to_state, created_at
       FROM order_ledger,
         unnest($1::text[], $2::text[], $3::text[]) AS t(event, to_state, from_state)`,
      [
        TRANSITIONS.map((t) => t[0]),
        TRANSITIONS.map((t) => t[1]),
        TRANSITIONS.map((t) => t[2]),
      ],
    );
    await sql.unsafe(`ALTER TABLE outbox ENABLE TRIGGER USER`);
    await sql.unsafe(`VACUUM ANALYZE`);
  } finally {
    await sql.end({ timeout: 2 });
  }
}
