import assert from "node:assert/strict";
import { IdempotencyStore } from "../../tooling/reference_services/idempotency.ts";
import { createInventoryApp } from "../../tooling/reference_services/inventory.ts";
import { createOrdersApp } from "../../tooling/reference_services/orders.ts";
import { createPaymentsApp } from "../../tooling/reference_services/payments.ts";
import { orderBody, send } from "./_helpers.ts";

Deno.test("the same key gets the same status and body, and the effect happens once", async () => {
  const { app, state } = createPaymentsApp();
  const body = { order_id: "o1", amount_cents: 100, currency: "USD" };
  const first = await send(app, "POST", "/payments/capture/a1", { body, key: "o1:capturePayment" });
  const second = await send(app, "POST", "/payments/capture/a1", {
    body,
    key: "o1:capturePayment",
  });
  assert.equal(first.status, 200);
  assert.equal(second.status, 200);
  assert.deepEqual(second.body, first.body);
  assert.equal(second.headers.get("Idempotent-Replayed"), "true");
  assert.equal(first.headers.get("Idempotent-Replayed"), null);
  const stats = state.stats();
  assert.equal(stats.totals.captured, 1);
  assert.equal(stats.idempotentReplays, 1);
  assert.equal(stats.calls["POST /payments/capture/:authorization_id"], 2);
});

Deno.test("a business rejection is stored and replayed like a success", async () => {
  const { app, state } = createInventoryApp({ stock: { A: 0 } });
  const body = { order_id: "o1", items: [{ sku: "A", quantity: 1 }] };
  assert.equal((await send(app, "POST", "/reservations", { body, key: "k" })).status, 409);
  state.setStock({ A: 5 });
  const again = await send(app, "POST", "/reservations", { body, key: "k" });
  assert.equal(again.status, 409);
  assert.equal(again.body.error, "insufficient_stock");
  assert.equal(state.available("A"), 5);
});

Deno.test("a malformed request is not stored, so a corrected retry with the key does the work", async () => {
  const { app, state } = createOrdersApp();
  assert.equal((await send(app, "POST", "/orders", { rawBody: "{", key: "k" })).status, 400);
  const ok = await send(app, "POST", "/orders", { body: orderBody("o1"), key: "k" });
  assert.equal(ok.status, 201);
  assert.equal(state.stats().totals.created, 1);
});

Deno.test("reusing a key for a different request is a 422 and changes nothing", async () => {
  const { app, state } = createOrdersApp();
  await send(app, "POST", "/orders", { body: orderBody("o1"), key: "k" });
  const res = await send(app, "POST", "/orders", { body: orderBody("o2"), key: "k" });
  assert.equal(res.status, 422);
  assert.equal(res.body.error, "idempotency_key_reused");
  assert.equal(state.get("o2"), undefined);
});

Deno.test("key order and whitespace in the body do not make a different request", async () => {
  const { app, state } = createOrdersApp();
  await send(app, "POST", "/orders", { body: orderBody("o1"), key: "k" });
  const reordered = JSON.stringify(Object.fromEntries(Object.entries(orderBody("o1")).reverse()));
  const res = await send(app, "POST", "/orders", { rawBody: ` ${reordered} `, key: "k" });
  assert.equal(res.status, 201);
  assert.equal(state.stats().idempotentReplays, 1);
});

Deno.test("concurrent requests with the same key apply the effect once", async () => {
  // processingMs puts an await between the check and the effect: without the lock both would apply.
  const { app, state } = createInventoryApp({ stock: { A: 100 }, processingMs: 20 });
  const body = { order_id: "o1", items: [{ sku: "A", quantity: 1 }] };
  const answers = await Promise.all(
    Array.from({ length: 5 }, () => send(app, "POST", "/reservations", { body, key: "k" })),
  );
  const ids = new Set(answers.map((a) => a.body.reservation_id));
  assert.deepEqual(answers.map((a) => a.status), [201, 201, 201, 201, 201]);
  assert.equal(ids.size, 1);
  assert.equal(state.available("A"), 99);
  assert.equal(state.stats().totals.reserved, 1);
  assert.equal(state.stats().idempotentReplays, 4);
});

Deno.test("the per-key lock serialises holders of one key and not of different keys", async () => {
  const store = new IdempotencyStore();
  const events: string[] = [];
  const task = (name: string, ms: number) => async () => {
    events.push(`${name}:start`);
    await new Promise((r) => setTimeout(r, ms));
    events.push(`${name}:end`);
  };
  await Promise.all([
    store.withLock("k", task("a", 20)),
    store.withLock("k", task("b", 1)),
    store.withLock("other", task("c", 1)),
  ]);
  assert.ok(events.indexOf("a:end") < events.indexOf("b:start"), events.join(","));
  assert.ok(events.indexOf("c:end") < events.indexOf("a:end"), events.join(","));
});

Deno.test("a failing lock holder does not block the next one", async () => {
  const store = new IdempotencyStore();
  await assert.rejects(store.withLock("k", () => Promise.reject(new Error("boom"))));
  assert.equal(await store.withLock("k", () => Promise.resolve(7)), 7);
});

Deno.test("requests without an Idempotency-Key are not deduplicated", async () => {
  const { app, state } = createPaymentsApp();
  await send(app, "POST", "/payments/void/a1", { body: { order_id: "o1" } });
  await send(app, "POST", "/payments/void/a2", { body: { order_id: "o1" } });
  assert.equal(state.stats().totals.voided, 2);
  assert.equal(state.idempotency.size, 0);
});

Deno.test("an empty Idempotency-Key is a 400", async () => {
  const { app } = createPaymentsApp();
  const res = await send(app, "POST", "/payments/void/a1", { body: { order_id: "o1" }, key: "" });
  assert.equal(res.status, 400);
});
