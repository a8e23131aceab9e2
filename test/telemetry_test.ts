// Traces from a real orchestrator process with Deno's built-in OpenTelemetry
// (OTEL_DENO=true) exported as OTLP/HTTP JSON to a receiver in this test: a
// span per claim cycle, per saga transition and per downstream call, linked
// into one trace, and the trace context propagated to the service as traceparent.
import assert from "node:assert/strict";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import { placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { withTransitionSpans } from "../src/telemetry.ts";
import type { TransitionInfo } from "../src/engine/saga_runner.ts";
import { freshDatabase, startOrchestratorProcess } from "../tooling/cluster/mod.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
}

/** A minimal OTLP/HTTP JSON receiver on loopback: keeps every span posted to /v1/traces. */
function otlpReceiver() {
  const spans: OtlpSpan[] = [];
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: resolve },
    async (req) => {
      const url = new URL(req.url);
      const body = await req.text();
      if (req.method === "POST" && url.pathname === "/v1/traces") {
        const data = JSON.parse(body);
        for (const rs of data.resourceSpans ?? []) {
          for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
        }
      }
      return Response.json({});
    },
  );
  return {
    spans,
    url: listening.then((a) => `http://127.0.0.1:${a.port}`),
    close: () => server.shutdown(),
  };
}

/** A pass-through proxy that records the traceparent header of each request. */
function traceparentProxy(target: string) {
  const seen: Array<{ path: string; traceparent: string | null }> = [];
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: resolve },
    async (req) => {
      const url = new URL(req.url);
      seen.push({ path: url.pathname, traceparent: req.headers.get("traceparent") });
      const headers = new Headers(req.headers);
      headers.delete("host");
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.text();
      const res = await fetch(target + url.pathname + url.search, {
        method: req.method,
        headers,
        body,
      });
      return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
    },
  );
  return {
    seen,
    url: listening.then((a) => `http://127.0.0.1:${a.port}`),
    close: () => server.shutdown(),
  };
}

function attr(span: OtlpSpan, key: string): unknown {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
}

Deno.test("OTEL_DENO exports claim-cycle, transition and downstream-call spans in one trace", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const receiver = otlpReceiver();
  const proxy = traceparentProxy(sandbox.urls.payments);
  const p = startOrchestratorProcess({
    DATABASE_URL: db.url,
    ...sandbox.env,
    PAYMENTS_SERVICE_URL: await proxy.url,
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: await receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_SERVICE_NAME: "orchestrator-test",
    OTEL_BSP_SCHEDULE_DELAY: "200",
  });
  try {
    await p.waitForLog((l) => l.msg === "Subscribed to order_events channel");
    const order = sampleOrder();
    await placeOrder(db.sql, order);
    await waitForStatus(db.sql, order.order_id, ["COMPLETED"]);
    await waitFor(
      () => receiver.spans.some((s) => s.name === "saga.transition confirmOrder:ok"),
      { timeoutMs: 20_000, what: "the last transition span to be exported" },
    );
    const spans = receiver.spans;
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const named = (name: string) => {
      const found = spans.find((s) => s.name === name);
      assert.ok(found, `a span named "${name}" among: ${spans.map((s) => s.name).join(", ")}`);
      return found;
    };

    // The downstream call: a client span of its own, under a claim-cycle span.
    const capture = named("HTTP POST capturePayment");
    assert.equal(capture.kind, 3, "SPAN_KIND_CLIENT");
    assert.equal(attr(capture, "saga.order_id"), order.order_id);
    assert.equal(attr(capture, "saga.step"), "capturePayment");
    const cycle = byId.get(capture.parentSpanId ?? "");
    assert.equal(cycle?.name, "orchestrator.claim_cycle");
    assert.equal(cycle?.traceId, capture.traceId);
    assert.ok(!cycle?.parentSpanId, "a claim cycle is a root span");

    // Every transition, with its attributes, in the same trace.
    for (const step of ["createOrder", "reserveInventory", "capturePayment", "confirmOrder"]) {
      const t = named(`saga.transition ${step}:ok`);
      assert.equal(t.traceId, cycle.traceId, step);
      assert.equal(t.parentSpanId, cycle.spanId, step);
      assert.equal(attr(t, "saga.order_id"), order.order_id);
      assert.equal(attr(t, "saga.machine_version"), "order-saga@1");
    }
    const captured = named("saga.transition capturePayment:ok");
    assert.equal(attr(captured, "saga.from"), "capturingPayment.calling");
    assert.equal(attr(captured, "saga.to"), "confirmingOrder.calling");

    // The service received a traceparent naming the call span (or Deno's
    // fetch span under it), so its own spans join this trace.
    const received = proxy.seen.find((r) => r.path.startsWith("/payments/capture/"));
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(received?.traceparent ?? "");
    assert.ok(m, `a valid traceparent, got ${received?.traceparent}`);
    assert.equal(m[1], capture.traceId);
    const sender = byId.get(m[2]!);
    assert.ok(
      m[2] === capture.spanId || sender?.parentSpanId === capture.spanId,
      "traceparent names the call span or its child",
    );
  } finally {
    p.kill("SIGTERM");
    await p.status;
    await proxy.close();
    await receiver.close();
    await sandbox.close();
    await db.drop();
  }
});

Deno.test("withTransitionSpans() keeps every hook and still calls the caller's onTransition", () => {
  const seen: string[] = [];
  const hooks = withTransitionSpans({
    onStarted: (n: number) => seen.push(`started ${n}`),
    onTransition: (info: TransitionInfo) => seen.push(`transition ${info.name}`),
  });
  hooks.onStarted?.(2);
  hooks.onTransition?.({
    orderId: crypto.randomUUID(),
    machineVersion: "order-saga@1",
    name: "createOrder:ok",
    event: { type: "xstate.done.actor.createOrder" },
    from: "creatingOrder.calling",
    to: "reservingInventory.calling",
    snapshot: {},
  });
  assert.deepEqual(seen, ["started 2", "transition createOrder:ok"]);
  // No hooks at all: still a valid object with a tracing onTransition.
  assert.equal(typeof withTransitionSpans(undefined).onTransition, "function");
});
