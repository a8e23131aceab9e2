// The admin app's composition, with app.request() (no socket): health,
// routing, JSON errors from the one onError, machines, and the page placeholder.
import assert from "node:assert/strict";
import pino from "pino";
import { createAdminApp } from "../../src/admin/app.ts";
import { createSql, type Sql } from "../../src/db/client.ts";
import { currentVersion, sagaVersion, sagaVersions } from "../../machines/registry.ts";
import { supervisorMachine } from "../../machines/supervisor.ts";
import { orderSagaV1 } from "../../machines/order_saga.ts";
import { freePort, freshDatabase } from "../../tooling/cluster/mod.ts";

/** A Sql whose every query throws, as a bug in a query function would. */
const brokenSql = (() => {
  throw new Error("boom: secret detail");
}) as unknown as Sql;

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "info" }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

Deno.test("GET /healthz answers ok and /readyz reports the database and LISTEN", async () => {
  const db = await freshDatabase();
  try {
    let listening = false;
    const app = createAdminApp({ sql: db.sql, listening: () => listening });
    const health = await app.request("/healthz");
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });

    const ready = await app.request("/readyz");
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready", database: "ok", listen: false });
    listening = true;
    assert.equal((await (await app.request("/readyz")).json()).listen, true);
  } finally {
    await db.drop();
  }
});

Deno.test("GET /readyz says why LISTEN is not working, and nothing once it is", async () => {
  const db = await freshDatabase();
  try {
    let listening = false;
    const reason = "LISTEN connected but a probe notification did not arrive within 2000 ms";
    const app = createAdminApp({
      sql: db.sql,
      listening: () => listening,
      listenReason: () => listening ? null : reason,
    });
    assert.deepEqual(await (await app.request("/readyz")).json(), {
      status: "ready",
      database: "ok",
      listen: false,
      listen_reason: reason,
    });
    listening = true;
    assert.deepEqual(await (await app.request("/readyz")).json(), {
      status: "ready",
      database: "ok",
      listen: true,
    });
  } finally {
    await db.drop();
  }
});

Deno.test("GET /readyz answers 503 when the database does not answer", async () => {
  const sql = createSql(`postgres://nobody:x@127.0.0.1:${await freePort()}/none`, { max: 1 });
  try {
    const app = createAdminApp({ sql, listening: () => true });
    const res = await app.request("/readyz");
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), {
      status: "unavailable",
      database: "unreachable",
      reasons: ["the database does not answer"],
      listen: true,
    });
    // Liveness does not depend on the database.
    assert.equal((await app.request("/healthz")).status, 200);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

Deno.test("an unexpected error is a logged 500 {error: internal error} with no stack or detail", async () => {
  const { logger, lines } = capturingLogger();
  const app = createAdminApp({ sql: brokenSql, listening: () => true, logger });
  const res = await app.request("/sagas");
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("content-type"), "application/json");
  const text = await res.text();
  assert.deepEqual(JSON.parse(text), { error: "internal error" });
  assert.doesNotMatch(text, /boom|secret|at /);
  const logged = lines.find((l) => l.msg === "Admin API request failed");
  assert.ok(logged, "the error is logged");
  assert.match(String(logged.err), /boom/);
  assert.equal(logged.path, "/sagas");
});

Deno.test("unknown routes are 404 JSON and a wrong method is 405 JSON with Allow", async () => {
  const app = createAdminApp({ sql: brokenSql, listening: () => true });
  for (const path of ["/nope", "/sagas/x/y/z", "/machines/a/b", "/healthz/extra"]) {
    const res = await app.request(path);
    assert.equal(res.status, 404, path);
    assert.deepEqual(await res.json(), { error: "not found" }, path);
  }
  const del = await app.request("/healthz", { method: "DELETE" });
  assert.equal(del.status, 405);
  assert.deepEqual(await del.json(), { error: "method not allowed" });
  assert.match(del.headers.get("allow") ?? "", /GET/);

  const getRetry = await app.request(`/sagas/${crypto.randomUUID()}/retry`);
  assert.equal(getRetry.status, 405);
  assert.equal(getRetry.headers.get("allow"), "POST");
  assert.deepEqual(await getRetry.json(), { error: "method not allowed" });
});

Deno.test("GET / serves the admin page without a token, and the API still needs one", async () => {
  const app = createAdminApp({ sql: brokenSql, listening: () => true, token: "secret" });
  const res = await app.request("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/html/);
  assert.match(await res.text(), /<html/i);
  assert.equal((await app.request("/sagas")).status, 401);
});

Deno.test("GET /machines lists every saga version and the supervisor", async () => {
  const app = createAdminApp({ sql: brokenSql, listening: () => true });
  const res = await app.request("/machines");
  assert.equal(res.status, 200);
  const list = await res.json();
  assert.deepEqual(list, [
    ...sagaVersions().map((v) => {
      const { definition } = sagaVersion(v)!;
      return {
        id: v,
        version: v,
        saga: definition.name,
        current: v === currentVersion(definition),
      };
    }),
    { id: "supervisor", version: null, saga: null, current: true },
  ]);
  assert.ok(list.some((m: { id: string }) => m.id === "order-saga@1"));
});

Deno.test("GET /machines/:id is machine.toJSON() for saga versions and the supervisor; 404 otherwise", async () => {
  const app = createAdminApp({ sql: brokenSql, listening: () => true });
  const saga = await app.request(`/machines/${encodeURIComponent("order-saga@1")}`);
  assert.equal(saga.status, 200);
  const sagaJson = await saga.json();
  assert.deepEqual(sagaJson, JSON.parse(JSON.stringify(orderSagaV1.toJSON())));
  assert.equal(sagaJson.id, "orderSaga");
  assert.ok(sagaJson.states.capturingPayment);

  const raw = await app.request("/machines/order-saga@1");
  assert.equal(raw.status, 200);

  const sup = await app.request("/machines/supervisor");
  assert.equal(sup.status, 200);
  assert.deepEqual(await sup.json(), JSON.parse(JSON.stringify(supervisorMachine.toJSON())));

  for (const id of ["order-saga@999", "toString", "__proto__"]) {
    const res = await app.request(`/machines/${id}`);
    assert.equal(res.status, 404, id);
    assert.match((await res.json()).error, /not found/);
  }
});

Deno.test("GET /metrics is 404 JSON when no metrics are wired", async () => {
  const app = createAdminApp({ sql: brokenSql, listening: () => true });
  const res = await app.request("/metrics");
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), { error: "metrics are not enabled" });
});
