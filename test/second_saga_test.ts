// A saga type the orchestrator knows nothing about, defined only in
// test/second_saga/, runs end to end through the real pieces: an INSERT INTO
// outbox → intake → runner → its own services over real HTTP → the ledger;
// dead-lettering, the admin API's rules and the replay all come from its
// definition. Nothing outside that folder names it; registering it is all.
import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";
import { createOrchestrator } from "../src/orchestrator.ts";
import { createLogger } from "../src/log.ts";
import { createSql, type Sql } from "../src/db/client.ts";
import { createAdminApp } from "../src/admin/app.ts";
import { loadSagaForReplay } from "../src/inspect/history_source.ts";
import { inputFrom, replayFrames } from "../src/inspect/replay.ts";
import { registerSaga, sagaVersion, unregisterSaga } from "../machines/registry.ts";
import { freshDatabase } from "../tooling/cluster/mod.ts";
import { waitFor, waitForStatus } from "./helpers/orders.ts";
import { PARCEL_SAGA_VERSION, parcelSaga } from "./second_saga/definition.ts";
import { BUSY, startParcelServices, STUCK_WEIGHT, UNDELIVERABLE } from "./second_saga/services.ts";

function book(sql: Sql, parcel: Record<string, unknown>, id = String(parcel.parcel_id)) {
  return sql`INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${id}, 'ParcelBooked', ${sql.json(parcel as never)})`;
}

const parcel = (over: Record<string, unknown> = {}) => ({
  parcel_id: crypto.randomUUID(),
  weight_grams: 1200,
  destination: "Main Street 1",
  ...over,
});

Deno.test("a second saga type runs end to end from its definition alone", async () => {
  registerSaga(parcelSaga);
  const db = await freshDatabase();
  const services = startParcelServices();
  const config = loadConfig({
    DATABASE_URL: db.url,
    POLL_INTERVAL_MS: "1000",
    RETRY_BASE_MS: "20",
    RETRY_MAX_MS: "100",
    LEASE_MS: "3000",
    HTTP_TIMEOUT_MS: "2000",
    STEP_MAX_ATTEMPTS: "3",
    INSTANCE_ID: "parcel-test",
  }, { hostname: "test", pid: Deno.pid });
  const sql = createSql(db.url, { max: config.dbPoolSize });
  const orchestrator = createOrchestrator({
    config,
    sql,
    databaseUrl: db.url,
    logger: createLogger(Deno.env.get("TEST_LOG_LEVEL") ?? "silent"),
    // The parcel saga's services, by the logical names its steps use.
    serviceUrls: services.urls,
  });
  orchestrator.start();
  const admin = createAdminApp({ sql: db.sql, listening: () => true });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await admin.request(path, {
      method,
      ...(body === undefined ? {} : {
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      }),
    });
    return { status: res.status, body: await res.json() };
  };
  const keysOf = (id: string) =>
    services.received.filter((r) => r.key?.startsWith(`${id}:`)).map((r) =>
      `${r.service} ${r.method} ${r.path} ${r.key!.slice(id.length)}`
    );

  try {
    // The happy path: picked up, delivered, COMPLETED; each call keyed <id>:<step>.
    const happy = parcel();
    await book(db.sql, happy);
    const done = await waitForStatus(db.sql, happy.parcel_id, ["COMPLETED"]);
    assert.equal(done.state, "delivered");
    assert.deepEqual(keysOf(happy.parcel_id), [
      "depot POST /pickups :pickUp",
      `couriers POST /deliveries/${happy.parcel_id} :deliver`,
    ]);

    // The courier says no after the pivot: the parcel is returned (compensated), CANCELLED.
    const refused = parcel({ destination: UNDELIVERABLE });
    await book(db.sql, refused);
    const returned = await waitForStatus(db.sql, refused.parcel_id, ["CANCELLED"]);
    assert.equal(returned.state, "returned");
    assert.deepEqual(keysOf(refused.parcel_id), [
      "depot POST /pickups :pickUp",
      `couriers POST /deliveries/${refused.parcel_id} :deliver`,
      `depot DELETE /pickups/${refused.parcel_id} :returnToSender`,
    ]);
    assert.equal(services.pickedUp.has(refused.parcel_id), false, "the pick-up was undone");

    // A malformed event of its type is dead-lettered with a reason naming the field.
    const bad = parcel({ weight_grams: -1 });
    await book(db.sql, bad);
    const heavy = parcel({ weight_grams: 40_000 });
    await book(db.sql, heavy);
    const dead = await waitFor(async () => {
      const rows = await db.sql<{ order_id: string; last_error: string }[]>`
        SELECT order_id, last_error FROM outbox WHERE status = 'DEAD' ORDER BY id`;
      return rows.length === 2 ? rows : undefined;
    }, { what: "two dead letters" });
    assert.match(dead[0]!.last_error, /^invalid ParcelBooked: payload\.weight_grams: /);
    assert.match(dead[1]!.last_error, /^invalid ParcelBooked: weight_grams 40000 is over 30 kg$/);
    const [none] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM order_ledger WHERE order_id IN (${bad.parcel_id}, ${heavy.parcel_id})`;
    assert.equal(none!.n, 0);

    // The admin API shows it from its definition.
    const shown = await call("GET", `/sagas/${happy.parcel_id}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.state, "delivered");
    assert.equal(shown.body.saga, "parcelSaga");
    assert.equal(shown.body.machine_version, PARCEL_SAGA_VERSION);
    assert.deepEqual(
      shown.body.history.map((h: { event: string }) => h.event),
      ["ParcelBooked", "pickUp:ok", "deliver:ok"],
    );
    assert.deepEqual(shown.body.actions.cancel, {
      allowed: false,
      reason: "the saga has finished",
    });

    // Cancel obeys its canCancel: waiting to be picked up, it may be recalled;
    // the recall takes its outbox event (ParcelRecalled) and compensates.
    const stuck = parcel({ weight_grams: STUCK_WEIGHT });
    await book(db.sql, stuck);
    await waitFor(async () => {
      const [r] = await db.sql<{ state: string; kind: string | null }[]>`
        SELECT state, pending->>'kind' AS kind FROM order_ledger WHERE order_id = ${stuck.parcel_id}`;
      return r?.state === "pickingUp" && r.kind === "timer";
    }, { what: "the stuck parcel waiting to be picked up" });
    const recall = await call("POST", `/sagas/${stuck.parcel_id}/cancel`, { reason: "changed" });
    assert.equal(recall.status, 202, JSON.stringify(recall.body));
    const [event] = await db.sql<{ event_type: string; payload: unknown }[]>`
      SELECT event_type, payload FROM outbox WHERE id = ${recall.body.event_id}`;
    assert.deepEqual(event, {
      event_type: "ParcelRecalled",
      payload: { parcel_id: stuck.parcel_id, reason: "changed" },
    });
    const recalled = await waitForStatus(db.sql, stuck.parcel_id, ["CANCELLED"]);
    assert.equal(recalled.state, "returned");
    assert.deepEqual(keysOf(stuck.parcel_id), [
      "depot POST /pickups :pickUp",
      `depot DELETE /pickups/${stuck.parcel_id} :returnToSender`,
    ]);

    // Parked after its delivery retries: its canCancel refuses with its own
    // reason, its canRetry allows, and the retried saga completes.
    const busy = parcel({ destination: BUSY });
    await book(db.sql, busy);
    const parked = await waitForStatus(db.sql, busy.parcel_id, ["NEEDS_ATTENTION"]);
    assert.equal(parked.state, "needsAttention");
    const refusedCancel = await call("POST", `/sagas/${busy.parcel_id}/cancel`);
    assert.equal(refusedCancel.status, 409);
    assert.match(refusedCancel.body.error, /a delivery may be under way/);
    const refusedRetry = await call("POST", `/sagas/${happy.parcel_id}/retry`);
    assert.equal(refusedRetry.status, 409);
    assert.match(refusedRetry.body.error, /only a parked parcel can be retried/);
    services.freeCouriers();
    assert.equal((await call("POST", `/sagas/${busy.parcel_id}/retry`)).status, 202);
    await waitForStatus(db.sql, busy.parcel_id, ["COMPLETED"]);

    // The replay recomputes each history from its input and events, to the ledger's state.
    for (const id of [happy.parcel_id, refused.parcel_id, stuck.parcel_id, busy.parcel_id]) {
      const saga = (await loadSagaForReplay(db.sql, id))!;
      const { machine, definition } = sagaVersion(saga.machine_version)!;
      const replay = replayFrames(saga.history, machine, inputFrom(definition, saga.snapshot));
      assert.deepEqual(replay.divergences, [], id);
      const snapshot = saga.snapshot as { value: unknown; context: unknown };
      assert.deepEqual(replay.final.value, snapshot.value, id);
      assert.deepEqual(replay.final.context, snapshot.context, id);
    }
  } finally {
    await orchestrator.stop();
    await sql.end({ timeout: 2 });
    await services.close();
    await db.drop();
    unregisterSaga(parcelSaga.name);
  }
});
