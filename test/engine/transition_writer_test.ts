// Group commit (src/engine/transition_writer.ts) against a real PostgreSQL:
// concurrent transitions share statements, a lone one goes out alone, fencing
// still holds row by row, and one row the database refuses fails only itself.
import assert from "node:assert/strict";
import { renewLeases } from "../../src/db/claims.ts";
import { insertSagas } from "../../src/db/intake_queries.ts";
import { persistTransitions, type Transition } from "../../src/db/transitions.ts";
import type { Sql } from "../../src/db/client.ts";
import { TransitionWriter } from "../../src/engine/transition_writer.ts";
import { freshDatabase } from "../../tooling/cluster/mod.ts";
import { stepTransition } from "../helpers/transitions.ts";

const ME = "writer-test";

/** `n` sagas leased to ME (epoch 1, revision 0), as intake inserts them. */
async function leasedSagas(sql: Sql, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => crypto.randomUUID());
  await sql.begin((tx) =>
    insertSagas(
      tx,
      ids.map((id, i) => ({
        order_id: id,
        state: "creatingOrder",
        snapshot: { value: { creatingOrder: "calling" }, context: { n: i } },
        machine_version: "order-saga@1",
        event_type: "OrderPlaced",
        pending: null,
        source_event_id: String(i + 1),
        claim: true,
      })),
      ME,
      60_000,
    )
  );
  return ids;
}

function step(orderId: string, revision: number, over: Partial<Transition> = {}): Transition {
  return stepTransition({ orderId, me: ME, epoch: "1", revision: String(revision) }, {
    snapshot: { value: { reservingInventory: "calling" }, context: { revision } },
    step: { name: "createOrder", outcome: "ok", httpStatus: 201, body: { order_id: orderId } },
    history: [{
      event: "createOrder:ok",
      from: "creatingOrder.calling",
      to: "reservingInventory.calling",
      detail: { status: 201 },
    }],
    ...over,
  });
}

/** An operator's open transaction holding one saga's row lock; call the result to commit. */
async function holdRow(sql: Sql, orderId: string): Promise<() => Promise<void>> {
  const operator = await sql.reserve();
  await operator`BEGIN`;
  await operator`SELECT 1 FROM order_ledger WHERE order_id = ${orderId} FOR UPDATE`;
  return async () => {
    await operator`COMMIT`;
    operator.release();
  };
}

/** A fresh database and a writer on it (one statement in flight) that records its batch sizes. */
async function withWriter(
  fn: (t: { sql: Sql; writer: TransitionWriter; sizes: number[] }) => Promise<void>,
): Promise<void> {
  const db = await freshDatabase();
  try {
    const sizes: number[] = [];
    const writer = new TransitionWriter({ sql: db.sql, onFlush: (n) => sizes.push(n) });
    await fn({ sql: db.sql, writer, sizes });
  } finally {
    await db.drop();
  }
}

async function counts(sql: Sql, ids: string[]) {
  const [row] = await sql<{ updated: number; steps: number; history: number }[]>`
    SELECT
      (SELECT count(*)::int FROM order_ledger WHERE order_id = ANY(${ids}::uuid[]) AND revision = 1)
        AS updated,
      (SELECT count(*)::int FROM saga_step WHERE order_id = ANY(${ids}::uuid[])) AS steps,
      (SELECT count(*)::int FROM saga_history
        WHERE order_id = ANY(${ids}::uuid[]) AND event = 'createOrder:ok') AS history`;
  return row!;
}

Deno.test("TransitionWriter sends a lone write at once and batches writes that arrive together", async () => {
  await withWriter(async ({ sql, writer, sizes }) => {
    const [lone] = await leasedSagas(sql, 1);
    const r = await writer.write(step(lone!, 0));
    assert.equal(r?.revision, "1");
    assert.deepEqual(sizes, [1], "alone, it went out alone");

    const ids = await leasedSagas(sql, 50);
    sizes.length = 0;
    const results = await Promise.all(ids.map((id) => writer.write(step(id, 0))));
    assert.ok(results.every((x) => x?.revision === "1"), "every saga got its new revision");
    // The first went out at once; the other 49 waited for it and shared one statement.
    assert.deepEqual(sizes, [1, 49]);
    assert.deepEqual(await counts(sql, ids), { updated: 50, steps: 50, history: 50 });
  });
});

Deno.test("TransitionWriter fences row by row: a lost lease is refused, its batch-mates commit", async () => {
  const db = await freshDatabase();
  try {
    const writer = new TransitionWriter({ sql: db.sql, maxInFlight: 1 });
    const ids = await leasedSagas(db.sql, 6);
    // Another instance took over saga 2 after its lease expired.
    await db.sql`UPDATE order_ledger SET lease_owner = 'other', lease_epoch = 2
      WHERE order_id = ${ids[2]!}`;
    const blocker = writer.write(step(ids[0]!, 0));
    const rest = ids.slice(1).map((id, i) =>
      // Saga 4 writes with a stale revision.
      writer.write(step(id, i + 1 === 4 ? 7 : 0))
    );
    await blocker;
    const results = await Promise.all(rest);
    assert.deepEqual(results.map((r) => r === null), [false, true, false, true, false]);
    const refused = [ids[2]!, ids[4]!];
    assert.deepEqual(await counts(db.sql, refused), { updated: 0, steps: 0, history: 0 });
    const written = ids.filter((id) => !refused.includes(id));
    assert.deepEqual(await counts(db.sql, written), { updated: 4, steps: 4, history: 4 });
  } finally {
    await db.drop();
  }
});

Deno.test("a write unlessCancelled lands both its history lines in order, and is refused whole once a cancellation is recorded", async () => {
  await withWriter(async ({ sql, writer }) => {
    const [quiet, cancelled] = await leasedSagas(sql, 2);
    // Recorded as intake records an OrderCancellationRequested, while the saga's step was in flight.
    await sql`UPDATE order_ledger SET cancel_requested_at = now(), cancel_reason = 'changed my mind'
      WHERE order_id = ${cancelled!}`;
    const withAttempt = (id: string) =>
      step(id, 0, {
        unlessCancelled: true,
        history: [
          { event: "createOrder:ok", from: "creatingOrder", to: "capturing", detail: null },
          { event: "capture:attempt", from: "capturing", to: "capturing", detail: { n: 2 } },
        ],
      });
    const [written, refused] = await Promise.all([
      writer.write(withAttempt(quiet!)),
      writer.write(withAttempt(cancelled!)),
    ]);
    assert.equal(written?.refused, false);
    assert.equal(written?.revision, "1");
    assert.deepEqual(refused, {
      order_id: cancelled,
      revision: null,
      cancel_requested: true,
      cancel_reason: null,
      refused: true,
      busy: false,
    });
    const lines = await sql<{ order_id: string; event: string; detail: unknown }[]>`
      SELECT order_id, event, detail FROM saga_history
      WHERE order_id IN (${quiet!}, ${cancelled!}) AND event <> 'OrderPlaced' ORDER BY id`;
    assert.deepEqual(lines.map((l) => [l.order_id, l.event, l.detail]), [
      [quiet, "createOrder:ok", null],
      [quiet, "capture:attempt", { n: 2 }],
    ]);
    assert.deepEqual(await counts(sql, [cancelled!]), { updated: 0, steps: 0, history: 0 });

    // Apart, as the runner then writes it, the outcome lands and the cancellation comes back.
    const apart = await writer.write(step(cancelled!, 0));
    assert.equal(apart?.revision, "1");
    assert.equal(apart?.cancel_requested, true);
    assert.equal(apart?.cancel_reason, "changed my mind");
  });
});

Deno.test("TransitionWriter: a row the database refuses fails only its own saga", async () => {
  await withWriter(async ({ sql, writer, sizes }) => {
    const ids = await leasedSagas(sql, 5);
    const blocker = writer.write(step(ids[0]!, 0));
    // jsonb cannot hold a NUL character: this row makes the whole statement fail.
    const poisoned = ids[3]!;
    const rest = ids.slice(1).map((id) =>
      writer.write(step(id, 0, id === poisoned ? { snapshot: { bad: "\u0000" } } : {}))
    );
    await blocker;
    const settled = await Promise.allSettled(rest);
    assert.deepEqual(settled.map((s) => s.status), [
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    assert.deepEqual(sizes, [1, 4], "one batch of four, then retried one by one");
    const good = ids.filter((id) => id !== poisoned);
    assert.deepEqual(await counts(sql, good), { updated: 4, steps: 4, history: 4 });
    assert.deepEqual(await counts(sql, [poisoned]), { updated: 0, steps: 0, history: 0 });
  });
});

Deno.test("TransitionWriter never puts two writes of one saga in one statement", async () => {
  await withWriter(async ({ sql, writer, sizes }) => {
    const [a, b] = await leasedSagas(sql, 2);
    const blocker = writer.write(step(b!, 0));
    // Not something the runner does (a saga awaits its write), but the writer must not break on it.
    const first = writer.write(step(a!, 0));
    const second = writer.write(step(a!, 1, { state: "capturingPayment" }));
    await blocker;
    assert.equal((await first)?.revision, "1");
    assert.equal((await second)?.revision, "2");
    assert.deepEqual(sizes, [1, 1, 1]);
  });
});

Deno.test("a row locked elsewhere does not hold up its batch: it is written once the lock is gone", async () => {
  await withWriter(async ({ sql, writer, sizes }) => {
    const ids = await leasedSagas(sql, 5);
    const held = ids[2]!;
    // An operator's open transaction holds one saga's row.
    const release = await holdRow(sql, held);
    let heldDone = false;
    const heldWrite = writer.write(step(held, 0)).then((r) => {
      heldDone = true;
      return r;
    });
    const others = await Promise.all(
      ids.filter((id) => id !== held).map((id) => writer.write(step(id, 0))),
    );
    assert.ok(others.every((r) => r?.revision === "1"), "the others committed meanwhile");
    assert.equal(heldDone, false, "the locked one waits");
    // It kept being retried (5 ms, 10 ms, …) while the lock was held.
    await waitUntil(() => sizes.length >= 4);
    await release();
    assert.equal((await heldWrite)?.revision, "1");
    assert.deepEqual(await counts(sql, ids), { updated: 5, steps: 5, history: 5 });
  });
});

Deno.test("a write still waiting to be sent is dropped, unwritten, when its saga aborts", async () => {
  await withWriter(async ({ sql, writer, sizes }) => {
    const [held, other] = await leasedSagas(sql, 2);
    const release = await holdRow(sql, held!);
    const abort = new AbortController();
    const write = writer.write(step(held!, 0), abort.signal);
    await waitUntil(() => sizes.length >= 2); // found busy, waiting to be tried again
    abort.abort(new Error("shutdown"));
    await assert.rejects(write, /shutdown/);
    await release();
    // The next statement carries only the other saga's write: the aborted one is gone.
    const flushed = sizes.length;
    assert.equal((await writer.write(step(other!, 0)))?.revision, "1");
    assert.deepEqual(sizes.slice(flushed), [1]);
    assert.deepEqual(await counts(sql, [held!]), { updated: 0, steps: 0, history: 0 });
  });
});

Deno.test("a saga's writes leave no abort listener on its signal once they are settled", async () => {
  await withWriter(async ({ sql, writer }) => {
    const [id] = await leasedSagas(sql, 1);
    // The saga's own signal, alive for all its writes; its listeners counted.
    const signal = new AbortController().signal;
    const listening = new Set<unknown>();
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (type: string, listener: never, options?: never) => {
      listening.add(listener);
      add(type, listener, options);
    };
    signal.removeEventListener = (type: string, listener: never, options?: never) => {
      listening.delete(listener);
      remove(type, listener, options);
    };
    for (let revision = 0; revision < 4; revision++) {
      const written = writer.write(step(id!, revision), signal);
      assert.equal(listening.size, 1, "listening while the write waits");
      assert.equal((await written)?.revision, String(revision + 1));
      assert.equal(listening.size, 0, `a listener left behind by write ${revision + 1}`);
    }
    // Refused by fencing (a stale revision): settled too, nothing left.
    assert.equal(await writer.write(step(id!, 0), signal), null);
    assert.equal(listening.size, 0);
  });
});

Deno.test("a write aborted while its statement is in flight gives up when its row comes back locked", async () => {
  const db = await freshDatabase();
  try {
    const [held] = await leasedSagas(db.sql, 1);
    const release = await holdRow(db.sql, held!);
    const abort = new AbortController();
    // Abort exactly as the second statement leaves: the write is in flight, not queued.
    const writer = new TransitionWriter({
      sql: db.sql,
      onFlush: () => void (++flushes === 2 && abort.abort(new Error("shutdown"))),
    });
    let flushes = 0;
    await assert.rejects(writer.write(step(held!, 0), abort.signal), /shutdown/);
    assert.equal(flushes, 2, "no statement after the abort");
    await release();
    assert.deepEqual(await counts(db.sql, [held!]), { updated: 0, steps: 0, history: 0 });
  } finally {
    await db.drop();
  }
});

Deno.test("batched transitions never wait for locks, so they deadlock with nothing", async () => {
  const db = await freshDatabase();
  try {
    const ids = await leasedSagas(db.sql, 40);
    const revision = new Map(ids.map((id) => [id, 0]));
    const shuffled = () => [...ids].sort(() => Math.random() - 0.5);
    let busy = 0;
    for (let round = 0; round < 60; round++) {
      // Heartbeats lock many of the same rows at once, each from its own connection.
      const [rows] = await Promise.all([
        persistTransitions(db.sql, shuffled().map((id) => step(id, revision.get(id)!))),
        renewLeases(db.sql, ME, shuffled(), 60_000),
        renewLeases(db.sql, ME, shuffled(), 60_000),
      ]);
      assert.equal(rows.length, ids.length, "every row is either written or busy");
      for (const r of rows) {
        if (r.busy) busy++;
        else revision.set(r.order_id, revision.get(r.order_id)! + 1);
      }
    }
    const [row] = await db.sql<{ n: number }[]>`
      SELECT sum(revision)::int AS n FROM order_ledger WHERE order_id = ANY(${ids}::uuid[])`;
    assert.equal(row!.n, 60 * ids.length - busy, "exactly the rows reported written were written");
  } finally {
    await db.drop();
  }
});

async function waitUntil(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
