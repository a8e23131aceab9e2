import assert from "node:assert/strict";
import {
  type Attributes,
  type AttributeValue,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from "@opentelemetry/api";
import { Hono } from "hono";
import { callStep } from "../../src/services/mod.ts";
import { options, ORDER, orderCall, serve } from "./helpers.ts";

interface Recorded {
  name: string;
  kind: SpanKind | undefined;
  attributes: Attributes;
  status?: SpanStatus;
  context: SpanContext;
  ended: boolean;
}

/** Just enough of an SDK to hand out valid span contexts and remember what was set. */
function recordingTracer(recorded: Recorded[]): Tracer {
  let nextSpan = 1;
  const startSpan = (name: string, opts: SpanOptions = {}): Span => {
    const record: Recorded = {
      name,
      kind: opts.kind,
      attributes: { ...opts.attributes },
      context: {
        traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        spanId: (nextSpan++).toString(16).padStart(16, "0"),
        traceFlags: TraceFlags.SAMPLED,
      },
      ended: false,
    };
    recorded.push(record);
    const span: Span = {
      spanContext: () => record.context,
      setAttribute: (key: string, value: AttributeValue) => {
        record.attributes[key] = value;
        return span;
      },
      setAttributes: (attributes: Attributes) => {
        Object.assign(record.attributes, attributes);
        return span;
      },
      setStatus: (status: SpanStatus) => {
        record.status = status;
        return span;
      },
      addEvent: () => span,
      addLink: () => span,
      addLinks: () => span,
      updateName: () => span,
      end: () => {
        record.ended = true;
      },
      isRecording: () => !record.ended,
      recordException: () => {},
    };
    return span;
  };
  return {
    startSpan,
    startActiveSpan: () => {
      throw new Error("not used by callStep");
    },
  };
}

Deno.test("callStep() opens a client span per call and propagates it as traceparent", async () => {
  const recorded: Recorded[] = [];
  assert.ok(trace.setGlobalTracerProvider({ getTracer: () => recordingTracer(recorded) }));
  const traceparents: (string | null)[] = [];
  const app = new Hono().all("*", (c) => {
    traceparents.push(c.req.header("traceparent") ?? null);
    return c.json({ error: "payment_declined" }, 402);
  });
  const server = serve(app);
  try {
    await callStep(orderCall({ step: "capturePayment", order: ORDER }), options(server.urls));
    const [span] = recorded;
    assert.ok(span);
    assert.equal(span.name, "HTTP POST capturePayment");
    assert.equal(span.kind, SpanKind.CLIENT);
    assert.deepEqual(span.attributes, {
      "http.request.method": "POST",
      "url.full": `${server.urls.payments}/payments/capture/auth%209%2Fx`,
      "http.response.status_code": 402,
      "saga.step": "capturePayment",
      "saga.order_id": ORDER.orderId,
      "error.type": "402",
    });
    assert.deepEqual(span.status, { code: SpanStatusCode.ERROR, message: "payment_declined" });
    assert.equal(span.ended, true);
    assert.deepEqual(traceparents, [
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${span.context.spanId}-01`,
    ]);
  } finally {
    trace.disable();
    await server.shutdown();
  }
});

Deno.test("callStep() ends its span without an error status when the step succeeds", async () => {
  const recorded: Recorded[] = [];
  assert.ok(trace.setGlobalTracerProvider({ getTracer: () => recordingTracer(recorded) }));
  const server = serve(new Hono().all("*", (c) => c.body(null, 204)));
  try {
    await callStep(orderCall({ step: "releaseReservation", order: ORDER }), options(server.urls));
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0]?.name, "HTTP DELETE releaseReservation");
    assert.equal(recorded[0]?.status, undefined);
    assert.equal(recorded[0]?.ended, true);
  } finally {
    trace.disable();
    await server.shutdown();
  }
});

Deno.test("callStep() ends its span even when the caller aborts", async () => {
  const recorded: Recorded[] = [];
  assert.ok(trace.setGlobalTracerProvider({ getTracer: () => recordingTracer(recorded) }));
  const controller = new AbortController();
  const server = serve(new Hono().all("*", (c) => {
    controller.abort();
    return c.json({});
  }));
  try {
    await assert.rejects(
      callStep(
        orderCall({ step: "createOrder", order: ORDER }),
        options(server.urls, { signal: controller.signal }),
      ),
    );
    assert.equal(recorded[0]?.ended, true);
    assert.equal(recorded[0]?.status?.code, SpanStatusCode.ERROR);
  } finally {
    trace.disable();
    await server.shutdown();
  }
});
