// The adaptive concurrency limit: unit behaviour, then against a real slow
// HTTP service on loopback, where the calls it lets through must shrink.
import assert from "node:assert/strict";
import { AdaptiveLimit } from "../../src/services/adaptive_limit.ts";
import { createStepExecutor } from "../../src/engine/step_executor.ts";
import type { StepInput } from "../../machines/order_types.ts";
import { orderSaga } from "../../machines/order_definition.ts";
import type { StepCall } from "../../src/engine/saga_runner.ts";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

Deno.test("calls beyond the limit wait their turn, in order; an abort while waiting rejects", async () => {
  const limit = new AdaptiveLimit({ min: 1, max: 2 });
  const gates = [deferred(), deferred(), deferred()];
  const started: number[] = [];
  const calls = gates.map((g, i) =>
    limit.run(async () => {
      started.push(i);
      await g.promise;
      return i;
    }, () => "neutral")
  );
  await Promise.resolve();
  assert.deepEqual(started, [0, 1]);
  assert.equal(limit.queued, 1);
  const abort = new AbortController();
  const aborted = limit.run(() => Promise.resolve(9), () => "neutral", abort.signal);
  abort.abort(new Error("shutdown"));
  await assert.rejects(aborted, /shutdown/);
  gates[0]!.resolve();
  await calls[0];
  await Promise.resolve();
  assert.deepEqual(started, [0, 1, 2], "the waiting call got the freed slot");
  gates[1]!.resolve();
  gates[2]!.resolve();
  await Promise.all(calls);
  assert.equal(limit.inFlight, 0);
});

Deno.test("overload halves the limit once per round of calls; success adds about one per round", async () => {
  const limit = new AdaptiveLimit({ min: 2, max: 16 });
  // A round of 16 calls in flight together, all failing: one halving, not sixteen.
  await Promise.all(
    Array.from({ length: 16 }, () => limit.run(() => Promise.resolve(), () => "overload")),
  );
  assert.equal(limit.limit, 8);
  for (let round = 0; round < 10; round++) {
    await limit.run(() => Promise.resolve(), () => "overload");
  }
  assert.equal(limit.limit, 2, "never below min");
  for (let i = 0; i < 200; i++) await limit.run(() => Promise.resolve(), () => "ok");
  assert.ok(limit.limit > 10, `recovers with success: ${limit.limit}`);
  for (let i = 0; i < 2000; i++) await limit.run(() => Promise.resolve(), () => "ok");
  assert.equal(limit.limit, 16, "never above max");
});

Deno.test("against a service that stops answering in time, ever fewer calls are sent at once", async () => {
  let inService = 0;
  const admittedWhileSlow: number[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    inService++;
    admittedWhileSlow.push(inService);
    // Far slower than the client's timeout; the client gives up first.
    await new Promise((r) => setTimeout(r, 400));
    inService--;
    await req.body?.cancel();
    return Response.json({ order_id: "x", status: "created" }, { status: 201 });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    const execute = createStepExecutor({
      urls: { orders: url, inventory: url, payments: url },
      timeoutMs: 100,
      retry: { baseMs: 10, maxMs: 20 },
      concurrency: { min: 1, max: 16 },
    });
    const input = (i: number): StepCall => {
      const orderId = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
      const order = {
        orderId,
        customerId: "c",
        items: [{ sku: "A", quantity: 1, unitPriceCents: 1 }],
        totalCents: 1,
        currency: "USD",
        authorizationId: "a",
      };
      const step: StepInput = { step: "createOrder", order };
      return { orderId, version: orderSaga.current, step: "createOrder", input: step };
    };
    const signal = new AbortController().signal;
    const outs = await Promise.all(
      Array.from({ length: 48 }, (_, i) => execute(input(i), 0, signal)),
    );
    assert.ok(outs.every((o) => o.outcome === "transient"), "all timed out");
    const limit = execute.limits.orders!;
    // 16 at first, then 8, 4, 2, 1 …: the later calls met a much smaller window.
    assert.equal(Math.max(...admittedWhileSlow.slice(0, 16)), 16);
    assert.ok(limit.limit <= 2, `the limit fell to ${limit.limit}`);
    const peakLater = Math.max(...admittedWhileSlow.slice(32));
    console.log(
      `slow service: 48 timed-out calls; concurrency seen by the service at the start 16, ` +
        `for the last 16 calls at most ${peakLater} (limit now ${limit.limit.toFixed(2)})`,
    );
  } finally {
    await server.shutdown();
  }
});
