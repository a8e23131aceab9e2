// The Stately inspector integration against a local WebSocket server standing
// in for the relay: (a) a live orchestrator streams the supervisor and its
// sagas, with no customer data in any frame; (b) a finished saga's history
// replays (pure, and through `deno task replay`) to the state the ledger holds.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { loadConfig } from "../src/config.ts";
import { createOrchestrator } from "../src/orchestrator.ts";
import { silentLogger } from "../src/log.ts";
import { createInspection, sagaSessionId, withInspection } from "../src/inspect/mod.ts";
import { loadSagaForReplay } from "../src/inspect/history_source.ts";
import { inputFrom, replayFrames } from "../src/inspect/replay.ts";
import { REDACTED, sanitizeContext, sanitizeEvent, scrub } from "../src/inspect/sanitize.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import type { SagaHooks } from "../src/engine/saga_runner.ts";
import { sagaMachine, sagaVersion } from "../machines/registry.ts";
import { ledger, placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { type FreshDatabase, freshDatabase } from "../tooling/cluster/mod.ts";

type Frame = {
  type: string;
  sessionId: string;
  name?: string;
  parentId?: string;
  definition?: string;
  snapshot?: { status?: string; value?: unknown; context?: Record<string, unknown> };
  event?: { type: string };
};

/** A loopback WebSocket server that keeps every frame it receives, in order. */
async function frameSink() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((resolve) => wss.once("listening", resolve));
  const raw: string[] = [];
  // ws ships no types; these are the two calls used.
  type Socket = { on(event: "message", listener: (data: { toString(): string }) => void): void };
  wss.on("connection", (ws: Socket) => ws.on("message", (data) => raw.push(data.toString())));
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    raw,
    frames: () => raw.map((text) => JSON.parse(text) as Frame),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** An order whose customer data is easy to search for in the frames. */
function privateOrder(authorization = `auth-secret-${crypto.randomUUID().slice(0, 8)}`) {
  const tag = crypto.randomUUID().slice(0, 8);
  return sampleOrder({
    customer_id: `customer-secret-${tag}`,
    payment_authorization_id: authorization,
    items: [
      { sku: `SKU-SECRET-A-${tag}`, quantity: 1, unit_price_cents: 900 },
      { sku: `SKU-SECRET-B-${tag}`, quantity: 2, unit_price_cents: 150 },
    ],
  });
}

function startOrchestrator(
  db: FreshDatabase,
  urls: { orders: string; inventory: string; payments: string },
  inspection?: ReturnType<typeof createInspection>,
  hooks: SagaHooks = {},
) {
  const config = loadConfig({
    DATABASE_URL: db.url,
    ORDERS_SERVICE_URL: urls.orders,
    INVENTORY_SERVICE_URL: urls.inventory,
    PAYMENTS_SERVICE_URL: urls.payments,
    POLL_INTERVAL_MS: "1000",
    RETRY_BASE_MS: "20",
    RETRY_MAX_MS: "100",
    LEASE_MS: "3000",
    INSTANCE_ID: `inspect-${crypto.randomUUID().slice(0, 6)}`,
  }, { hostname: "test", pid: Deno.pid });
  const orchestrator = createOrchestrator({
    config,
    sql: db.sql,
    databaseUrl: db.url,
    logger: silentLogger,
    hooks: inspection ? withInspection(hooks, inspection) : hooks,
    inspect: inspection?.inspect,
  });
  orchestrator.start();
  return orchestrator;
}

Deno.test({
  name: "a live orchestrator streams the supervisor and its sagas without customer data",
}, async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const sink = await frameSink();
  const inspection = createInspection({ url: sink.url, logger: silentLogger });
  // The inspection joins other hooks (metrics, in production) without replacing them.
  const seen: string[] = [];
  const orchestrator = startOrchestrator(db, sandbox.urls, inspection, {
    onTransition: (info) => seen.push(info.name),
  });
  try {
    const order = privateOrder();
    await placeOrder(db.sql, order);
    await waitForStatus(db.sql, order.order_id, ["COMPLETED"]);
    const saga = sagaSessionId(order.order_id);
    await waitFor(
      () => sink.frames().some((f) => f.sessionId === saga && f.snapshot?.status === "done"),
      { what: "the saga's final snapshot frame" },
    );
    const frames = sink.frames();
    assert.deepEqual(seen, [
      "createOrder:ok",
      "reserveInventory:ok",
      "capturePayment:attempt",
      "capturePayment:ok",
      "confirmOrder:ok",
    ]);

    const supervisor = frames.find((f) => f.type === "@xstate.actor" && f.name === "supervisor");
    assert.ok(supervisor, "the supervisor is registered");
    assert.equal(supervisor.parentId, undefined);
    assert.ok(
      frames.some((f) => f.type === "@xstate.snapshot" && f.sessionId === supervisor.sessionId),
    );

    const registered = frames.filter((f) => f.type === "@xstate.actor" && f.sessionId === saga);
    assert.equal(registered.length, 1, "the saga is registered once");
    assert.equal(registered[0]!.parentId, supervisor.sessionId, "as a child of the supervisor");
    assert.match(registered[0]!.definition ?? "", /"capturingPayment"/, "with its definition");
    const snapshots = frames.filter((f) => f.type === "@xstate.snapshot" && f.sessionId === saga);
    assert.deepEqual(snapshots.map((f) => f.snapshot?.value), [
      { reservingInventory: "calling" },
      { capturingPayment: "calling" },
      { capturingPayment: "calling" },
      { confirmingOrder: "calling" },
      "completed",
    ]);
    assert.deepEqual(snapshots.map((f) => f.event?.type), [
      "xstate.done.actor.createOrder",
      "xstate.done.actor.reserveInventory",
      "ATTEMPT",
      "xstate.done.actor.capturePayment",
      "xstate.done.actor.confirmOrder",
    ]);
    assert.deepEqual(snapshots.at(-1)?.snapshot?.context?.order, {
      orderId: order.order_id,
      totalCents: order.total_cents,
      currency: order.currency,
    });
    assert.ok(frames.some((f) => f.type === "@xstate.event" && f.sessionId === saga));

    const everything = sink.raw.join("\n");
    for (
      const secret of [
        order.customer_id,
        order.payment_authorization_id,
        ...order.items.map((i) => i.sku),
      ]
    ) {
      assert.ok(!everything.includes(secret), `"${secret}" must not reach the inspector`);
    }
  } finally {
    await orchestrator.stop();
    await inspection.stop();
    await sink.close();
    await sandbox.close();
    await db.drop();
  }
});

Deno.test({
  name: "a finished saga replays from its history to the state the ledger holds",
}, async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const sink = await frameSink();
  const orchestrator = startOrchestrator(db, sandbox.urls);
  try {
    const completed = privateOrder();
    const declined = privateOrder(`decline-secret-${crypto.randomUUID().slice(0, 8)}`);
    for (const o of [completed, declined]) await placeOrder(db.sql, o);
    await waitForStatus(db.sql, completed.order_id, ["COMPLETED"]);
    await waitForStatus(db.sql, declined.order_id, ["CANCELLED"]);

    // Pure: frames recomputed with transition() end where the ledger ends.
    for (const o of [completed, declined]) {
      const saga = (await loadSagaForReplay(db.sql, o.order_id))!;
      const replay = replayFrames(
        saga.history,
        sagaMachine(saga.machine_version)!,
        inputFrom(sagaVersion(saga.machine_version)!.definition, saga.snapshot),
      );
      assert.deepEqual(replay.divergences, []);
      const last = replay.frames.at(-1)!;
      assert.equal(last.type, "@xstate.snapshot");
      const row = (await ledger(db.sql, o.order_id))!;
      assert.deepEqual(last.type === "@xstate.snapshot" && last.snapshot.value, row.snapshot.value);
      assert.equal(last.type === "@xstate.snapshot" && last.snapshot.status, "done");
      assert.deepEqual(replay.final.context, row.snapshot.context);
      assert.equal(replay.frames[0]!.type, "@xstate.actor");
    }

    // The CLI sends them to the relay, sanitised.
    const cmd = new Deno.Command(Deno.execPath(), {
      args: ["task", "replay", declined.order_id, "--delay-ms", "5"],
      env: { DATABASE_URL: db.url, INSPECT_URL: sink.url },
      stdout: "piped",
      stderr: "piped",
    });
    const out = await cmd.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.match(
      new TextDecoder().decode(out.stdout),
      /Replayed .* ended in cancelled \(CANCELLED\)/,
    );
    const session = sagaSessionId(declined.order_id);
    await waitFor(() =>
      sink.frames().some((f) => f.sessionId === session && f.snapshot?.status === "done")
    );
    const frames = sink.frames().filter((f) => f.sessionId === session);
    assert.equal(frames[0]?.type, "@xstate.actor");
    assert.equal(frames.at(-1)?.snapshot?.value, "cancelled");
    assert.ok(
      frames.some((f) =>
        f.snapshot?.value && JSON.stringify(f.snapshot.value).includes("voidingPayment")
      ),
    );
    const text = sink.raw.join("\n");
    for (
      const secret of [
        declined.customer_id,
        declined.payment_authorization_id,
        declined.items[0]!.sku,
      ]
    ) {
      assert.ok(!text.includes(secret), `"${secret}" must not reach the inspector`);
    }
  } finally {
    await orchestrator.stop();
    await sink.close();
    await sandbox.close();
    await db.drop();
  }
});

Deno.test("sanitisers keep an order's id and total, drop bodies and inputs, and redact by value", () => {
  const context = {
    order: {
      orderId: "o-1",
      customerId: "c-1",
      items: [{ sku: "S-1", quantity: 1, unitPriceCents: 5 }],
      totalCents: 5,
      currency: "EUR",
      authorizationId: "a-1",
    },
    attempts: 1,
  };
  assert.deepEqual(sanitizeContext(context), {
    order: { orderId: "o-1", totalCents: 5, currency: "EUR" },
    attempts: 1,
  });
  assert.equal(sanitizeContext(undefined), undefined);
  assert.deepEqual(
    sanitizeEvent({
      type: "xstate.done.actor.capturePayment",
      output: { outcome: "ok", status: 200, body: { authorization_id: "a-1" } },
      input: { order: context.order },
    }),
    { type: "xstate.done.actor.capturePayment", output: { outcome: "ok", status: 200 } },
  );
  assert.deepEqual(
    scrub({ reason: "authorization a-1 not found", list: ["S-1", "ok"], n: 3 }, ["a-1", "S-1"]),
    { reason: REDACTED, list: [REDACTED, "ok"], n: 3 },
  );
});
