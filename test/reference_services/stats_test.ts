import assert from "node:assert/strict";
import { createOrdersApp } from "../../tooling/reference_services/orders.ts";
import { StatsRecorder } from "../../tooling/reference_services/stats.ts";
import { orderBody, send } from "./_helpers.ts";

Deno.test("stats count calls by route pattern and effects per order", async () => {
  const { app } = createOrdersApp();
  await send(app, "POST", "/orders", { body: orderBody("o1") });
  await send(app, "POST", "/orders/o1/confirmation", { body: {} });
  await send(app, "POST", "/orders/o1/confirmation", { body: {} });
  const stats = (await send(app, "GET", "/_control/stats")).body;
  assert.equal(stats.service, "orders");
  assert.deepEqual(stats.calls, {
    "POST /orders": 1,
    "POST /orders/:order_id/confirmation": 2,
  });
  assert.deepEqual(stats.effects, { o1: { created: 1, confirmed: 1 } });
  assert.deepEqual(stats.totals, { created: 1, confirmed: 1, cancelled: 0 });
  assert.equal(stats.faultsInjected, 0);
  assert.equal(stats.idempotentReplays, 0);
  assert.deepEqual(
    stats.log.map((e: { order_id: string; effect: string }) => [e.order_id, e.effect]),
    [["o1", "created"], ["o1", "confirmed"]],
  );
  assert.ok(stats.log[0].seq < stats.log[1].seq);
});

Deno.test("stats can leave out the effect log", async () => {
  const { app } = createOrdersApp();
  await send(app, "POST", "/orders", { body: orderBody("o1") });
  const stats = (await send(app, "GET", "/_control/stats?log=false")).body;
  assert.equal(stats.log, undefined);
  assert.equal(stats.totals.created, 1);
});

Deno.test("stats count calls per Idempotency-Key when asked, retries and faults included", async () => {
  const { app } = createOrdersApp({ faults: { rules: [{ path: "/orders", times: 1 }] } });
  // The first attempt meets the injected 503, the retry creates, a third is a replay.
  for (const status of [503, 201, 201]) {
    const sent = await send(app, "POST", "/orders", { body: orderBody("o1"), key: "o1:create" });
    assert.equal(sent.status, status);
  }
  await send(app, "POST", "/orders/o1/confirmation", { body: {}, key: "o1:confirm" });
  await send(app, "POST", "/orders", { body: orderBody("o2") }); // no key: not counted by key
  const stats = (await send(app, "GET", "/_control/stats?log=false&keys=true")).body;
  assert.deepEqual(stats.callsByKey, { "o1:create": 3, "o1:confirm": 1 });
  assert.equal(stats.calls["POST /orders"], 4);
  const plain = (await send(app, "GET", "/_control/stats?log=false")).body;
  assert.equal(plain.callsByKey, undefined);
});

Deno.test("the effect log keeps the newest entries once it is full", () => {
  const recorder = new StatsRecorder("orders", 3);
  for (let i = 1; i <= 5; i++) recorder.effect(`o${i}`, "created");
  const stats = recorder.snapshot();
  assert.deepEqual(stats.log?.map((e) => e.order_id), ["o3", "o4", "o5"]);
  assert.equal(stats.logDropped, 2);
  assert.equal(stats.totals.created, 5);
});

Deno.test("reset clears orders, stats and stored answers and restores start-up faults", async () => {
  const { app, state } = createOrdersApp({ faults: { rules: [{ path: "/orders", times: 1 }] } });
  assert.equal(
    (await send(app, "POST", "/orders", { body: orderBody("o1"), key: "k" })).status,
    503,
  );
  assert.equal(
    (await send(app, "POST", "/orders", { body: orderBody("o1"), key: "k" })).status,
    201,
  );
  assert.equal((await send(app, "POST", "/_control/reset")).status, 200);
  assert.equal(state.get("o1"), undefined);
  assert.deepEqual(state.stats().calls, {});
  assert.deepEqual(state.stats({ keys: true }).callsByKey, {});
  assert.equal(state.idempotency.size, 0);
  assert.equal(
    (await send(app, "POST", "/orders", { body: orderBody("o1"), key: "k" })).status,
    503,
  );
});

Deno.test("control requests are not counted as calls", async () => {
  const { app, state } = createOrdersApp();
  await send(app, "GET", "/_control/stats");
  await send(app, "GET", "/_control/faults");
  assert.deepEqual(state.stats().calls, {});
});
