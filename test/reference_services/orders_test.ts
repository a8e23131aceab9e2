import assert from "node:assert/strict";
import { createOrdersApp } from "../../tooling/reference_services/orders.ts";
import { orderBody, send } from "./_helpers.ts";

Deno.test("creating an order answers 201 with status created and records one effect", async () => {
  const { app, state } = createOrdersApp();
  const res = await send(app, "POST", "/orders", { body: orderBody("o1"), key: "o1:createOrder" });
  assert.equal(res.status, 201);
  assert.deepEqual(res.body, { order_id: "o1", status: "created" });
  assert.equal(state.get("o1")?.status, "created");
  assert.deepEqual(state.stats().effects, { o1: { created: 1 } });
});

Deno.test("an existing order id under another idempotency key is a 409 conflict", async () => {
  const { app, state } = createOrdersApp();
  await send(app, "POST", "/orders", { body: orderBody("o1"), key: "k1" });
  const other = await send(app, "POST", "/orders", { body: orderBody("o1"), key: "k2" });
  assert.equal(other.status, 409);
  assert.equal(other.body.error, "order_exists");
  const none = await send(app, "POST", "/orders", { body: orderBody("o1") });
  assert.equal(none.status, 409);
  assert.equal(state.stats().totals.created, 1);
});

Deno.test("a customer id starting with reject is refused with 422 and no effect", async () => {
  const { app, state } = createOrdersApp();
  const res = await send(app, "POST", "/orders", {
    body: orderBody("o1", { customer_id: "reject-me" }),
  });
  assert.equal(res.status, 422);
  assert.equal(res.body.error, "customer_rejected");
  assert.equal(state.get("o1"), undefined);
  assert.equal(state.stats().totals.created, 0);
});

Deno.test("an invalid order body is a 422 naming the bad fields", async () => {
  const { app } = createOrdersApp();
  const res = await send(app, "POST", "/orders", { body: { order_id: "o1", items: [] } });
  assert.equal(res.status, 422);
  assert.equal(res.body.error, "invalid_body");
  const paths = res.body.issues.map((i: { path: string }) => i.path);
  for (const field of ["customer_id", "items", "total_cents", "currency"]) {
    assert.ok(paths.includes(field), `missing issue for ${field}: ${paths}`);
  }
});

Deno.test("a total that disagrees with the priced lines is a 422", async () => {
  const { app } = createOrdersApp();
  const res = await send(app, "POST", "/orders", { body: orderBody("o1", { total_cents: 999 }) });
  assert.equal(res.status, 422);
  assert.equal(res.body.error, "total_mismatch");
});

Deno.test("malformed JSON is a 400 JSON error, not a 500", async () => {
  const { app } = createOrdersApp();
  const res = await send(app, "POST", "/orders", { rawBody: "{not json" });
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { error: "invalid_json" });
});

Deno.test("an unknown route is a 404 JSON error", async () => {
  const { app, state } = createOrdersApp();
  const res = await send(app, "GET", "/nope");
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { error: "not_found" });
  assert.equal(state.stats().calls["GET (unmatched)"], 1);
});

Deno.test("confirming a created order answers 200 confirmed", async () => {
  const { app, state } = createOrdersApp();
  await send(app, "POST", "/orders", { body: orderBody("o1") });
  const res = await send(app, "POST", "/orders/o1/confirmation", { body: {} });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { order_id: "o1", status: "confirmed" });
  assert.equal(state.recorder.count("o1", "confirmed"), 1);
});

Deno.test("confirming an unknown, cancelled or confirmed order is a 409", async () => {
  const { app, state } = createOrdersApp();
  assert.equal((await send(app, "POST", "/orders/nope/confirmation", { body: {} })).status, 409);
  await send(app, "POST", "/orders", { body: orderBody("c1") });
  await send(app, "POST", "/orders/c1/cancellation", { body: { reason: "test" } });
  const cancelled = await send(app, "POST", "/orders/c1/confirmation", { body: {} });
  assert.equal(cancelled.status, 409);
  assert.equal(cancelled.body.status, "cancelled");
  await send(app, "POST", "/orders", { body: orderBody("d1") });
  await send(app, "POST", "/orders/d1/confirmation", { body: {} });
  assert.equal((await send(app, "POST", "/orders/d1/confirmation", { body: {} })).status, 409);
  assert.equal(state.stats().totals.confirmed, 1);
});

Deno.test("cancelling an order answers 200 once and again without a second effect", async () => {
  const { app, state } = createOrdersApp();
  await send(app, "POST", "/orders", { body: orderBody("o1") });
  const first = await send(app, "POST", "/orders/o1/cancellation", { body: { reason: "oos" } });
  assert.equal(first.status, 200);
  assert.deepEqual(first.body, { order_id: "o1", status: "cancelled" });
  const again = await send(app, "POST", "/orders/o1/cancellation", { body: { reason: "oos" } });
  assert.equal(again.status, 200);
  assert.equal(state.get("o1")?.cancel_reason, "oos");
  assert.equal(state.recorder.count("o1", "cancelled"), 1);
});

Deno.test("cancelling an unknown order is a 404 and a confirmed one a 409", async () => {
  const { app } = createOrdersApp();
  const unknown = await send(app, "POST", "/orders/nope/cancellation", { body: { reason: "x" } });
  assert.equal(unknown.status, 404);
  await send(app, "POST", "/orders", { body: orderBody("o1") });
  await send(app, "POST", "/orders/o1/confirmation", { body: {} });
  const confirmed = await send(app, "POST", "/orders/o1/cancellation", { body: { reason: "x" } });
  assert.equal(confirmed.status, 409);
});

Deno.test("a cancellation without a reason is a 422", async () => {
  const { app } = createOrdersApp();
  await send(app, "POST", "/orders", { body: orderBody("o1") });
  assert.equal((await send(app, "POST", "/orders/o1/cancellation", { body: {} })).status, 422);
});
