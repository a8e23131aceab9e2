// The admin API over a real socket, served by a real orchestrator process
// (the `start` task's command and permissions), ADMIN_PORT=0.
import assert from "node:assert/strict";
import { startSandbox } from "../../tooling/reference_services/mod.ts";
import { placeOrder, sampleOrder, waitForStatus } from "../helpers/orders.ts";
import { promtoolCheck } from "./_promtool.ts";
import { freshDatabase, startOrchestratorProcess } from "../../tooling/cluster/mod.ts";

const TOKEN = "process-test-token-0123456789";

Deno.test("a running orchestrator serves /healthz, /readyz, /sagas and /metrics, token-protected", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const p = startOrchestratorProcess({
    DATABASE_URL: db.url,
    ...sandbox.env,
    ADMIN_PORT: "0",
    ADMIN_TOKEN: TOKEN,
    INSTANCE_ID: "admin-process-test",
  });
  try {
    const line = await p.waitForLog((l) => l.msg === "Admin API listening");
    const base = String(line.url);
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    await p.waitForLog((l) => l.msg === "Subscribed to order_events channel");
    const auth = { authorization: `Bearer ${TOKEN}` };
    const get = async (path: string, headers: Record<string, string> = auth) => {
      const res = await fetch(base + path, { headers });
      return { res, text: await res.text() };
    };

    const health = await get("/healthz", {});
    assert.equal(health.res.status, 200);
    assert.deepEqual(JSON.parse(health.text), { status: "ok" });
    const ready = await get("/readyz", {});
    assert.equal(ready.res.status, 200);
    const readiness = JSON.parse(ready.text);
    assert.deepEqual(
      { ...readiness, watchdog: undefined },
      { status: "ready", database: "ok", listen: true, watchdog: undefined },
    );
    assert.equal(readiness.watchdog.alive, true, "the watchdog sees both loops progressing");

    const denied = await get("/sagas", {});
    assert.equal(denied.res.status, 401);
    assert.deepEqual(JSON.parse(denied.text), { error: "unauthorized" });

    const order = sampleOrder();
    await placeOrder(db.sql, order);
    await waitForStatus(db.sql, order.order_id, ["COMPLETED"]);

    const list = await get("/sagas?status=COMPLETED");
    assert.equal(list.res.status, 200);
    const body = JSON.parse(list.text);
    assert.equal(body.next_cursor, null);
    assert.deepEqual(body.items.map((i: { order_id: string }) => i.order_id), [order.order_id]);

    const one = await get(`/sagas/${order.order_id}`);
    assert.equal(one.res.status, 200);
    assert.equal(JSON.parse(one.text).status, "COMPLETED");

    const metrics = await get("/metrics");
    assert.equal(metrics.res.status, 200);
    await promtoolCheck(metrics.text);
    assert.match(metrics.text, /^orchestrator_sagas_started_total 1$/m);
    assert.match(metrics.text, /^orchestrator_sagas_finished_total\{status="COMPLETED"\} 1$/m);
    assert.match(metrics.text, /^orchestrator_outbox_pending 0$/m);

    // The token never reaches the logs.
    const logged = JSON.stringify(p.logs) + p.other.join("\n");
    assert.ok(!logged.includes(TOKEN), "ADMIN_TOKEN must not be logged");
  } finally {
    p.kill("SIGTERM");
    const status = await p.status;
    await sandbox.close();
    await db.drop();
    assert.equal(status.code, 0);
  }
});
