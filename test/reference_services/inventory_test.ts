import assert from "node:assert/strict";
import { createInventoryApp } from "../../tooling/reference_services/inventory.ts";
import { send } from "./_helpers.ts";

const reserve = (orderId: string, items: { sku: string; quantity: number }[]) => ({
  body: { order_id: orderId, items },
});

Deno.test("reserving stock answers 201 with a reservation id and lowers the stock", async () => {
  const { app, state } = createInventoryApp({ stock: { A: 10 } });
  const res = await send(app, "POST", "/reservations", reserve("o1", [{ sku: "A", quantity: 3 }]));
  assert.equal(res.status, 201);
  assert.match(res.body.reservation_id, /^rsv_/);
  assert.equal(state.available("A"), 7);
  assert.equal(state.recorder.count("o1", "reserved"), 1);
});

Deno.test("a reservation is all or nothing: one short line is a 409 and nothing is taken", async () => {
  const { app, state } = createInventoryApp({ stock: { A: 10, B: 1 } });
  const res = await send(
    app,
    "POST",
    "/reservations",
    reserve("o1", [{ sku: "A", quantity: 3 }, { sku: "B", quantity: 2 }]),
  );
  assert.equal(res.status, 409);
  assert.equal(res.body.error, "insufficient_stock");
  assert.deepEqual(res.body.skus, ["B"]);
  assert.equal(state.available("A"), 10);
  assert.equal(state.available("B"), 1);
  assert.equal(state.stats().totals.reserved, 0);
});

Deno.test("duplicate lines of one SKU are summed against its stock", async () => {
  const { app } = createInventoryApp({ stock: { A: 3 } });
  const res = await send(
    app,
    "POST",
    "/reservations",
    reserve("o1", [{ sku: "A", quantity: 2 }, { sku: "A", quantity: 2 }]),
  );
  assert.equal(res.status, 409);
});

Deno.test("unknown SKUs have the default stock and OUT-OF-STOCK SKUs have none", async () => {
  const { app, state } = createInventoryApp({ defaultStock: 5 });
  assert.equal(state.available("WHATEVER"), 5);
  assert.equal(state.available("OUT-OF-STOCK-1"), 0);
  const res = await send(
    app,
    "POST",
    "/reservations",
    reserve("o1", [{ sku: "OUT-OF-STOCK-1", quantity: 1 }]),
  );
  assert.equal(res.status, 409);
  assert.equal(createInventoryApp().state.available("X"), 1_000_000);
});

Deno.test("releasing a reservation answers 200 and restores the stock", async () => {
  const { app, state } = createInventoryApp({ stock: { A: 10, B: 4 } });
  await send(
    app,
    "POST",
    "/reservations",
    reserve("o1", [{ sku: "A", quantity: 3 }, { sku: "B", quantity: 4 }]),
  );
  assert.equal(state.available("B"), 0);
  const res = await send(app, "DELETE", "/reservations/o1");
  assert.equal(res.status, 200);
  assert.equal(res.body.status, "released");
  assert.equal(state.available("A"), 10);
  assert.equal(state.available("B"), 4);
  assert.deepEqual(state.stats().effects.o1, { reserved: 1, released: 1 });
});

Deno.test("releasing when nothing is reserved is a 404 with no effect", async () => {
  const { app, state } = createInventoryApp();
  const res = await send(app, "DELETE", "/reservations/nope");
  assert.equal(res.status, 404);
  assert.equal(res.body.error, "reservation_not_found");
  await send(app, "POST", "/reservations", reserve("o1", [{ sku: "A", quantity: 1 }]));
  await send(app, "DELETE", "/reservations/o1");
  assert.equal((await send(app, "DELETE", "/reservations/o1")).status, 404);
  assert.equal(state.stats().totals.released, 1);
});

Deno.test("a second reservation for the same order under another key is a 409", async () => {
  const { app, state } = createInventoryApp({ stock: { A: 10 } });
  await send(app, "POST", "/reservations", {
    ...reserve("o1", [{ sku: "A", quantity: 1 }]),
    key: "k1",
  });
  const res = await send(app, "POST", "/reservations", {
    ...reserve("o1", [{ sku: "A", quantity: 1 }]),
    key: "k2",
  });
  assert.equal(res.status, 409);
  assert.equal(res.body.error, "reservation_exists");
  assert.equal(state.available("A"), 9);
});

Deno.test("stock levels can be set through /_control/stock", async () => {
  const { app, state } = createInventoryApp();
  const res = await send(app, "POST", "/_control/stock", { body: { A: 2, B: 0 } });
  assert.equal(res.status, 200);
  assert.equal(state.available("A"), 2);
  assert.equal((await send(app, "GET", "/_control/stock")).body.B, 0);
  const bad = await send(app, "POST", "/_control/stock", { body: { A: -1 } });
  assert.equal(bad.status, 422);
});

Deno.test("an invalid reservation body is a 422", async () => {
  const { app } = createInventoryApp();
  const res = await send(app, "POST", "/reservations", {
    body: { order_id: "o1", items: [{ sku: "A", quantity: 0 }] },
  });
  assert.equal(res.status, 422);
});
