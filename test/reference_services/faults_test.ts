import assert from "node:assert/strict";
import { FaultInjector } from "../../tooling/reference_services/faults.ts";
import { createInventoryApp } from "../../tooling/reference_services/inventory.ts";
import { createOrdersApp } from "../../tooling/reference_services/orders.ts";
import { createPaymentsApp } from "../../tooling/reference_services/payments.ts";
import { orderBody, send } from "./_helpers.ts";

Deno.test("a rule with times N fails N matching requests, then lets them through", async () => {
  const { app, state } = createOrdersApp({
    faults: { rules: [{ method: "POST", path: "/orders", times: 2 }] },
  });
  const statuses = [];
  for (let i = 0; i < 3; i++) {
    statuses.push((await send(app, "POST", "/orders", { body: orderBody("o1"), key: "k" })).status);
  }
  assert.deepEqual(statuses, [503, 503, 201]);
  const stats = state.stats();
  assert.equal(stats.faultsInjected, 2);
  assert.equal(stats.calls["POST /orders"], 3);
  assert.equal(stats.totals.created, 1);
});

Deno.test("an injected fault is not stored: the retry with the same key does the real work", async () => {
  const { app, state } = createPaymentsApp({ faults: { rules: [{ times: 1 }] } });
  const body = { order_id: "o1", amount_cents: 1, currency: "USD" };
  const failed = await send(app, "POST", "/payments/capture/a", { body, key: "k" });
  assert.equal(failed.status, 503);
  assert.deepEqual(failed.body, { error: "injected_fault" });
  assert.equal(state.stats().totals.captured, 0);
  const retried = await send(app, "POST", "/payments/capture/a", { body, key: "k" });
  assert.equal(retried.status, 200);
  assert.equal(retried.headers.get("Idempotent-Replayed"), null);
  assert.equal(state.stats().totals.captured, 1);
});

Deno.test("an afterEffect fault applies the effect once and the same-key retry replays success", async () => {
  const { app, state } = createInventoryApp({
    stock: { A: 10 },
    faults: { rules: [{ path: "/reservations", afterEffect: true, times: 1 }] },
  });
  const body = { order_id: "o1", items: [{ sku: "A", quantity: 2 }] };
  const lost = await send(app, "POST", "/reservations", { body, key: "o1:reserveInventory" });
  assert.equal(lost.status, 503);
  assert.equal(lost.body.after_effect, true);
  assert.equal(lost.headers.get("Idempotent-Replayed"), null);
  assert.equal(state.available("A"), 8);
  const retry = await send(app, "POST", "/reservations", { body, key: "o1:reserveInventory" });
  assert.equal(retry.status, 201);
  assert.equal(retry.headers.get("Idempotent-Replayed"), "true");
  assert.equal(state.available("A"), 8);
  assert.deepEqual(state.stats().effects.o1, { reserved: 1 });
});

Deno.test("errorRate 1 answers 503 to every request before doing anything", async () => {
  const { app, state } = createOrdersApp({ faults: { errorRate: 1 } });
  for (let i = 0; i < 3; i++) {
    assert.equal((await send(app, "POST", "/orders", { body: orderBody(`o${i}`) })).status, 503);
  }
  assert.equal(state.stats().totals.created, 0);
  assert.equal(state.stats().faultsInjected, 3);
});

Deno.test("errorRate uses the injected random function", async () => {
  const rolls = [0.1, 0.9];
  const { app } = createOrdersApp({
    faults: { errorRate: 0.5 },
    random: () => rolls.shift() ?? 0.9,
  });
  assert.equal((await send(app, "POST", "/orders", { body: orderBody("o1") })).status, 503);
  assert.equal((await send(app, "POST", "/orders", { body: orderBody("o1") })).status, 201);
});

Deno.test("a rule's retryAfter and status are on the injected answer", async () => {
  const { app } = createPaymentsApp({
    faults: { rules: [{ status: 429, retryAfter: "2", times: 1 }] },
  });
  const res = await send(app, "POST", "/payments/void/a", { body: { order_id: "o1" } });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("Retry-After"), "2");
});

Deno.test("a rule for an order id matches its path segment or its body's order_id only", async () => {
  const { app, state } = createOrdersApp({
    faults: { rules: [{ orderId: "bad", times: 10 }] },
  });
  assert.equal((await send(app, "POST", "/orders", { body: orderBody("good") })).status, 201);
  assert.equal((await send(app, "POST", "/orders", { body: orderBody("bad") })).status, 503);
  const path = await send(app, "POST", "/orders/bad/cancellation", { body: { reason: "x" } });
  assert.equal(path.status, 503);
  assert.equal(state.stats().faultsInjected, 2);
});

Deno.test("a rule's method must match", async () => {
  const { app } = createInventoryApp({ faults: { rules: [{ method: "delete", times: 1 }] } });
  const body = { order_id: "o1", items: [{ sku: "A", quantity: 1 }] };
  assert.equal((await send(app, "POST", "/reservations", { body })).status, 201);
  assert.equal((await send(app, "DELETE", "/reservations/o1")).status, 503);
  assert.equal((await send(app, "DELETE", "/reservations/o1")).status, 200);
});

Deno.test("delayMs hangs before the injected answer", async () => {
  const { app } = createOrdersApp({ faults: { rules: [{ delayMs: 60, times: 1 }] } });
  const started = performance.now();
  const res = await send(app, "POST", "/orders", { body: orderBody("o1") });
  assert.equal(res.status, 503);
  assert.ok(performance.now() - started >= 55);
});

Deno.test("latencyMs delays every request, and close cuts pending delays short", async () => {
  const { app, state } = createOrdersApp({ faults: { latencyMs: 40 } });
  let started = performance.now();
  assert.equal((await send(app, "POST", "/orders", { body: orderBody("o1") })).status, 201);
  assert.ok(performance.now() - started >= 35);
  state.setFaults({ latencyMs: 60_000 });
  started = performance.now();
  const pending = send(app, "POST", "/orders", { body: orderBody("o2") });
  state.close();
  assert.equal((await pending).status, 201);
  assert.ok(performance.now() - started < 5_000);
});

Deno.test("the fault configuration can be replaced at run time through /_control/faults", async () => {
  const { app, state } = createOrdersApp();
  const set = await send(app, "POST", "/_control/faults", {
    body: { rules: [{ path: "/orders", times: 1 }] },
  });
  assert.equal(set.status, 200);
  assert.equal((await send(app, "POST", "/orders", { body: orderBody("o1") })).status, 503);
  const current = await send(app, "GET", "/_control/faults");
  assert.equal(current.body.rules[0].times, 0);
  assert.equal(state.stats().calls["POST /orders"], 1);
});

Deno.test("a malformed fault configuration is a 422 and keeps the old one", async () => {
  const { app, state } = createOrdersApp({ faults: { errorRate: 0.25 } });
  const res = await send(app, "POST", "/_control/faults", { body: { errorRate: 2 } });
  assert.equal(res.status, 422);
  const typo = await send(app, "POST", "/_control/faults", {
    body: { rules: [{ order_id: "x" }] },
  });
  assert.equal(typo.status, 422);
  assert.equal(state.faults.config.errorRate, 0.25);
});

Deno.test("the control surface itself never gets faults", async () => {
  const { app } = createOrdersApp({ faults: { errorRate: 1 } });
  assert.equal((await send(app, "GET", "/_control/stats")).status, 200);
});

Deno.test("a rule without times fails forever", () => {
  const faults = new FaultInjector({ rules: [{ path: "/x" }] });
  for (let i = 0; i < 100; i++) assert.ok(faults.take({ method: "GET", path: "/x" }));
  assert.equal(faults.take({ method: "GET", path: "/y" }), undefined);
});

Deno.test("rules indexed by order id keep configuration order, and stop asking for bodies once spent", () => {
  const faults = new FaultInjector({
    rules: [
      { path: "/reservations", orderId: "o-1", status: 500, times: 1 },
      { path: "/reservations", status: 502, times: 1 },
      { path: "/reservations", orderId: "o-1", status: 503, times: 1 },
      ...Array.from({ length: 10_000 }, (_, i) => ({ orderId: `other-${i}`, times: 1 })),
    ],
  });
  const req = (bodyOrderId?: string) => ({ method: "POST", path: "/reservations", bodyOrderId });
  assert.equal(faults.take(req("o-1"))?.status, 500, "its own rule first, as configured");
  assert.equal(faults.take(req("o-1"))?.status, 502, "then the generic one, which comes before");
  assert.equal(faults.take(req("o-2")), undefined, "another order: no rule of its own left");
  assert.equal(faults.take(req("o-1"))?.status, 503);
  assert.equal(
    faults.take({ method: "DELETE", path: "/reservations/other-7" })?.orderId,
    "other-7",
  );
  assert.equal(faults.wantsBodyOrderId, true);
  const spent = new FaultInjector({ rules: [{ orderId: "x", times: 1 }] });
  spent.take({ method: "GET", path: "/x" });
  assert.equal(spent.wantsBodyOrderId, false, "no rule left needs a body's order id");
});
