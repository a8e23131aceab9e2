// GET /outbox and POST /outbox/:id/redrive on a real PostgreSQL: listing and
// paging by status, a dead letter redriven after its payload is fixed (the
// order then completes with every effect once), the refusals, and the plans
// that keep the listing index-driven beside hundreds of thousands of
// processed events.
import assert from "node:assert/strict";
import pino from "pino";
import { createAdminApp } from "../../src/admin/app.ts";
import { encodeCursor } from "../../src/admin/cursor.ts";
import { listOutbox, operationalGauges } from "../../src/db/admin_reads.ts";
import type { Sql } from "../../src/db/client.ts";
import { placeOrder, sampleOrder, waitFor } from "../helpers/orders.ts";
import { planOf, reads } from "../helpers/prepared_plans.ts";
import { effectsFor, harness, only, outboxRows, settled } from "../helpers/saga_assert.ts";
import { freshDatabase } from "../../tooling/cluster/mod.ts";
import { disarmWakeup } from "../../src/db/wakeup_gate.ts";

function admin(sql: Sql, logger?: pino.Logger) {
  const app = createAdminApp({ sql, listening: () => true, instanceId: "outbox-test", logger });
  return async (method: string, path: string) => {
    const res = await app.request(path, { method });
    return { status: res.status, body: await res.json() };
  };
}

/** Inserts an event as a producer would, then gives it `status` (and a reason when DEAD). */
async function event(sql: Sql, status: string): Promise<string> {
  const orderId = crypto.randomUUID();
  const [row] = await sql<{ id: string }[]>`
    INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${orderId}, 'OrderPlaced', '{}'::jsonb) RETURNING id`;
  await sql`UPDATE outbox SET status = ${status},
    last_error = CASE WHEN ${status} = 'DEAD' THEN 'invalid OrderPlaced: test' END,
    processed_at = CASE WHEN ${status} = 'PENDING' THEN NULL ELSE now() END
    WHERE id = ${row!.id}`;
  return row!.id;
}

Deno.test("GET /outbox lists events newest first, by status, keyset-paginated; 400 on a bad status, limit or cursor", async () => {
  const db = await freshDatabase();
  try {
    // No orchestrator runs: the statuses stay as written.
    const ids: Record<string, string[]> = { PENDING: [], PROCESSED: [], DEAD: [] };
    for (const status of ["PROCESSED", "DEAD", "PENDING", "DEAD", "PROCESSED", "DEAD", "PENDING"]) {
      ids[status]!.push(await event(db.sql, status));
    }
    const call = admin(db.sql);
    const pages = async (query: string) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `/outbox?${query}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
        const r = await call("GET", q);
        assert.equal(r.status, 200, q);
        assert.ok(r.body.items.length <= 2);
        seen.push(...r.body.items.map((i: { id: string }) => i.id));
        cursor = r.body.next_cursor;
      } while (cursor);
      return seen;
    };
    const newestFirst = (list: string[]) => [...list].sort((a, b) => Number(b) - Number(a));
    for (const status of ["PENDING", "PROCESSED", "DEAD"]) {
      assert.deepEqual(await pages(`status=${status}`), newestFirst(ids[status]!), status);
    }
    assert.deepEqual(await pages(""), newestFirst(Object.values(ids).flat()));

    const dead = await call("GET", "/outbox?status=DEAD&limit=1");
    assert.equal(dead.status, 200);
    const [item] = dead.body.items;
    assert.deepEqual(Object.keys(item).sort(), [
      "attempts",
      "created_at",
      "event_type",
      "id",
      "last_error",
      "order_id",
      "processed_at",
      "status",
    ]);
    assert.equal(item.id, newestFirst(ids.DEAD!)[0]);
    assert.equal(item.status, "DEAD");
    assert.equal(item.last_error, "invalid OrderPlaced: test");
    assert.equal(item.event_type, "OrderPlaced");
    assert.equal(typeof dead.body.next_cursor, "string");

    const sagaCursor = encodeCursor({ us: "1", orderId: crypto.randomUUID() });
    for (
      const [query, message] of [
        ["status=FAILED", /status must be one of PENDING, PROCESSED, DEAD/],
        ["status=dead", /status must be one of/],
        ["limit=0", /limit must be an integer from 1 to 500/],
        ["limit=501", /limit/],
        ["limit=abc", /limit/],
        ["cursor=!!", /invalid cursor/],
        ["cursor=MTIz", /invalid cursor/], // "123": not ours
        [`cursor=${sagaCursor}`, /invalid cursor/],
      ] as const
    ) {
      const r = await call("GET", `/outbox?${query}`);
      assert.equal(r.status, 400, query);
      assert.match(r.body.error, message, query);
    }
  } finally {
    await db.drop();
  }
});

Deno.test("a dead letter is listed with its reason; fixed and redriven, its order completes with every effect once", async () => {
  const h = await harness({ env: { POLL_INTERVAL_MS: "60000" } });
  try {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: "info" }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const call = admin(h.sql, logger);
    const order = sampleOrder();
    await placeOrder(h.sql, { ...order, total_cents: order.total_cents + 1 });
    const [dead] = await waitFor(async () => {
      const rows = await outboxRows(h.sql, order.order_id);
      return rows[0]?.status === "DEAD" ? rows : undefined;
    }, { what: "the event to be dead-lettered" });

    const listed = await call("GET", "/outbox?status=DEAD");
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.items.map((i: { id: string }) => i.id), [dead!.id]);
    assert.match(listed.body.items[0].last_error, /total_cents 3001 does not equal the sum/);
    assert.equal(listed.body.items[0].attempts, 1);

    // The cause is fixed where it lies, in the event's payload; then redrive.
    await h.sql`UPDATE outbox SET payload = ${h.sql.json(order as never)} WHERE id = ${dead!.id}`;
    const redrive = await call("POST", `/outbox/${dead!.id}/redrive`);
    assert.equal(redrive.status, 202);
    assert.deepEqual(redrive.body, {
      id: dead!.id,
      action: "redrive",
      accepted: true,
      status: "PENDING",
      order_id: order.order_id,
      event_type: "OrderPlaced",
      previous_error: dead!.last_error,
    });
    // Its NOTIFY wakes the instance: the poll is a minute away.
    const row = await settled(h.sql, order.order_id, 5_000);
    assert.equal(row.status, "COMPLETED");
    assert.deepEqual(
      effectsFor(h.sandbox, order.order_id),
      only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
    );
    const [after] = await outboxRows(h.sql, order.order_id);
    assert.equal(after!.status, "PROCESSED");
    assert.equal(after!.last_error, null, "the old reason goes once the event is applied");
    assert.equal(after!.attempts, 1, "tries counted from zero again");
    const logged = lines.find((l) => l.msg === "Outbox event redriven by an operator");
    assert.equal(logged?.operator, "anonymous");
    assert.equal(logged?.event_id, dead!.id);
    assert.equal(logged?.previous_error, dead!.last_error);

    // Processed now: no second redrive.
    const again = await call("POST", `/outbox/${dead!.id}/redrive`);
    assert.deepEqual(again, {
      status: 409,
      body: { error: `event ${dead!.id} is PROCESSED; only a DEAD event can be redriven` },
    });
    assert.deepEqual(await call("POST", "/outbox/987654321/redrive"), {
      status: 404,
      body: { error: "outbox event 987654321 not found" },
    });
    for (const bad of ["abc", "-1", "0", "1.5", "9223372036854775808", "99999999999999999999"]) {
      const r = await call("POST", `/outbox/${bad}/redrive`);
      assert.equal(r.status, 400, bad);
      assert.match(r.body.error, /id must be an outbox event id/, bad);
    }
    // The largest bigint is an id, just not one that exists.
    assert.equal((await call("POST", "/outbox/9223372036854775807/redrive")).status, 404);
    assert.equal((await call("GET", `/outbox/${dead!.id}/redrive`)).status, 405);
  } finally {
    await h.close();
  }
});

Deno.test("the outbox listing and gauges stay on their indexes beside 200,000 processed events, generic plans too", async () => {
  const db = await freshDatabase();
  try {
    await disarmWakeup(db.sql); // no NOTIFY per seeded row
    await db.sql`
      INSERT INTO outbox (order_id, event_type, payload, status, processed_at)
      SELECT gen_random_uuid(), 'OrderPlaced', '{}'::jsonb, 'PROCESSED', now()
      FROM generate_series(1, 200000)`;
    for (let i = 0; i < 5; i++) await event(db.sql, "DEAD");
    for (let i = 0; i < 5; i++) await event(db.sql, "PENDING");
    await db.sql`ANALYZE outbox`;

    const list =
      (status: "PENDING" | "PROCESSED" | "DEAD" | null, afterId: string | null) => (sql: Sql) =>
        listOutbox(sql, { status, afterId, limit: 51 });
    for (const generic of [false, true]) {
      const expect = async (
        run: (sql: Sql) => Promise<unknown>,
        index: string,
        what: string,
      ) => {
        const r = reads(await planOf(db.url, run, { generic }), "outbox");
        assert.ok(!r.seqScan, `${what} (generic: ${generic}): no sequential scan`);
        assert.ok(
          r.indexes.includes(index),
          `${what} (generic: ${generic}) uses ${index}: ${r.indexes}`,
        );
      };
      await expect(list("DEAD", null), "outbox_dead_idx", "DEAD");
      await expect(list("DEAD", "150000"), "outbox_dead_idx", "DEAD after a cursor");
      await expect(list("PENDING", null), "outbox_pending_idx", "PENDING");
      await expect(list("PROCESSED", "150000"), "outbox_pkey", "PROCESSED after a cursor");
      await expect(list(null, null), "outbox_pkey", "any status");
      await expect(operationalGauges, "outbox_dead_idx", "the gauges' dead count");
      await expect(operationalGauges, "outbox_pending_idx", "the gauges' oldest pending");
    }
    const gauges = await operationalGauges(db.sql);
    assert.equal(gauges.outboxDead, 5);
    assert.equal(gauges.sagasParked, 0);
    assert.ok(gauges.oldestPendingAgeSeconds >= 0 && gauges.oldestPendingAgeSeconds < 60);
  } finally {
    await db.drop();
  }
});
