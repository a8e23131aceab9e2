// GET /sagas: filters, validation, and keyset pagination that neither skips
// nor repeats a row, even for sagas updated within the same millisecond.
import assert from "node:assert/strict";
import { createAdminApp } from "../../src/admin/app.ts";
import type { Sql } from "../../src/db/client.ts";
import { type FreshDatabase, freshDatabase } from "../../tooling/cluster/mod.ts";

interface Row {
  order_id: string;
  status: string;
  state: string;
  /** Microseconds after a fixed base time. */
  us: number;
}

const BASE = "2026-01-01T00:00:00Z";

/** Ledger rows with exact created_at (the listing's order) and updated_at values. */
async function insertRows(sql: Sql, rows: Row[]) {
  await sql`
    INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version, created_at,
      updated_at)
    SELECT r.order_id, r.status, r.state, '{}'::jsonb, 'order-saga@1',
      ${BASE}::timestamptz + r.us * interval '1 microsecond',
      ${BASE}::timestamptz + r.us * interval '1 microsecond'
    FROM jsonb_to_recordset(${sql.json(rows as never)}::jsonb)
      AS r(order_id uuid, status text, state text, us bigint)`;
}

function uuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

async function withDb(
  f: (db: FreshDatabase, app: ReturnType<typeof createAdminApp>) => Promise<void>,
) {
  const db = await freshDatabase();
  try {
    await f(db, createAdminApp({ sql: db.sql, listening: () => true }));
  } finally {
    await db.drop();
  }
}

async function getJson(app: ReturnType<typeof createAdminApp>, path: string) {
  const res = await app.request(path);
  return { status: res.status, body: await res.json() };
}

/** Follows next_cursor to the end; returns every order_id in order. */
async function allPages(app: ReturnType<typeof createAdminApp>, query: string) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const sep = query ? "&" : "";
    const path: string = `/sagas?${query}${cursor ? `${sep}cursor=${cursor}` : ""}`;
    const { status, body } = await getJson(app, path);
    assert.equal(status, 200, path);
    ids.push(...body.items.map((i: { order_id: string }) => i.order_id));
    cursor = body.next_cursor;
    if (cursor === null) return ids;
  }
  throw new Error("pagination did not end");
}

Deno.test("GET /sagas lists newest first with {order_id,status,state,updated_at} and next_cursor", async () => {
  await withDb(async (db, app) => {
    await insertRows(db.sql, [
      { order_id: uuid(1), status: "COMPLETED", state: "completed", us: 1_000 },
      { order_id: uuid(2), status: "RUNNING", state: "capturingPayment", us: 3_000 },
      { order_id: uuid(3), status: "NEEDS_ATTENTION", state: "needsAttention", us: 2_000 },
    ]);
    const { status, body } = await getJson(app, "/sagas");
    assert.equal(status, 200);
    assert.deepEqual(body, {
      items: [
        {
          order_id: uuid(2),
          status: "RUNNING",
          state: "capturingPayment",
          updated_at: "2026-01-01T00:00:00.003Z",
        },
        {
          order_id: uuid(3),
          status: "NEEDS_ATTENTION",
          state: "needsAttention",
          updated_at: "2026-01-01T00:00:00.002Z",
        },
        {
          order_id: uuid(1),
          status: "COMPLETED",
          state: "completed",
          updated_at: "2026-01-01T00:00:00.001Z",
        },
      ],
      next_cursor: null,
    });
    assert.deepEqual(await getJson(app, "/sagas?status=CANCELLED"), {
      status: 200,
      body: { items: [], next_cursor: null },
    });
  });
});

Deno.test("GET /sagas pages by cursor without gaps or repeats, also within one millisecond", async () => {
  await withDb(async (db, app) => {
    const statuses = ["RUNNING", "COMPLETED", "CANCELLED", "NEEDS_ATTENTION"];
    const rows: Row[] = [];
    // As the ledger holds them: a finished saga is in its final state.
    const stateOf = (status: string, i: number) =>
      status === "COMPLETED"
        ? "completed"
        : status === "CANCELLED"
        ? "cancelled"
        : Math.floor(i / 4) % 2
        ? "reservingInventory"
        : "capturingPayment";
    for (let i = 0; i < 37; i++) {
      rows.push({
        order_id: uuid(1000 - i),
        status: statuses[i % 4]!,
        state: stateOf(statuses[i % 4]!, i),
        // Groups of rows share a microsecond, and many share a millisecond.
        us: Math.floor(i / 3) * 7 + 500,
      });
    }
    await insertRows(db.sql, rows);
    const expected = [...rows]
      .sort((a, b) => b.us - a.us || (a.order_id < b.order_id ? 1 : -1))
      .map((r) => r.order_id);

    for (const limit of [1, 2, 5, 36, 37, 38]) {
      assert.deepEqual(await allPages(app, `limit=${limit}`), expected, `limit=${limit}`);
    }
    const running = expected.filter((id) =>
      rows.find((r) => r.order_id === id)!.status === "RUNNING"
    );
    assert.deepEqual(await allPages(app, "status=RUNNING&limit=3"), running);
    const byState = expected.filter((id) =>
      rows.find((r) => r.order_id === id)!.state === "reservingInventory"
    );
    assert.deepEqual(await allPages(app, "state=reservingInventory&limit=4"), byState);
    const both = running.filter((id) => byState.includes(id));
    assert.deepEqual(await allPages(app, "status=RUNNING&state=reservingInventory&limit=2"), both);
    const completed = expected.filter((id) =>
      rows.find((r) => r.order_id === id)!.status === "COMPLETED"
    );
    assert.deepEqual(await allPages(app, "state=completed&limit=3"), completed);
    assert.deepEqual(await allPages(app, "status=RUNNING&state=completed"), []);
  });
});

Deno.test("GET /sagas returns 50 by default and at most 500", async () => {
  await withDb(async (db, app) => {
    await db.sql`
      INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version)
      SELECT gen_random_uuid(), 'COMPLETED', 'completed', '{}'::jsonb, 'order-saga@1'
      FROM generate_series(1, 520)`;
    const d = await getJson(app, "/sagas");
    assert.equal(d.body.items.length, 50);
    assert.equal(typeof d.body.next_cursor, "string");
    const max = await getJson(app, "/sagas?limit=500");
    assert.equal(max.body.items.length, 500);
    assert.equal((await allPages(app, "limit=500")).length, 520);
  });
});

Deno.test("GET /sagas refuses bad parameters with 400 JSON naming them", async () => {
  await withDb(async (_db, app) => {
    const cases: Array<[string, RegExp]> = [
      ["status=DONE", /status must be one of RUNNING, COMPLETED, CANCELLED, NEEDS_ATTENTION/],
      ["status=running", /status/],
      ["limit=0", /limit must be an integer from 1 to 500/],
      ["limit=501", /limit/],
      ["limit=abc", /limit/],
      ["limit=1.5", /limit/],
      ["limit=-1", /limit/],
      ["cursor=!!!", /invalid cursor/],
      [`cursor=${btoa("1|x")}`, /invalid cursor/],
      ["state=a'b", /state must be a state name/],
      [`state=${"x".repeat(200)}`, /state/],
    ];
    for (const [query, message] of cases) {
      const { status, body } = await getJson(app, `/sagas?${query}`);
      assert.equal(status, 400, query);
      assert.match(body.error, message, query);
    }
  });
});
