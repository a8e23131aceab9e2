// SIGKILL an orchestrator mid-saga and start another: the survivor resumes the
// dead instance's sagas once their leases expire, repeats in-doubt calls under
// the same Idempotency-Key (so no effect happens twice), and a retry wait
// resumes with only its remaining time.
import assert from "node:assert/strict";
import {
  assertEffectsExactlyOnce,
  placeOrders,
  sampleOrder,
  waitAllCompleted,
  waitFor,
  waitForStatus,
} from "./helpers/orders.ts";
import { withCluster } from "../tooling/cluster/mod.ts";

const LEASE_MS = 2000;
const POLL_INTERVAL_MS = 500;
/** Process start-up and scheduling slack on top of lease + poll interval. */
const START_MARGIN_MS = 1500;
const CAPTURE_ROUTE = "POST /payments/capture/:authorization_id";

Deno.test("a SIGKILLed instance's sagas are resumed by another within the lease, each effect once", async () => {
  // Captures take 800 ms inside the idempotency lock: a killed caller leaves the
  // effect done but its outcome unrecorded, so the resumed call must be a replay.
  await withCluster({ payments: { processingMs: 800 } }, async ({ db, sandbox, start }) => {
    const env = { LEASE_MS: String(LEASE_MS), POLL_INTERVAL_MS: String(POLL_INTERVAL_MS) };
    const orders = Array.from({ length: 24 }, () => sampleOrder());
    const ids = orders.map((o) => o.order_id);
    const a = start("crash-a", env);
    await a.started();
    await placeOrders(db.sql, orders);

    const capturing = async () =>
      (await db.sql<{ order_id: string }[]>`
        SELECT order_id FROM order_ledger
        WHERE state = 'capturingPayment' AND lease_owner = 'crash-a'
          AND pending->>'step' = 'capturePayment'`).map((r) => r.order_id);
    // Kill once the service holds 10 capture requests and their sagas are mid-call.
    const received = () => sandbox.payments.stats({ log: false }).calls[CAPTURE_ROUTE] ?? 0;
    await waitFor(async () => received() >= 10 && (await capturing()).length >= 10, {
      what: "10 captures of crash-a at the service",
      intervalMs: 5,
    });
    const receivedAtKill = received();
    const killedAt = Date.now();
    a.kill("SIGKILL");
    const b = start("crash-b", env);
    assert.equal((await a.status).signal, "SIGKILL");

    // What the dead instance left: sagas mid-capture, outcome unrecorded, leases still held.
    const atKill = await db.sql<{ order_id: string; lease_until: Date }[]>`
      SELECT order_id, lease_until FROM order_ledger
      WHERE lease_owner = 'crash-a' AND state = 'capturingPayment'`;
    const inDoubt = atKill.map((r) => r.order_id);
    assert.ok(inDoubt.length >= 5, `several captures in doubt at the kill (${inDoubt.length})`);
    const leaseUntil = new Map(atKill.map((r) => [r.order_id, r.lease_until.getTime()]));
    const [recordedByA] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM saga_step
      WHERE step = 'capturePayment' AND instance_id = 'crash-a'`;

    await waitAllCompleted(db.sql, ids, 20_000);

    // Resumed by b, not before the dead instance's lease ran out.
    const firstByB = await db.sql<{ order_id: string; at: Date }[]>`
      SELECT order_id, min(at) AS at FROM saga_history
      WHERE instance_id = 'crash-b' AND order_id = ANY(${inDoubt}::uuid[])
      GROUP BY order_id`;
    assert.equal(firstByB.length, inDoubt.length, "b resumed every in-doubt saga");
    for (const r of firstByB) {
      assert.ok(
        r.at.getTime() >= leaseUntil.get(r.order_id)!,
        `${r.order_id} taken over only after its lease expired`,
      );
    }
    const recoveryMs = Math.min(...firstByB.map((r) => r.at.getTime())) - killedAt;
    const lastMs = Math.max(...firstByB.map((r) => r.at.getTime())) - killedAt;
    const leaseLeftMs = Math.max(...leaseUntil.values()) - killedAt;
    console.log(
      `recovery after SIGKILL: first saga resumed ${recoveryMs} ms, last ${lastMs} ms ` +
        `after the kill (lease left at kill: ${leaseLeftMs} ms; ${inDoubt.length} in doubt)`,
    );
    assert.ok(
      lastMs <= LEASE_MS + POLL_INTERVAL_MS + START_MARGIN_MS,
      `resumed within lease + poll interval + ${START_MARGIN_MS} ms (took ${lastMs} ms)`,
    );

    // No duplicate effect: every re-sent capture was answered from the idempotency store.
    assertEffectsExactlyOnce(sandbox, ids);
    const payments = sandbox.payments.stats({ log: false });
    const resent = (payments.calls[CAPTURE_ROUTE] ?? 0) - ids.length;
    console.log(
      `captures in doubt at the kill: ${inDoubt.length} (${receivedAtKill} at the service), ` +
        `re-sent: ${resent}, ` +
        `replays: ${payments.idempotentReplays}`,
    );
    // Each capture the service had received but crash-a had not recorded is in doubt and
    // must be sent again; b sends each in-doubt capture once (one that had not reached the
    // service yet counts as its first call).
    const mustRepeat = receivedAtKill - (recordedByA?.n ?? 0);
    assert.ok(
      mustRepeat <= resent && resent <= inDoubt.length,
      `captures repeated: ${mustRepeat} <= ${resent} <= ${inDoubt.length}`,
    );
    assert.ok(resent > 0);
    assert.equal(
      payments.idempotentReplays,
      resent,
      "every repeated capture was absorbed by its Idempotency-Key",
    );
    // b re-sent the capture under the same key: the recorded outcome is b's, the effect a's.
    const [recorded] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM saga_step
      WHERE step = 'capturePayment' AND instance_id = 'crash-b'
        AND order_id = ANY(${inDoubt}::uuid[])`;
    assert.equal(recorded?.n, inDoubt.length);

    b.kill("SIGTERM");
    assert.equal((await b.status).code, 0);
  });
});

Deno.test("a retry wait interrupted by SIGKILL resumes with only its remaining time", async () => {
  const order = sampleOrder();
  // The first reservation is refused with Retry-After: 3. With RETRY_BASE_MS=1 and
  // RETRY_MAX_MS=1000 the jitter is at most 1 ms, so the wait is exactly 3 s.
  await withCluster({
    inventory: {
      faults: {
        rules: [{
          method: "POST",
          path: "/reservations",
          orderId: order.order_id,
          times: 1,
          status: 503,
          retryAfter: "3",
        }],
      },
    },
  }, async ({ db, sandbox, start }) => {
    const env = {
      LEASE_MS: String(LEASE_MS),
      POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
      RETRY_BASE_MS: "1",
      RETRY_MAX_MS: "1000",
    };
    const a = start("wait-a", env);
    await a.started();
    await placeOrders(db.sql, [order]);

    const waiting = await waitFor(async () => {
      const [row] = await db.sql<
        { run_at: Date; updated_at: Date; lease_owner: string | null; at: string }[]
      >`
        SELECT run_at, updated_at, lease_owner, pending->>'at' AS at FROM order_ledger
        WHERE order_id = ${order.order_id} AND pending->>'kind' = 'timer'`;
      return row;
    }, { what: "the reservation retry wait" });
    const deadline = waiting.run_at.getTime();
    const waitStarted = waiting.updated_at.getTime();
    assert.equal(Number(waiting.at), deadline, "the stored timer deadline is the row's run_at");
    assert.equal(waiting.lease_owner, null, "a waiting saga holds no lease");
    const fullWaitMs = deadline - waitStarted;
    assert.ok(Math.abs(fullWaitMs - 3000) <= 100, `the wait is Retry-After's 3 s (${fullWaitMs})`);

    // ~1 s into the wait, kill the instance that scheduled it.
    await new Promise((r) => setTimeout(r, Math.max(0, waitStarted + 1000 - Date.now())));
    const [still] = await db.sql<{ kind: string }[]>`
      SELECT pending->>'kind' AS kind FROM order_ledger WHERE order_id = ${order.order_id}`;
    assert.equal(still?.kind, "timer", "still waiting when killed");
    const killedAt = Date.now();
    a.kill("SIGKILL");
    const b = start("wait-b", env);
    await a.status;
    assert.equal(sandbox.inventory.stats({ log: false }).totals.reserved, 0, "no retry yet");

    const row = await waitForStatus(db.sql, order.order_id, [
      "COMPLETED",
      "CANCELLED",
      "NEEDS_ATTENTION",
    ]);
    assert.equal(row.status, "COMPLETED");

    const inventory = sandbox.inventory.stats();
    assert.equal(inventory.calls["POST /reservations"], 2, "one refused call, one retry");
    assert.equal(inventory.faultsInjected, 1);
    const reserved = inventory.log!.find((e) =>
      e.order_id === order.order_id && e.effect === "reserved"
    )!;
    const lateMs = Math.round(reserved.at - deadline);
    console.log(
      `retry wait: full wait ${fullWaitMs} ms, killed ${killedAt - waitStarted} ms in, ` +
        `retry arrived ${lateMs} ms after the stored deadline`,
    );
    // Clocks: the deadline is the orchestrator's Date.now(), the arrival the sandbox's
    // performance clock; allow a few ms between them.
    assert.ok(lateMs >= -25, `the retry did not come before the deadline (${lateMs} ms)`);
    assert.ok(
      reserved.at < killedAt + fullWaitMs,
      "the retry came before a fresh full wait counted from the crash could have ended",
    );
    assertEffectsExactlyOnce(sandbox, [order.order_id]);
    const byB = await db.sql<{ event: string }[]>`
      SELECT event FROM saga_history
      WHERE order_id = ${order.order_id} AND instance_id = 'wait-b' ORDER BY id`;
    assert.deepEqual(byB.slice(0, 2).map((r) => r.event), ["retryDue", "reserveInventory:ok"]);

    b.kill("SIGTERM");
    assert.equal((await b.status).code, 0);
  });
});
