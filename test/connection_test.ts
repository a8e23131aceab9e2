// Losing the LISTEN connection, and the database itself, is survived.
import assert from "node:assert/strict";
import { placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import { startEmbedded } from "../src/db/embedded.ts";
import { createSql } from "../src/db/client.ts";
import { createLogger } from "../src/log.ts";
import type { WakeSource } from "../machines/supervisor.ts";
import { freePort, freshDatabase, startOrchestratorProcess } from "../tooling/cluster/mod.ts";

Deno.test("after pg_terminate_backend on the LISTEN connection it re-LISTENs and a catch-up poll finds the missed event", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const wakes: WakeSource[] = [];
  // A 60 s poll: only NOTIFY or the re-LISTEN catch-up can pick the event up in time.
  const o = startInProcess(db, sandbox.urls, { POLL_INTERVAL_MS: "60000" }, {
    onWake: (s) => wakes.push(s),
  });
  try {
    await waitFor(() => o.listening(), { what: "LISTEN up" });
    const order = sampleOrder();
    // Kill the LISTEN backend, then commit the event 100 ms later: the old
    // connection is gone and the new one (retried after 250 ms) is not there
    // yet, so the notification is lost for good.
    await db.sql.begin(async (tx) => {
      const killed = await tx`
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = 'order-orchestrator-listen' AND datname = current_database()`;
      assert.equal(killed.length, 1, "one LISTEN connection");
      await tx`SELECT pg_sleep(0.1)`;
      await tx`INSERT INTO outbox (order_id, event_type, payload)
        VALUES (${order.order_id}, 'OrderPlaced', ${tx.json(order as never)})`;
    });
    await waitForStatus(db.sql, order.order_id, ["COMPLETED"], 10_000);
    assert.ok(wakes.includes("relisten"), `a relisten wake-up: ${wakes}`);
    assert.ok(!wakes.includes("poll"));
    await waitFor(() => o.listening(), { what: "LISTEN up again" });
  } finally {
    await o.stop();
    await sandbox.close();
    await db.drop();
  }
});

Deno.test("a database restart is survived: the process keeps running and resumes work", async () => {
  const dir = await Deno.makeTempDir({ prefix: "orchestrator-restart-" });
  await Deno.chmod(dir, 0o755);
  const logger = createLogger("warn");
  const port = await freePort();
  let server = await startEmbedded({ dataDir: `${dir}/data`, port, logger });
  const sandbox = await startSandbox();
  const sql = createSql(server.url, { max: 2 });
  const p = startOrchestratorProcess({
    DATABASE_URL: server.url,
    ...sandbox.env,
    POLL_INTERVAL_MS: "500",
    INSTANCE_ID: "restart-test",
  });
  try {
    await p.waitForLog((l) => l.msg === "Starting polling loop");
    const first = sampleOrder();
    await placeOrder(sql, first);
    await waitForStatus(sql, first.order_id, ["COMPLETED"]);

    await server.stop();
    // The orchestrator notices (a failed poll or a closed LISTEN) and keeps running.
    await p.waitForLog((l) => l.level >= 40, 10_000);
    server = await startEmbedded({ dataDir: `${dir}/data`, port, logger });

    const second = sampleOrder();
    await waitFor(async () => {
      try {
        await placeOrder(sql, second);
        return true;
      } catch {
        return false;
      }
    }, { what: "database back", intervalMs: 200 });
    await waitForStatus(sql, second.order_id, ["COMPLETED"], 20_000);
    await p.waitForLog((l) => l.msg === "Re-subscribed to order_events channel", 15_000);

    p.kill("SIGTERM");
    assert.equal((await p.status).code, 0, "still alive and exits cleanly");
  } finally {
    p.kill("SIGKILL");
    await p.status;
    await sql.end({ timeout: 1 });
    await sandbox.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
