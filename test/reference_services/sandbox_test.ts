import assert from "node:assert/strict";
import {
  fetchStats,
  resetService,
  setFaults,
  setStock,
  startSandbox,
} from "../../tooling/reference_services/mod.ts";

async function post(url: string, body: unknown, key?: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key) headers["Idempotency-Key"] = key;
  return await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
}

Deno.test("startSandbox runs the three services on free ports and closes them", async () => {
  const sandbox = await startSandbox();
  try {
    const ports = new Set(Object.values(sandbox.urls).map((u) => new URL(u).port));
    assert.equal(ports.size, 3);
    assert.equal(sandbox.env.ORDERS_SERVICE_URL, sandbox.urls.orders);
    const res = await post(`${sandbox.urls.orders}/orders`, {
      order_id: "o1",
      customer_id: "c1",
      items: [{ sku: "A", quantity: 1 }],
      total_cents: 5,
      currency: "USD",
    }, "o1:createOrder");
    assert.equal(res.status, 201);
    await res.body?.cancel();
    assert.equal(sandbox.orders.get("o1")?.status, "created");
  } finally {
    await sandbox.close();
  }
  await assert.rejects(fetch(sandbox.urls.orders));
});

Deno.test("the effect log orders compensation across services in one sequence", async () => {
  const sandbox = await startSandbox();
  try {
    const { orders, inventory, payments } = sandbox.urls;
    const steps: [string, string, unknown][] = [
      ["POST", `${orders}/orders`, {
        order_id: "o1",
        customer_id: "c1",
        items: [{ sku: "A", quantity: 1 }],
        total_cents: 5,
        currency: "USD",
      }],
      ["POST", `${inventory}/reservations`, { order_id: "o1", items: [{ sku: "A", quantity: 1 }] }],
      ["DELETE", `${inventory}/reservations/o1`, undefined],
      ["POST", `${orders}/orders/o1/cancellation`, { reason: "declined" }],
      ["POST", `${payments}/payments/void/decline-1`, { order_id: "o1" }],
    ];
    for (const [method, url, body] of steps) {
      const res = await fetch(url, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      assert.ok(res.ok, `${method} ${url}: ${res.status}`);
      await res.body?.cancel();
    }
    const log = [sandbox.orders, sandbox.inventory, sandbox.payments]
      .flatMap((s) => s.stats().log ?? [])
      .sort((a, b) => a.seq - b.seq)
      .map((e) => e.effect);
    assert.deepEqual(log, ["created", "reserved", "released", "cancelled", "voided"]);
  } finally {
    await sandbox.close();
  }
});

Deno.test("the HTTP client reads stats and changes faults and stock of a running service", async () => {
  const sandbox = await startSandbox();
  try {
    const { inventory } = sandbox.urls;
    await setStock(inventory, { A: 1 });
    await setFaults(inventory, { rules: [{ path: "/reservations", times: 1, retryAfter: "1" }] });
    const body = { order_id: "o1", items: [{ sku: "A", quantity: 1 }] };
    const failed = await post(`${inventory}/reservations`, body, "o1:reserveInventory");
    assert.equal(failed.status, 503);
    assert.equal(failed.headers.get("retry-after"), "1");
    await failed.body?.cancel();
    const ok = await post(`${inventory}/reservations`, body, "o1:reserveInventory");
    assert.equal(ok.status, 201);
    await ok.body?.cancel();
    const stats = await fetchStats(inventory);
    assert.deepEqual(stats.effects, { o1: { reserved: 1 } });
    assert.equal(stats.faultsInjected, 1);
    assert.equal(stats.calls["POST /reservations"], 2);
    assert.equal((await fetchStats(inventory, { log: false })).log, undefined);
    await resetService(inventory);
    assert.deepEqual((await fetchStats(inventory)).effects, {});
    await assert.rejects(setFaults(inventory, { errorRate: 7 }), /422/);
  } finally {
    await sandbox.close();
  }
});

Deno.test("closing the sandbox does not wait for an injected hang", async () => {
  const sandbox = await startSandbox({ orders: { faults: { rules: [{ delayMs: 60_000 }] } } });
  const hanging = fetch(`${sandbox.urls.orders}/orders/x/confirmation`, { method: "POST" })
    .then((r) => r.body?.cancel(), () => undefined);
  await new Promise((r) => setTimeout(r, 50));
  const started = performance.now();
  await sandbox.close();
  await hanging;
  assert.ok(performance.now() - started < 5_000);
});
