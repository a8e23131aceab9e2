// The orchestrator lives in someone else's database: other sessions take
// locks. One locked row may delay only that saga; a locked table delays work
// but never dead-letters an event; an instance whose loops stop making
// progress says so on /healthz. Real second sessions hold real locks.
import assert from "node:assert/strict";
import { createAdminApp } from "../src/admin/app.ts";
import type { Sql } from "../src/db/client.ts";
import {
  calls,
  effectsFor,
  type Harness,
  harness,
  historyEvents,
  ledgerRow,
  only,
  outboxRows,
  ROUTES,
} from "./helpers/saga_assert.ts";
import {
  placeOrder,
  requestCancel,
  sampleOrder,
  waitFor,
  waitForStatus,
} from "./helpers/orders.ts";

type Instance = ReturnType<Harness["start"]>;

function health(sql: Sql, o: Instance) {
  const app = createAdminApp({
    sql,
    listening: () => true,
    liveness: o.orchestrator.liveness,
  });
  return async (path: "/healthz" | "/readyz") => {
    const res = await app.request(path);
    return { status: res.status, body: await res.json() };
  };
}

/** A second session: BEGIN, run `lock`, and hold it until the returned function commits. */
async function holdLock(sql: Sql, lock: (s: Sql) => Promise<unknown>) {
  const session = await sql.reserve();
  await session`BEGIN`;
  await lock(session as unknown as Sql);
  return async () => {
    await session`COMMIT`;
    session.release();
  };
}

async function statuses(sql: Sql, ids: string[]) {
  const rows = await sql<{ status: string; n: number }[]>`
    SELECT status, count(*)::int AS n FROM order_ledger
    WHERE order_id = ANY(${ids}::uuid[]) GROUP BY status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

Deno.test("a ledger row held FOR UPDATE by another session delays only that saga", async () => {
  const h = await harness({
    start: false,
    sandbox: {},
    env: { LEASE_MS: "2000", POLL_INTERVAL_MS: "500", DB_POOL_SIZE: "5" },
  });
  try {
    const o = h.start();
    const probe = health(h.sql, o);
    const locked = sampleOrder();
    // Its reservation is slow (and its answer lost), so the saga is mid-step when the row is taken.
    h.sandbox.inventory.setFaults({
      rules: [{
        path: "/reservations",
        orderId: locked.order_id,
        afterEffect: true,
        delayMs: 1500,
        times: 1,
      }],
    });
    await placeOrder(h.sql, locked);
    await waitFor(() => calls(h.sandbox, "inventory", ROUTES.reserveInventory) >= 1, {
      what: "the reservation call to be in flight",
    });
    const release = await holdLock(
      h.sql,
      (s) => s`SELECT 1 FROM order_ledger WHERE order_id = ${locked.order_id} FOR UPDATE`,
    );
    const lockedAt = Date.now();
    try {
      await requestCancel(h.sql, locked.order_id, "customer asked");
      const others = Array.from({ length: 60 }, () => sampleOrder());
      for (const x of others) await placeOrder(h.sql, x);
      const ids = others.map((x) => x.order_id);

      // Everyone else finishes while the lock is held, and the instance stays healthy.
      await waitFor(async () => {
        assert.equal((await probe("/healthz")).status, 200, "healthz stays 200");
        return (await statuses(h.sql, ids)).COMPLETED === 60;
      }, { timeoutMs: 10_000, what: "the 60 other orders to complete" });
      for (const id of ids) {
        assert.deepEqual(
          effectsFor(h.sandbox, id),
          only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
        );
      }
      // Hold it for several lease lengths: nothing piles up behind it.
      while (Date.now() - lockedAt < 8_000) {
        assert.equal((await probe("/healthz")).status, 200, "healthz stays 200");
        assert.equal((await ledgerRow(h.sql, locked.order_id))?.status, "RUNNING");
        await new Promise((r) => setTimeout(r, 250));
      }
      const [cancel] = (await outboxRows(h.sql, locked.order_id)).filter((e) =>
        e.event_type === "OrderCancellationRequested"
      );
      assert.equal(cancel?.status, "PENDING", "deferred while the row is locked");
      assert.equal(cancel?.attempts, 0, "and never counted against the event");
      assert.match(cancel?.last_error ?? "", /locked by another session/);
    } finally {
      await release();
    }

    // Once the lock is gone, the deferred cancellation and the saga's own claim
    // race: whichever reaches the saga first decides, by the pivot rule.
    await waitForStatus(h.sql, locked.order_id, ["CANCELLED", "COMPLETED"], 15_000);
    await waitFor(
      async () => (await outboxRows(h.sql, locked.order_id)).every((e) => e.status === "PROCESSED"),
      {
        what: "the deferred cancellation to be applied",
      },
    );
    const done = (await ledgerRow(h.sql, locked.order_id))!;
    assert.equal(done.cancel_reason, "customer asked", "the cancellation was recorded, not lost");
    if (done.status === "CANCELLED") {
      assert.deepEqual(
        effectsFor(h.sandbox, locked.order_id),
        only({ created: 1, reserved: 1, released: 1, cancelled: 1, voided: 1 }),
      );
    } else {
      // It reached the capture first. The machine then notes the cancellation and
      // ignores it; or, when intake applied it after the saga's last transitions
      // had read the row, it is on the row alone and the machine never saw it.
      const noted = done.snapshot.context.cancelReason;
      const sawCancel = (await historyEvents(h.sql, locked.order_id)).includes("CANCEL");
      assert.equal(sawCancel, noted === "customer asked", `noted: ${noted}`);
      assert.ok(noted === null || noted === "customer asked");
      assert.deepEqual(
        effectsFor(h.sandbox, locked.order_id),
        only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
      );
    }
  } finally {
    await h.close();
  }
});

Deno.test("order_ledger locked ACCESS EXCLUSIVE while orders arrive: all complete afterwards, none is dead-lettered", async () => {
  const h = await harness({
    // Short lock waits: many failed statements while the lock is held.
    env: {
      LEASE_MS: "2000",
      POLL_INTERVAL_MS: "300",
      OUTBOX_MAX_ATTEMPTS: "2",
      DB_LOCK_TIMEOUT_MS: "100",
    },
  });
  try {
    const warm = sampleOrder();
    await placeOrder(h.sql, warm);
    await waitForStatus(h.sql, warm.order_id, ["COMPLETED"]);

    const orders = Array.from({ length: 20 }, () => sampleOrder());
    const release = await holdLock(
      h.sql,
      (s) => s`LOCK TABLE order_ledger IN ACCESS EXCLUSIVE MODE`,
    );
    const lockedAt = Date.now();
    try {
      for (const x of orders) await placeOrder(h.sql, x);
      // Several failed claim cycles (each bounded by the lock timeout) happen meanwhile.
      while (Date.now() - lockedAt < 8_000) {
        const dead = (await outboxRows(h.sql)).filter((e) => e.status === "DEAD");
        assert.deepEqual(dead, [], "no event is dead-lettered for the database's lock");
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await release();
    }
    const ids = orders.map((x) => x.order_id);
    await waitFor(async () => (await statuses(h.sql, ids)).COMPLETED === 20, {
      what: "all 20 orders to complete after the lock",
    });
    const events = await outboxRows(h.sql);
    assert.deepEqual(events.filter((e) => e.status !== "PROCESSED"), []);
    for (const id of ids) {
      assert.deepEqual(
        effectsFor(h.sandbox, id),
        only({ created: 1, reserved: 1, captured: 1, confirmed: 1 }),
      );
    }
  } finally {
    await h.close();
  }
});

Deno.test("/healthz answers 503 while the claim loop makes no progress, and recovers", async () => {
  const h = await harness({
    start: false,
    env: { LEASE_MS: "500", POLL_INTERVAL_MS: "200", DB_LOCK_TIMEOUT_MS: "200" },
  });
  try {
    const o = h.start();
    const probe = health(h.sql, o);
    await waitFor(async () => (await probe("/healthz")).status === 200);
    const release = await holdLock(
      h.sql,
      (s) => s`LOCK TABLE order_ledger IN ACCESS EXCLUSIVE MODE`,
    );
    let stalled;
    try {
      stalled = await waitFor(async () => {
        const r = await probe("/healthz");
        return r.status === 503 ? r : undefined;
      }, { timeoutMs: 10_000, what: "/healthz to report the stall" });
      const ready = await probe("/readyz");
      assert.equal(ready.status, 503);
      assert.match(ready.body.reasons.join(" "), /no claim cycle has completed/);
    } finally {
      await release();
    }
    assert.equal(stalled.body.status, "stalled");
    assert.match(stalled.body.reasons[0], /no claim cycle has completed for \d+ ms/);
    await waitFor(async () => (await probe("/healthz")).status === 200, {
      what: "/healthz to recover once cycles complete again",
    });
  } finally {
    await h.close();
  }
});
